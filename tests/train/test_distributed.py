"""`snnx train` under torchrun: 2 CPU processes (gloo) on this machine, against one process.

The launches are real `torchrun` runs of `python -m snnx train` (the README's commands); only
the sizes are small.
"""

from __future__ import annotations

import csv
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnx.errors import SnnxError
from snnx.train import distributed, trainer
from snnx.train.checkpoint import Checkpoint
from snnx.train.distributed import Rank, shard_batch
from snnx.train.stage import train_command

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]  # what the `torchrun` script runs
TINY = ["train.epochs=2", "model.hidden=[32]", "train.batch_size=13", "train.schedule=step"]  # 64 samples: last batch 12
# (a step schedule: a 1-epoch run resumed to 2 epochs is then the same run as 2 epochs at once)


def _rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(f)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snnx_train(launcher: list[str], out: Path, sets: list[str], data: Path, *extra: str) -> subprocess.Popen:
    cmd = [*launcher, "-m", "snnx", "train", "-o", str(out), "--data-dir", str(data), *extra]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _finish(proc: subprocess.Popen, timeout: float = 900) -> str:  # generous: a loaded 2-core CI box
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def _standalone(out: Path, sets: list[str], data: Path, *extra: str) -> str:
    return _finish(_snnx_train([*TORCHRUN, "--standalone", "--nproc_per_node=2"], out, sets, data, *extra))


def test_python_m_snnx_is_the_cli(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "snnx", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: snnx") and "train" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "snnx", "train", "-o", str(tmp_path / "r"), "--set", "train.epochs"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("snnx: error:") and len(bad.stderr.splitlines()) == 1


def test_two_processes_resume_and_two_nodes(synthetic_mnist: Path, tmp_path: Path) -> None:
    """One run folder with one row per epoch; the metrics are the global ones; --resume under
    torchrun, launched as two "nodes" (c10d rendezvous on 127.0.0.1), continues exactly."""
    log = _standalone(tmp_path / "full", TINY, synthetic_mnist)
    assert sorted(p.name for p in (tmp_path / "full").iterdir() if not p.name.startswith(".")) == [
        "checkpoint.json", "checkpoint.safetensors", "config.yaml", "last.json", "last.safetensors", "metrics.csv",
        "plots"]
    assert log.count("best test accuracy") == 1 and log.count("epoch 2/2:") == 1  # rank 0 alone reports
    rows = _rows(tmp_path / "full")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    # the train accuracy is a count over all 64 samples of both ranks, the test accuracy over all 32
    assert all(round(float(r["train_acc"]) * 64, 3).is_integer() for r in rows)
    assert all(round(float(r["test_acc"]) * 32, 3).is_integer() for r in rows)
    assert "processes: 2" in (tmp_path / "full" / "config.yaml").read_text()

    _standalone(tmp_path / "cut", [*TINY, "train.epochs=1"], synthetic_mnist)
    port = _free_port()
    nodes = [_snnx_train([*TORCHRUN, "--nnodes=2", f"--node_rank={k}", "--nproc_per_node=1", "--rdzv_backend=c10d",
                          f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=snnx-test"],
                         tmp_path / "cut", ["train.epochs=2"], synthetic_mnist, "--resume") for k in range(2)]
    logs = [_finish(p) for p in nodes]
    assert sum(text.count("resuming") for text in logs) == 1
    assert _rows(tmp_path / "cut") == rows  # a sum of two numbers does not depend on which rank holds which
    a = Checkpoint.load(tmp_path / "cut" / "last").state_dict
    b = Checkpoint.load(tmp_path / "full" / "last").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_two_processes_learn_like_one(mnist_dir: Path, tmp_path: Path) -> None:
    """2 gloo processes at the same global batch reach the single process's accuracy.

    The two runs do the same arithmetic except for the rounding of the gradient sum; after a
    few hundred steps that changes which spikes cross the threshold about as much as another
    seed would. So the tolerance is test-set sampling noise: 3 standard errors of the
    difference of two accuracies measured on the same N test images, 3 sqrt(2 p (1 - p) / N).
    """
    sets = ["data.train_subset=2000", "data.test_subset=1000", "train.epochs=2", "train.batch_size=64",
            "model.hidden=[64]"]
    one = train_command(None, tmp_path / "one", sets, mnist_dir)
    _standalone(tmp_path / "two", sets, mnist_dir)
    rows = _rows(tmp_path / "two")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    p = one.best_test_acc
    acc2 = max(float(r["test_acc"]) for r in rows)
    tol = 3 * math.sqrt(2 * p * (1 - p) / 1000)
    assert p > 0.75 and acc2 > 0.75  # chance is 0.10
    assert abs(acc2 - p) <= tol, (acc2, p, tol)


def test_shard_batch_weights_give_the_global_mean() -> None:
    x, y = torch.arange(7.0).view(1, 7, 1).expand(3, 7, 1), torch.arange(7)
    parts = [shard_batch(x, y, Rank(r, 3)) for r in range(3)]
    assert torch.equal(torch.cat([p[1] for p in parts]).sort().values, y)  # every sample once
    assert [p[3] for p in parts] == [3, 2, 2]
    # DDP averages the ranks' weighted means: (1/world) sum_r w_r mean_r == the global mean
    means = [p[0][0, :, 0].mean() * p[2] for p in parts]
    assert float(sum(means) / 3) == pytest.approx(float(x[0, :, 0].mean()))
    # a rank without samples runs one sample with weight 0
    xs, ys, w, n = shard_batch(x[:, :2], y[:2], Rank(2, 3))
    assert (ys.shape[0], w, n) == (1, 0.0, 0)


def test_rank_from_torchrun_environment(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.from_env() == Rank(0, 1, 0) and distributed.writes_run_folder()
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.from_env() == Rank(3, 4, 1) and not distributed.writes_run_folder()
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(SnnxError, match="inconsistent"):
        distributed.from_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(SnnxError, match="integers"):
        distributed.from_env()


def test_auto_device_is_the_gpu_of_the_local_rank(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert trainer.select_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert trainer.select_device("cuda", local_rank=0) == torch.device("cuda", 0)
    assert trainer.select_device("auto") == torch.device("cuda")  # no torchrun: as before
    assert trainer.select_device("cpu", local_rank=1) == torch.device("cpu")
    with pytest.raises(SnnxError, match="local rank"):
        trainer.select_device("cuda:0", local_rank=1)
    with pytest.raises(SnnxError, match="2 CUDA device"):
        trainer.select_device("auto", local_rank=2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert trainer.select_device("auto", local_rank=1) == torch.device("cpu")
