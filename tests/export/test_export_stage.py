"""``snnx export RUN``: files, netx/Lava loading, read-back equality, and the one-line errors."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch

from snnx.cli import main
from snnx.export.stage import export_command
from snnx.loihi.net import LoihiNet
from snnx.loihi.netx import read_netx
from snnx.sim.lava_build import build_lava_network
from snnx.train.checkpoint import Checkpoint


def _assert_same(a: LoihiNet, b: LoihiNet) -> None:
    assert a.input == b.input and a.dt == b.dt and a.source == b.source
    assert [(x.kind, x.shape, x.name) for x in a.layers] == [(y.kind, y.shape, y.name) for y in b.layers]
    for x, y in zip(a.layers, b.layers, strict=True):
        if x.kind == "flatten":
            continue
        assert np.array_equal(x.weight, y.weight) and x.weight.dtype.kind == "i"
        assert (x.bias is None and y.bias is None) or np.array_equal(x.bias, y.bias)
        assert (x.du, x.dv, x.vth, x.scale, x.stride, x.padding) == (y.du, y.dv, y.vth, y.scale, y.stride, y.padding)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_export_writes_nir_netx_and_quant_json(make_run, kind, capsys):
    run = make_run(kind=kind, alpha=0.5 if kind == "conv" else 0.0)
    net = export_command(run, "loihi", None, None, None, None, None)
    assert net.synapse_layers[0].name in capsys.readouterr().out  # the per-layer table
    # the netx file reads back into the same LoihiNet, array for array
    _assert_same(net, read_netx(run / "model.net"))
    # the QAT integers are the checkpoint's own: weights = round(W_q * k) exactly
    model = Checkpoint.load(run / "checkpoint.pt").build_model()
    for q, layer in zip(net.synapse_layers, model.layers, strict=True):
        p = layer.params()
        w = p.weight.detach().double().numpy() * q.scale
        assert np.abs(w - q.weight).max() < 1e-3
        assert q.vth == round(float(p.threshold) * q.scale)
    assert [x.kind for x in net.layers] == (["flatten", "dense", "dense"] if kind == "fc"
                                            else ["conv", "conv", "flatten", "dense", "dense"])
    assert isinstance(nir.read(run / "model.nir"), nir.NIRGraph)
    quant = json.loads((run / "quant.json").read_text())
    keys = {"scale", "weight_exp", "clipped", "max_weight_error", "rms_weight_error", "du", "dv", "vth",
            "bias_min", "bias_max"}
    assert all(keys <= set(q) for q in quant["layers"]) and len(quant["layers"]) == net.num_synapse_layers
    assert all(q["clipped"] == 0 and q["max_weight_error"] * q["scale"] < 1e-3 for q in quant["layers"])  # lossless


@pytest.mark.lava
def test_lava_netx_builds_the_exported_conv_net(make_run):
    run = make_run(kind="conv")
    net = export_command(run, "loihi", None, None, None, None, None)
    lava = build_lava_network(run / "model.net")
    assert len(lava.layers) == net.num_synapse_layers
    c, h, w = net.layers[0].shape
    assert lava.layers[0].shape == (w, h, c) and lava.layers[-1].shape == (10,)
    assert int(lava.layers[0].neuron.vth.init) == net.layers[0].vth
    from lava.lib.dl.netx.hdf5 import Network

    Network(net_config=str(run / "model.net"))  # netx itself (no zero layer here)


def test_export_then_sim_agrees_for_bias_free_fc(nets, make_run, tmp_path):
    """model.net runs in the fast simulator with the float model's spikes (no biases: same time convention)."""
    from snnx.sim.fast import simulate

    config = nets.config("fc", 0.0, bias=False)
    model = nets.model(config, seed=3)
    run = nets.save(tmp_path / "nb", config, model)
    export_command(run, "loihi", None, None, None, None, None)
    x = (torch.rand(20, 50, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    with torch.no_grad():
        want = model(x).counts.numpy()
    got = simulate(read_netx(run / "model.net"), x.permute(1, 0, 2, 3, 4).numpy() > 0).counts
    assert want.sum() > 0 and np.mean((want == got).all(1)) >= 0.95


def test_percentile_option_changes_the_scale(make_run):
    run = make_run(seed=1)
    a = export_command(run, "loihi", None, None, None, None, None)
    b = export_command(run, "loihi", None, None, None, 99.0, None)
    assert all(y.scale > x.scale for x, y in zip(a.synapse_layers, b.synapse_layers, strict=True))
    assert json.loads((run / "quant.json").read_text())["scale_rule"] == "percentile"


def _cli_error(capsys, *argv) -> str:
    assert main(["export", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("snnx: error:")
    return err


def test_missing_checkpoint_says_train_first(tmp_path, capsys):
    err = _cli_error(capsys, tmp_path / "nothing")
    assert "checkpoint.pt not found" in err and "snnx train" in err
    assert not (tmp_path / "nothing" / "model.net").exists()


def test_checkpoint_of_another_model_is_refused(nets, make_run, capsys):
    run = make_run()
    nets.config("conv").save(run / "config.yaml")
    assert "another model" in _cli_error(capsys, run)
    # a checkpoint whose weights do not fit its own spec
    ck = Checkpoint.load(run / "checkpoint.pt")
    ck.state_dict["layers.0.synapse.weight"] = torch.zeros(3, 3)
    ck.save(run / "checkpoint.pt")
    ck.config.save(run / "config.yaml")
    assert "does not match this model architecture" in _cli_error(capsys, run)
    assert not list(run.glob("model.*")) and not list(run.glob(".*tmp"))


def test_overflow_is_an_error_and_keeps_the_previous_export(make_run, capsys):
    run = make_run(qat=False)
    assert main(["export", str(run)]) == 0
    before = {p: (run / p).read_bytes() for p in ("model.nir", "model.net", "quant.json")}
    ck = Checkpoint.load(run / "checkpoint.pt")
    ck.state_dict["layers.1.synapse.bias"][3] = 50.0  # 50 x scale >> 4095 (no QAT to clamp it)
    ck.save(run / "checkpoint.pt")
    err = _cli_error(capsys, run)
    assert "layer fc2: bias" in err and "[-4096, 4095]" in err
    assert {p: (run / p).read_bytes() for p in before} == before  # earlier results untouched
    assert not list(run.glob(".*tmp"))


def test_unsupported_model_is_refused(make_run, capsys):
    run = make_run(kind="residual", hidden=[32, 32, 32], skip=2)
    assert "two layers" in _cli_error(capsys, run)
    assert _cli_error(capsys)  # neither a run nor --from-nir
