"""`snnx run` end to end on a slice of real MNIST: every artifact of the run folder, one table."""

from pathlib import Path

import pytest

from snnx.cli import main
from snnx.io import read_json

SMALL = ["--set", "data.train_subset=3000", "--set", "data.test_subset=300", "--set", "train.epochs=2",
         "--set", "sim.samples=300"]


def test_run_produces_every_artifact(mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["run", "-o", str(run), "--data-dir", str(mnist_dir), *SMALL]) == 0
    out = capsys.readouterr().out
    for name in ("config.yaml", "checkpoint.json", "metrics.csv", "model.nir", "model.net", "quant.json", "sim.json",
                 "deploy/loihi2/manifest.json", "deploy/loihi2/energy.json", "deploy/loihi2/core_map.json",
                 "report.html", "summary.json"):
        assert (run / name).exists(), name
    sim = read_json(run / "sim.json")
    assert sim["samples"] == 300 and sim["float_accuracy"] > 0.8
    assert abs(sim["fixed_accuracy"] - sim["float_accuracy"]) <= 0.02 and sim["agreement"] > 0.97
    assert "fixed-point accuracy" in out and "energy per inference" in out
    summary = read_json(run / "summary.json")
    assert summary["fixed_accuracy"] == sim["fixed_accuracy"]
    assert set(summary["seconds"]) == {"train", "export", "sim", "deploy", "report"}


def test_latency_coding_end_to_end(mnist_dir: Path, tmp_path: Path) -> None:
    """Temporal (first-spike) input through every stage: the deployed net keeps the float accuracy."""
    run = tmp_path / "lat"
    assert main(["run", "-o", str(run), "--data-dir", str(mnist_dir), *SMALL, "--set", "data.encoding=latency",
                 "--set", "train.epochs=3", "--set", "train.lr=1e-2"]) == 0
    sim = read_json(run / "sim.json")
    assert sim["encoding"] == "latency" and sim["float_accuracy"] > 0.75  # chance is 0.1
    assert sim["agreement"] > 0.97
    manifest = read_json(run / "deploy" / "loihi2" / "manifest.json")
    assert manifest["input"]["encoding"] == "latency"
