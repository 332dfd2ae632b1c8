"""Training on real MNIST slices: accuracy, determinism, resume after a kill, errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from conftest import CLASSIC

from snnx.cli import main
from snnx.config import resolve
from snnx.errors import SnnxError
from snnx.train import trainer
from snnx.train.checkpoint import Checkpoint
from snnx.train.stage import train_command

QUICK = ["data.train_subset=4000", "data.test_subset=1000", "train.epochs=2", "train.batch_size=100", *CLASSIC]


def _rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("seconds", "train_seconds")} for r in csv.DictReader(f)]


def test_short_training_learns_real_mnist(mnist_dir: Path, tmp_path: Path) -> None:
    res = train_command(None, tmp_path / "run", QUICK, mnist_dir)
    assert res.best_test_acc > 0.80  # chance is 0.10
    for name in ("config.yaml", "checkpoint.json", "last.json", "metrics.csv", "plots/training.png"):
        assert (tmp_path / "run" / name).exists(), name
    rows = _rows(tmp_path / "run")
    assert [r["epoch"] for r in rows] == ["1", "2"] and "rate_layer1" in rows[0]
    ck = Checkpoint.load(tmp_path / "run" / "checkpoint.json")  # weights_only=True inside
    model = ck.build_model()
    assert ck.spec.layers[0].out == 100 and sum(p.numel() for p in model.parameters()) == 784 * 100 + 100 + 100 * 10 + 10


def test_same_seed_same_numbers(synthetic_mnist: Path, tmp_path: Path) -> None:
    sets = ["train.epochs=2", "model.hidden=[32]"]
    train_command(None, tmp_path / "a", sets, synthetic_mnist)
    train_command(None, tmp_path / "b", sets, synthetic_mnist)
    train_command(None, tmp_path / "c", [*sets, "train.seed=1"], synthetic_mnist)
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    assert _rows(tmp_path / "a") != _rows(tmp_path / "c")


def test_resume_after_kill_mid_epoch(synthetic_mnist: Path, tmp_path: Path, monkeypatch) -> None:
    sets = ["train.epochs=3", "model.hidden=[32]", "train.batch_size=16"]
    train_command(None, tmp_path / "full", sets, synthetic_mnist)

    real_epoch = trainer.train_epoch

    def dying_epoch(model, data, cfg, opt, sched, epoch, device, progress=True):
        if epoch == 1:  # killed in the middle of the second epoch
            opt.step()
            raise KeyboardInterrupt
        return real_epoch(model, data, cfg, opt, sched, epoch, device, progress)

    monkeypatch.setattr(trainer, "train_epoch", dying_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_command(None, tmp_path / "cut", sets, synthetic_mnist)
    assert [r["epoch"] for r in _rows(tmp_path / "cut")] == ["1"]  # the finished epoch survived
    monkeypatch.setattr(trainer, "train_epoch", real_epoch)
    train_command(None, tmp_path / "cut", [], synthetic_mnist, resume=True)
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "full")
    a = Checkpoint.load(tmp_path / "cut" / "last.json").state_dict
    b = Checkpoint.load(tmp_path / "full" / "last.json").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_more_epochs_stretches_the_cosine(synthetic_mnist: Path, tmp_path: Path) -> None:
    """--resume --set train.epochs=4 after a finished 2-epoch run: the cosine schedule is laid
    over 4 epochs, so epoch 3 learns (not at lr 0, not climbing back) and the run ends at lr ~ 0."""
    sets = ["train.epochs=2", "model.hidden=[32]", "train.batch_size=64", "train.schedule=cosine"]
    train_command(None, tmp_path / "r", sets, synthetic_mnist)
    train_command(None, tmp_path / "r", ["train.epochs=4"], synthetic_mnist, resume=True)
    lrs = [float(r["lr"]) for r in _rows(tmp_path / "r")]
    base = float(resolve(None, []).train.lr)
    assert len(lrs) == 4 and lrs[1] < 1e-3 * base  # the first run ended its own cosine
    assert lrs[2] == pytest.approx(base * (1 + math.cos(math.pi * 3 / 4)) / 2, rel=1e-6)
    assert lrs[3] < 1e-3 * base


def test_conv_model_trains_and_saves(synthetic_mnist: Path, tmp_path: Path) -> None:
    res = train_command(None, tmp_path / "conv", ["train.epochs=1", "model.kind=conv", "model.conv=4c5s2-8c3s2",
                                                   "model.hidden=[]", "train.batch_size=32"], synthetic_mnist)
    assert res.epochs_done == 1
    spec = Checkpoint.load(tmp_path / "conv" / "checkpoint.json").spec
    assert [ly.kind for ly in spec.layers] == ["conv", "conv", "dense"]


def test_checkpoint_errors(tmp_path: Path, synthetic_mnist: Path, capsys) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SnnxError, match="not a valid snnx checkpoint"):
        Checkpoint.load(tmp_path / "junk.pt")
    with pytest.raises(SnnxError, match="not found"):
        Checkpoint.load(tmp_path / "missing.pt")
    # resuming a run with a different architecture is refused, the run folder untouched
    train_command(None, tmp_path / "r", ["train.epochs=1", "model.hidden=[16]"], synthetic_mnist)
    before = (tmp_path / "r" / "last.json").read_bytes()
    (tmp_path / "r" / "config.yaml").write_text((tmp_path / "r" / "config.yaml").read_text().replace("- 16", "- 24"))
    code = main(["train", "-o", str(tmp_path / "r"), "--resume", "--data-dir", str(synthetic_mnist)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "different model" in err[-1]
    assert (tmp_path / "r" / "last.json").read_bytes() == before
    # a checkpoint of another model cannot be loaded into this one
    ck = Checkpoint.load(tmp_path / "r" / "checkpoint.json")
    ck.spec.layers[0].out = 50
    with pytest.raises(SnnxError, match="does not match this model"):
        ck.build_model()
