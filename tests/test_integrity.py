"""A run folder that knows its own consistency: one-step commits, stale temp files cleaned,
full disk and read-only folders in one line, a lock against concurrent writers, provenance
checksums that catch stale artifacts, and bundles verified by every reader."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import CLASSIC, write_idx

from snnx import io as snnx_io
from snnx.cli import main
from snnx.io import publish_files, staging_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx(tmp_path_factory.mktemp("mnist"), n_train=100, n_test=20)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    run = tmp_path_factory.mktemp("run") / "r"
    d = ["--data-dir", str(data)]
    sets = [a for s in ["train.epochs=1", *CLASSIC, "model.hidden=[16]"] for a in ("--set", s)]
    assert main(["train", "-o", str(run), *d, *sets]) == 0
    assert main(["export", str(run)]) == 0
    assert main(["sim", str(run), *d]) == 0
    assert main(["deploy", str(run)]) == 0
    return run


@pytest.fixture()
def run(deployed: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(deployed, tmp_path / "run"))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".snnx.lock"}


def _one_line(capsys: pytest.CaptureFixture, *words: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnx: error: "), err
    for w in words:
        assert w in err[0], (w, err[0])
    return err[0]


def test_interrupted_commit_is_finished_by_the_next_command(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text("old")
    moved = []
    real = os.replace

    def killed_after_one(src, dst):
        if moved:
            raise KeyboardInterrupt  # the process dies between two renames
        moved.append(dst)
        real(src, dst)

    with staging_dir(folder, "export") as staging:
        for name in ("a.txt", "b.txt", "c.txt"):
            (staging / name).write_text("new")
        monkeypatch.setattr(os, "replace", killed_after_one)
        with pytest.raises(KeyboardInterrupt):
            publish_files(staging, folder)
    monkeypatch.setattr(os, "replace", real)
    assert sorted((folder / n).read_text() for n in ("a.txt", "b.txt", "c.txt")) == ["new", "old", "old"]
    with snnx_io.run_lock(folder, "sim"):  # whoever locks the run next finishes the commit
        pass
    assert [(folder / n).read_text() for n in ("a.txt", "b.txt", "c.txt")] == ["new"] * 3
    assert sorted(p.name for p in folder.iterdir()) == [".snnx.lock", "a.txt", "b.txt", "c.txt"]


def test_stale_temp_files_are_cleaned(run: Path, capsys) -> None:
    (run / ".model.net.x1y2.tmp").write_bytes(b"\0" * 1000)
    (run / ".staging-export-abc").mkdir()
    (run / ".staging-export-abc" / "model.net").write_bytes(b"\0" * 1000)
    (run / "deploy" / ".staging-loihi2-q").mkdir()
    assert main(["export", str(run)]) == 0
    left = {p.name for p in run.rglob(".*")}
    assert left == {".snnx.lock"}, left


def test_full_disk_is_one_line_and_keeps_the_run(run: Path, capsys, monkeypatch) -> None:
    before = _digest(run)
    real = Path.write_bytes

    def full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    assert main(["export", str(run)]) == 2
    _one_line(capsys, "disk is full", "earlier results were kept")
    monkeypatch.undo()
    assert _digest(run) == before
    assert {p.name for p in run.rglob(".*")} <= {".snnx.lock"}  # no temp files left to fill the disk


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_read_only_folder_is_one_line(run: Path, capsys, monkeypatch, code: int, words: str) -> None:
    before = _digest(run)
    if os.geteuid() != 0 and code == errno.EACCES:
        os.chmod(run, 0o555)  # a real read-only folder (root ignores permissions, so it is simulated there)
    else:
        def refuse(*args, **kwargs):
            raise OSError(code, os.strerror(code), str(kwargs.get("dir", "")))

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    try:
        for argv in (["export", str(run)], ["sim", str(run)], ["deploy", str(run)]):
            assert main(argv) == 2, argv
            _one_line(capsys, words)
    finally:
        os.chmod(run, 0o755)
    assert _digest(run) == before


def test_concurrent_command_is_refused(run: Path, capsys) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from snnx.io import run_lock\n"
        f"with run_lock({str(run)!r}, 'train'):\n"
        "    print('locked', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _digest(run)
        for argv in (["export", str(run)], ["train", "-o", str(run), "--resume"], ["deploy", str(run)]):
            assert main(argv) == 2, argv
            _one_line(capsys, "is being written by `snnx train`", f"pid {holder.pid}")
        assert _digest(run) == before
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert main(["export", str(run)]) == 0  # the lock died with its process


def test_stale_artifacts_name_the_command_that_rebuilds_them(run: Path, data: Path, capsys) -> None:
    d = ["--data-dir", str(data)]
    # a new checkpoint (train --resume with one more epoch): model.net, sim.json, bundle are stale
    assert main(["train", "-o", str(run), "--resume", "--set", "train.epochs=2", *d]) == 0
    capsys.readouterr()
    assert main(["sim", str(run), *d]) == 2
    _one_line(capsys, "model.net is stale", "checkpoint", f"snnx export {run}")
    assert main(["deploy", str(run)]) == 2
    _one_line(capsys, "model.net is stale", f"snnx export {run}")
    assert main(["export", str(run)]) == 0
    capsys.readouterr()
    assert main(["deploy", str(run)]) == 2
    _one_line(capsys, "sim.json is stale", "model.net", f"snnx sim {run}")
    assert main(["report", str(run), *d]) == 2
    _one_line(capsys, "sim.json is stale", f"snnx sim {run}")
    assert main(["sim", str(run), *d]) == 0
    capsys.readouterr()
    assert main(["report", str(run), *d]) == 2  # the old bundle was made from the old model.net
    _one_line(capsys, "bundle", "is stale", "snnx deploy")
    assert main(["deploy", str(run)]) == 0
    assert main(["report", str(run), *d]) == 0
    # a model.net replaced by hand is not silently simulated with the wrong provenance
    (run / "model.net").write_bytes((run / "model.net").read_bytes() + b"\0")
    capsys.readouterr()
    assert main(["sim", str(run), *d]) == 2
    _one_line(capsys, "model.net was modified after `snnx export")


def test_tampered_bundle_is_refused_by_its_readers(run: Path, data: Path, capsys) -> None:
    energy = run / "deploy" / "loihi2" / "energy.json"
    e = json.loads(energy.read_text())
    e["energy_per_inference_uJ"] = 0.001
    energy.write_text(json.dumps(e))
    for argv in (["report", str(run), "--data-dir", str(data)], ["compare", str(run), "--data-dir", str(data)]):
        assert main(argv) == 2, argv
        _one_line(capsys, "energy.json was modified")
    assert not (run / "report.html").exists() or "0.001" not in (run / "report.html").read_text()


def test_redeploy_swaps_the_bundle_in_one_step(run: Path, capsys) -> None:
    bundle = run / "deploy" / "loihi2"
    inode = bundle.stat().st_ino
    assert main(["deploy", str(run)]) == 0
    assert bundle.stat().st_ino != inode  # a new folder took the old one's place
    assert {p.name for p in (run / "deploy").iterdir()} == {"loihi2"}
