"""`snnx train` into a folder that holds a run: refused unless --resume or --overwrite; a
failed train leaves the earlier run byte for byte as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from snnx.cli import main

SMALL = ["--set", "train.epochs=1", "--set", "model.hidden=[8]", "--set", "data.train_subset=64",
         "--set", "data.test_subset=32"]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnx: error: "), err
    return err[0]


def test_train_into_existing_run(tmp_path: Path, synthetic_mnist: Path, capsys: pytest.CaptureFixture) -> None:
    run, data = tmp_path / "run", ["--data-dir", str(synthetic_mnist)]
    assert main(["train", "-o", str(run), *data, *SMALL]) == 0
    assert main(["export", str(run)]) == 0
    (run / "notes.txt").write_text("mine")
    capsys.readouterr()
    before = _digest(run)
    # a second training without a word: refused, nothing touched
    assert main(["train", "-o", str(run), *data, *SMALL, "--set", "model.hidden=[16]"]) == 2
    assert "already holds a run" in _one_line(capsys) and _digest(run) == before
    # a failing train, even with --overwrite, leaves the run as it was (config.yaml included)
    for bad in (["--set", "data.latency_tau=0"], ["--set", "data.encoding=latency", "--set", "data.latency_tau=-1"],
                ["--overwrite", "--set", "data.latency_tau=0"], ["--overwrite", "--set", "train.device=cuda:7"]):
        assert main(["train", "-o", str(run), *data, *SMALL, *bad]) == 2, bad
        _one_line(capsys)
        assert _digest(run) == before, bad
    assert main(["train", "-o", str(run), "--resume", "--overwrite"]) == 2
    assert "contradict" in _one_line(capsys)
    # --overwrite: the old model.net and checkpoints go, the user's own file stays
    assert main(["train", "-o", str(run), *data, *SMALL, "--set", "model.hidden=[16]", "--overwrite"]) == 0
    left = set(_digest(run))
    assert "model.net" not in left and "quant.json" not in left and "notes.txt" in left
    assert {"config.yaml", "checkpoint.json", "checkpoint.safetensors", "last.json", "metrics.csv"} <= left
    assert "- 16" in (run / "config.yaml").read_text()


def test_train_into_a_file_or_empty_folder(tmp_path: Path, synthetic_mnist: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["train", "-o", str(tmp_path / "file"), "--data-dir", str(synthetic_mnist), *SMALL]) == 2
    assert "is a file" in _one_line(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["train", "-o", str(tmp_path / "empty"), "--data-dir", str(synthetic_mnist), *SMALL]) == 0
