"""`snnx compare`: the ANN twin is trained and measured; its numbers follow from its layers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snnx.cli import main
from snnx.deploy.energy import ANN_45NM
from snnx.io import read_json


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, synthetic_run: Path,
             synthetic_data: Path) -> tuple[Path, Path]:
    """A deployed copy of the session's synthetic run (784-32-10)."""
    run = tmp_path_factory.mktemp("run") / "r"
    shutil.copytree(synthetic_run, run)
    assert main(["deploy", str(run), "--data-dir", str(synthetic_data)]) == 0
    return run, synthetic_data


def test_compare_trains_the_ann_twin_and_reports_both_sides(deployed, capsys: pytest.CaptureFixture) -> None:
    run, data = deployed
    assert main(["compare", str(run), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    r = read_json(run / "compare.json")
    snn, ann = r["snn"], r["ann"]
    macs = 784 * 32 + 32 * 10
    assert ann["macs_per_inference"] == macs
    assert ann["energy_fp32_uJ"] == pytest.approx(macs * ANN_45NM["fp32"]["mac_pJ"] * 1e-6)
    assert ann["energy_int8_uJ"] == pytest.approx(macs * ANN_45NM["int8"]["mac_pJ"] * 1e-6)
    assert ann["parameters"] == snn["parameters"] == macs + 32 + 10  # same layers, same biases
    assert ann["accuracy"] > 0.5  # the synthetic classes are easy: a trained ANN separates them
    energy = read_json(run / "deploy" / "loihi2" / "energy.json")
    assert snn["synops_per_inference"] == energy["synops_per_inference"]
    assert snn["fixed_accuracy"] == read_json(run / "sim.json")["fixed_accuracy"]
    assert snn["test_images"] == read_json(run / "sim.json")["samples"] and ann["test_images"] > 0
    assert 0.0 < snn["sparsity"] < 1.0 and 0.0 <= ann["sparsity"] < 1.0
    assert "MACs" in out and "synops" in out


def test_compare_without_a_deployed_run_is_a_one_line_error(deployed, tmp_path: Path, capsys) -> None:
    run, data = deployed
    half = tmp_path / "half"
    half.mkdir()
    for name in ("checkpoint.json", "checkpoint.safetensors", "sim.json", "config.yaml"):
        (half / name).write_bytes((run / name).read_bytes())
    assert main(["compare", str(half), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "snnx deploy" in err[0]
    assert not (half / "compare.json").exists()
