"""The defaults are the flagship (issue 15): `snnx run` with no options is the network that beats
Loihi's published MNIST point. Every other test pins its own recipe (conftest.RUN_OVERRIDES), so
this is where the defaults themselves are trained, deployed and priced, on real MNIST."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import snnx
from snnx.config import resolve


def test_defaults_are_the_chip_priced_direct_code() -> None:
    cfg = resolve(None, [])
    assert (cfg.data.encoding, cfg.data.timesteps, cfg.model.hidden) == ("direct", 4, [300])
    assert cfg.train.energy_weight > 0 and cfg.train.qat and cfg.deploy.energy_profile == "loihi1-davies2018"


def test_default_run_deploys_on_real_mnist(tmp_path: Path, mnist_dir: Path) -> None:
    """One short epoch of the defaults (3,000 images) goes through every stage: graded 8-bit input
    for 4 steps in model.net, deployed fixed point above 75 % on 1,000 test images, priced.
    (The full run's figures, 97.5 % at about 2 uJ, are README's, from `snnx run` itself.)"""
    run = tmp_path / "default"
    with contextlib.redirect_stdout(io.StringIO()):
        snnx.train(run, overrides=["data.train_subset=3000", "data.test_subset=1000", "train.epochs=1"],
                   data_dir=mnist_dir)
        snnx.export(run)
        sim = snnx.simulate(run, data_dir=mnist_dir, samples=1000)
        bundle = snnx.deploy(run)
    net = snnx.RunFolder(run).load_net()
    assert (net.input.encoding, net.input.timesteps, net.synapse_layers[0].shape) == ("direct", 4, (300,))
    assert sim.fixed_accuracy >= 0.75 and sim.agreement >= 0.9, sim
    assert 0 < bundle.energy["energy_per_inference_uJ"] < 10
