"""Pixel-pair sequences (data.encoding: pairs): MNIST as 392 steps of 2 binary pixels, through
export and simulation of a recurrent net (netx metadata, the sim stage's encoding, Lava = fast)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from snnx.config import RunConfig
from snnx.data.encoders import encode, encoded_shape
from snnx.errors import SnnxError


def test_pairs_config_and_encoding() -> None:
    """Step t carries pixels 2t and 2t+1 in reading order (per channel), one spike above one half."""
    cfg = RunConfig.from_dict({"data": {"encoding": "pairs"}})
    assert cfg.data.timesteps == 392
    with pytest.raises(SnnxError, match="data.timesteps must be 392"):
        RunConfig.from_dict({"data": {"encoding": "pairs", "timesteps": 28}})
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 2, 28, 28, generator=g)
    x = encode(img, "pairs", 392)
    assert x.shape == (392, 3, 4) and encoded_shape("pairs", (2, 28, 28)) == (4,)
    flat = (img > 0.5).float().reshape(3, 2, 784)
    for t in (0, 13, 391):
        for c in range(2):
            assert torch.equal(x[t, :, 2 * c: 2 * c + 2], flat[:, c, 2 * t: 2 * t + 2])
    one = torch.zeros(1, 1, 28, 28)
    one[0, 0, 10, 5] = 0.9  # pixel 285 = step 142, second input
    assert torch.nonzero(encode(one, "pairs", 392)).tolist() == [[142, 0, 1]]
    with pytest.raises(SnnxError, match="two pixels per step"):
        encode(img, "pairs", 28)  # e.g. `snnx export RUN --timesteps 28` on a pairs run


@pytest.mark.lava
def test_pairs_recurrent_run_exports_and_simulates(nets, synthetic_mnist, tmp_path) -> None:
    """A recurrent 2-16(dense_rec)-10 net on pixel pairs: model.net says pairs / 392 steps and
    `snnx sim --backend both` encodes the test images so, Lava and the fast engine identical."""
    import h5py

    from snnx.cli import main
    from snnx.loihi.netx import read_netx
    from snnx.train.models import build_model, spec_from_config

    cfg = RunConfig.from_dict({"data": {"encoding": "pairs"}, "model": {"recurrent": True, "hidden": [16]}})
    torch.manual_seed(0)
    model = build_model(spec_from_config(cfg.model, (2,), 10, qat=True))
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(3.0)
    run = nets.save(tmp_path / "run", cfg, model.eval())
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", str(run)]) == 0
        assert main(["sim", str(run), "--backend", "both", "--samples", "2", "--data-dir", str(synthetic_mnist)]) == 0
    net = read_netx(run / "model.net")
    assert (net.input.encoding, net.input.timesteps, tuple(net.input.shape)) == ("pairs", 392, (2,))
    with h5py.File(run / "model.net") as f:
        assert f["layer/1/type"][0] == b"dense_rec"
    sim = json.loads((run / "sim.json").read_text())
    assert sim["lava_fast_identical"] is True and (sim["encoding"], sim["timesteps"]) == ("pairs", 392)
    assert sim["spikes_per_sample"][0]["fixed"] > 1 and np.isfinite(sim["agreement"])
