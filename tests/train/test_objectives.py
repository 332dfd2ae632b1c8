"""The training options no other test reaches: ce_membrane and mse_count losses, Adam, the step
and none schedules. Each is checked against its documented arithmetic, then through ``snnx
train`` on the synthetic data (the option must reach the trainer and still learn)."""

from __future__ import annotations

import csv
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from snnx.cli import main
from snnx.train.losses import make_loss
from snnx.train.models import SNNOutput
from snnx.train.trainer import make_optimizer, make_scheduler

LATENCY, T, B, C = 2, 10, 3, 10


def _metrics(run: Path) -> list[dict[str, float]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _train(run: Path, data: Path, *sets: str) -> list[dict[str, float]]:
    args = ["data.train_subset=3000", "data.test_subset=500", "model.hidden=[32]", *sets]
    assert (
        main(
            [
                "train",
                "-o",
                str(run),
                "--data-dir",
                str(data),
                *(a for s in args for a in ("--set", s)),
            ]
        )
        == 0
    )
    return _metrics(run)


# ----------------------------------------------------------------------------- losses


def test_mse_count_targets_80_and_20_percent_of_the_readout_window() -> None:
    y = torch.tensor([3, 0, 7])
    spikes = torch.zeros(LATENCY + T, B, C)
    spikes[:LATENCY] = 1.0  # latency steps: must not count
    for b, k in enumerate(y):
        spikes[LATENCY : LATENCY + 8, b, k] = 1.0  # correct class: 0.8 * T spikes
        others = [c for c in range(C) if c != k]
        spikes[LATENCY : LATENCY + 2, b, others] = 1.0  # every other class: 0.2 * T spikes
    loss_fn, needs_v = make_loss("mse_count")
    assert not needs_v
    out = SNNOutput([spikes], None, LATENCY)
    assert float(loss_fn(out, y)) == pytest.approx(0.0)
    spikes[LATENCY + 2 : LATENCY + 5, 1, 4] = 1.0  # one wrong class 3 spikes over its target
    assert float(loss_fn(out, y)) == pytest.approx(
        3**2 / (B * C) / T
    )  # snntorch divides by the window


def test_ce_membrane_is_cross_entropy_of_the_peak_membrane_in_the_readout_window() -> None:
    g = torch.Generator().manual_seed(0)
    mem = torch.randn(LATENCY + T, B, C, generator=g)
    y = torch.tensor([1, 5, 9])
    mem[:LATENCY, :, 0] = 50.0  # a peak before the readout window must be ignored
    loss_fn, needs_v = make_loss("ce_membrane")
    assert needs_v  # the trainer must record membranes for it
    out = SNNOutput([torch.zeros(LATENCY + T, B, C)], [mem], LATENCY)
    want = F.cross_entropy(mem[LATENCY:].max(0).values, y)
    assert float(loss_fn(out, y)) == pytest.approx(float(want), rel=1e-6)
    assert float(loss_fn(out, y)) != pytest.approx(float(F.cross_entropy(mem.max(0).values, y)))


# ----------------------------------------------------------------------------- optimizer, schedules


def _cfg(**kw: object) -> types.SimpleNamespace:
    base = {
        "optimizer": "adamw",
        "lr": 0.1,
        "weight_decay": 0.1,
        "schedule": "cosine",
        "epochs": 3,
        "step_size": 1,
        "gamma": 0.5,
    }
    return types.SimpleNamespace(**{**base, **kw})


def test_adam_puts_weight_decay_into_the_gradient_adamw_decouples_it() -> None:
    """With a zero gradient AdamW only shrinks the weight (1 - lr * wd); Adam takes a full step."""
    after = {}
    for name in ("adam", "adamw"):
        p = torch.nn.Parameter(torch.ones(4))
        opt = make_optimizer(
            types.SimpleNamespace(parameters=lambda p=p: [p]), _cfg(optimizer=name)
        )
        p.grad = torch.zeros(4)
        opt.step()
        after[name] = float(p.detach()[0])
    assert after["adamw"] == pytest.approx(1.0 - 0.1 * 0.1)
    assert after["adam"] == pytest.approx(1.0 - 0.1, rel=1e-4)


@pytest.mark.parametrize(
    ("schedule", "want"), [("step", [0.05, 0.025, 0.0125]), ("none", [0.1, 0.1, 0.1])]
)
def test_step_and_none_schedules_per_epoch(schedule: str, want: list[float]) -> None:
    p = torch.nn.Parameter(torch.ones(1))
    cfg = _cfg(schedule=schedule)
    opt = make_optimizer(types.SimpleNamespace(parameters=lambda: [p]), cfg)
    sched = make_scheduler(opt, cfg, steps_per_epoch=4)
    got = []
    for _ in range(cfg.epochs):
        for _ in range(4):  # stepped once per batch
            opt.step()
            sched.step()
        got.append(opt.param_groups[0]["lr"])
    assert got == pytest.approx(want)


# ----------------------------------------------------------------------------- through snnx train


def test_mse_count_with_step_schedule_trains(
    synthetic_data: Path, synthetic_run: Path, tmp_path: Path
) -> None:
    rows = _train(
        tmp_path / "mse",
        synthetic_data,
        "model.loss=mse_count",
        "train.schedule=step",
        "train.step_size=1",
        "train.gamma=0.5",
        "train.epochs=3",
        "train.lr=4e-3",
    )
    assert [r["lr"] for r in rows] == pytest.approx([2e-3, 1e-3, 5e-4])  # halved after every epoch
    assert rows[-1]["test_acc"] > 0.5  # ten classes: chance is 0.1
    ce = _metrics(synthetic_run)  # same data and seed, the default ce_count loss
    assert rows[0]["loss"] != pytest.approx(ce[0]["loss"], rel=1e-3)


def test_ce_membrane_with_adam_and_no_schedule_trains(synthetic_data: Path, tmp_path: Path) -> None:
    rows = _train(
        tmp_path / "cem",
        synthetic_data,
        "model.loss=ce_membrane",
        "train.optimizer=adam",
        "train.schedule=none",
        "train.epochs=2",
        "train.lr=2e-3",
    )
    assert [r["lr"] for r in rows] == pytest.approx([2e-3, 2e-3])  # constant
    assert rows[-1]["test_acc"] > 0.5
    assert rows[-1]["loss"] < rows[0]["loss"]
