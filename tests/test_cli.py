"""Every command, bad inputs: one line on stderr, exit code 2, earlier results untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from snnx.cli import main


@pytest.fixture()
def data_dir(synthetic_data: Path) -> Path:
    return synthetic_data


@pytest.fixture()
def run(synthetic_run: Path) -> Path:
    """A small, complete run folder (train + export + sim) on synthetic data; tests copy it."""
    return synthetic_run


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _fails(args: list[str], capsys: pytest.CaptureFixture, *words: str) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, args
    assert len(err) == 1 and err[0].startswith("snnx: error:"), err
    for w in words:
        assert w in err[0], (w, err[0])
    return err[0]


def test_missing_run_folder_for_every_stage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = str(tmp_path / "nope")
    _fails(["export", missing], capsys, "snnx train")
    _fails(["sim", missing], capsys, "snnx export")
    _fails(["deploy", missing], capsys, "snnx export")
    _fails(["report", missing], capsys)
    _fails(["predict", missing, "--image", str(tmp_path / "x.png")], capsys)
    _fails(["compare", missing], capsys)


def test_wrong_stage_order(tmp_path: Path, run: Path, capsys: pytest.CaptureFixture) -> None:
    only_checkpoint = tmp_path / "half"
    only_checkpoint.mkdir()
    (only_checkpoint / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes())
    _fails(["sim", str(only_checkpoint)], capsys, "snnx export")
    _fails(["deploy", str(only_checkpoint)], capsys, "snnx export")


def test_bad_config_for_train_and_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {kind: transformer}\n")
    _fails(["train", "-c", str(bad), "-o", str(tmp_path / "t")], capsys, "model.kind")
    _fails(["run", "-c", str(bad), "-o", str(tmp_path / "t")], capsys, "model.kind")
    _fails(["run", "--set", "train.batch_size=0", "-o", str(tmp_path / "t")], capsys, "batch_size")
    assert not (tmp_path / "t").exists()


def test_corrupt_files_leave_earlier_results_untouched(run: Path, tmp_path: Path, data_dir: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    (copy / "checkpoint.pt").write_bytes(b"garbage")
    before = _digest(copy)
    _fails(["export", str(copy)], capsys, "checkpoint")
    assert _digest(copy) == before  # model.net, model.nir, quant.json of the earlier export kept

    (copy / "model.net").write_bytes(b"not hdf5")
    before = _digest(copy)
    _fails(["sim", str(copy), "--data-dir", str(data_dir)], capsys, "model.net")
    _fails(["deploy", str(copy)], capsys, "model.net")
    assert _digest(copy) == before


def test_out_of_range_and_bad_images(run: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    _fails(["sim", str(run), "--samples", "0", "--data-dir", str(data_dir)], capsys, "samples")
    _fails(["sim", str(run), "--samples", "100000", "--data-dir", str(data_dir)], capsys, "samples")
    (tmp_path / "x.png").write_bytes(b"not an image")
    _fails(["predict", str(run), "--image", str(tmp_path / "x.png")], capsys)
    _fails(["predict", str(run), "--image", str(tmp_path / "missing.png")], capsys)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from snnx.errors import SnnxError

    with pytest.raises(SnnxError):
        main(["--debug", "sim", str(tmp_path / "nope")])
