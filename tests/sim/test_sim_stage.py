"""``snnx sim``: sim.json, saved spikes, --input/--samples, foreign model.net, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.loihi.netx import write_netx
from snnx.sim.fast import simulate
from snnx.sim.randnet import random_dense_net, random_inputs
from snnx.sim.result import SimResult
from snnx.sim.stage import sim_command


@pytest.fixture()
def foreign_run(tmp_path: Path):
    """A folder holding only a model.net (as if written by another tool) and a spike file."""
    rng = np.random.default_rng(11)
    net = random_dense_net(rng, [30, 16, 5], extreme=False)
    # spiking enough to make the comparison meaningful
    net = replace(net, layers=[replace(layer, vth=60) for layer in net.layers])
    run = tmp_path / "run"
    write_netx(net, run / "model.net")
    x = random_inputs(rng, net, 12, 6, rate=0.4)
    np.save(tmp_path / "spikes.npy", x)
    return run, net, x, tmp_path / "spikes.npy"


def test_model_net_only_with_input_file(foreign_run, capsys):
    run, net, x, spikes = foreign_run
    out = run.parent / "out.npz"
    result = sim_command(run, "fast", None, spikes, out, None)
    saved = json.loads((run / "sim.json").read_text())
    assert SimResult.load(run / "sim.json") == result
    for key in (
        "backend",
        "samples",
        "float_accuracy",
        "fixed_accuracy",
        "agreement",
        "spikes_per_sample",
        "seconds",
        "backend_seconds",
        "layers",
        "timesteps",
        "steps",
        "encoding",
        "dataset",
    ):
        assert key in saved
    assert saved["samples"] == 12 and saved["steps"] == 6 + 2 and saved["float_accuracy"] is None
    assert [layer["name"] for layer in saved["layers"]] == ["dense1", "dense2"]
    want = simulate(net, x)
    with np.load(out) as f:
        assert sorted(f.files) == ["layer_1", "layer_2"]
        for i in range(2):
            assert np.array_equal(f[f"layer_{i + 1}"], want.spikes[i])
    fixed = [entry["fixed"] for entry in saved["spikes_per_sample"]]
    assert fixed == pytest.approx([s.sum() / 12 for s in want.spikes])
    assert "fixed point" in capsys.readouterr().out


def test_samples_takes_the_first_n(foreign_run):
    run, net, x, spikes = foreign_run
    result = sim_command(run, "fast", 5, spikes, run / "s.npz", None)
    assert result.samples == 5
    with np.load(run / "s.npz") as f:
        assert np.array_equal(f["layer_2"], simulate(net, x[:5]).spikes[1])


@pytest.mark.lava
def test_both_backends_identical(foreign_run):
    run, net, x, spikes = foreign_run
    result = sim_command(run, "both", 6, spikes, None, None)
    assert result.lava_fast_identical is True and result.first_difference is None
    assert set(result.backend_seconds_by) == {"fast", "lava"}


def test_errors_leave_nothing_written(foreign_run, tmp_path):
    run, net, x, spikes = foreign_run
    with pytest.raises(SnnxError, match="snnx export"):
        sim_command(tmp_path / "empty", "fast", None, spikes, None, None)
    with pytest.raises(SnnxError, match="more than the 12"):
        sim_command(run, "fast", 13, spikes, None, None)
    with pytest.raises(SnnxError, match="at least 1"):
        sim_command(run, "fast", 0, spikes, None, None)
    np.save(tmp_path / "bad.npy", x[:, :, :7])
    with pytest.raises(SnnxError, match="expected"):
        sim_command(run, "fast", None, tmp_path / "bad.npy", None, None)
    with pytest.raises(SnnxError, match="--input"):  # no config, a model.net without an encoding
        net = replace(net, input=replace(net.input, encoding="spikes"))
        write_netx(net, run / "model.net")
        sim_command(run, "fast", None, None, None, None)
    assert not (run / "sim.json").exists()
    assert sorted(p.name for p in run.iterdir()) == ["model.net"]


def test_trained_run_float_vs_fixed(tiny_run, mnist_dir):
    """A briefly trained, exported MNIST net: fixed point agrees with float on real images."""
    run = tiny_run
    result = sim_command(run, "fast", 300, None, None, mnist_dir)
    assert result.samples == 300 and result.dataset == "mnist"
    # one short epoch: ~80 %; the two models must agree on nearly every image
    assert result.fixed_accuracy > 0.7 and result.float_accuracy > 0.7
    assert result.agreement > 0.95
    assert abs(result.fixed_accuracy - result.float_accuracy) < 0.03
    assert len(result.layers) == 2 and result.layers[0]["synops"] > 0


@pytest.mark.lava
def test_trained_run_lava_equals_fast(tiny_run, mnist_dir):
    """On a real trained and exported network, Lava and the fast simulator spike identically."""
    run = tiny_run
    result = sim_command(run, "both", 40, None, None, mnist_dir)
    assert result.lava_fast_identical is True
    assert result.layers[0]["spikes"] > 0


def test_labels_give_an_accuracy_for_a_users_spikes(foreign_run, capsys):
    """--input with --labels on a folder holding only a foreign model.net: accuracy of the fixed-point run."""
    run, net, x, spikes = foreign_run
    pred = simulate(net, x).predictions
    labels = pred.copy()
    labels[::2] = (pred[::2] + 1) % 5  # every other sample wrong: 50 % exactly
    np.save(run.parent / "labels.npy", labels)
    result = sim_command(run, "fast", None, spikes, None, None, run.parent / "labels.npy")
    assert result.fixed_accuracy == 0.5 and result.float_accuracy is None and result.agreement is None
    assert SimResult.load(run / "sim.json").fixed_accuracy == 0.5
    assert "50.00 %" in capsys.readouterr().out
    first = sim_command(run, "fast", 4, spikes, None, None, run.parent / "labels.npy")  # --samples 4
    assert first.fixed_accuracy == float(np.mean(pred[:4] == labels[:4]))
    np.save(run.parent / "right.npy", pred.astype(np.float32))  # integer-valued floats are classes too
    assert sim_command(run, "fast", None, spikes, None, None, run.parent / "right.npy").fixed_accuracy == 1.0


def test_bad_labels_are_one_line_errors_and_write_nothing(foreign_run, capsys):
    from snnx.cli import main

    run, net, x, spikes = foreign_run
    folder = run.parent
    bad = {
        "short.npy": (np.zeros(11, int), "has 11 labels but --input"),
        "long.npy": (np.zeros(13, int), "has 13 labels but --input"),
        "matrix.npy": (np.zeros((12, 5), int), "1-D array of integer classes"),
        "fraction.npy": (np.full(12, 0.5), "1-D array of integer classes"),
        "class.npy": (np.full(12, 5), "holds class 5, but model.net has 5 output neurons"),
        "negative.npy": (np.full(12, -1), "holds class -1"),
    }
    for name, (labels, message) in bad.items():
        np.save(folder / name, labels)
        assert main(["sim", str(run), "--input", str(spikes), "--labels", str(folder / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("snnx: error: --labels") and message in err, err
    (folder / "text.npy").write_text("0 1 2")
    assert main(["sim", str(run), "--input", str(spikes), "--labels", str(folder / "text.npy")]) == 2
    assert "is not a .npy array" in capsys.readouterr().err
    assert main(["sim", str(run), "--input", str(spikes), "--labels", str(folder / "none.npy")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["sim", str(run), "--labels", str(folder / "short.npy")]) == 2
    assert "--labels goes with --input" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == ["model.net"]
