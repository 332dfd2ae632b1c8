"""The fused CUBA BPTT and the trainer on a CUDA device, wherever one exists.

Every check runs on the CPU too (same code, ``device`` parameter), so the comparison itself
is exercised on machines without a GPU; the CUDA cases skip only for want of a device.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnx.config import resolve
from snnx.train.checkpoint import Checkpoint
from snnx.train.models import build_model, spec_from_config
from snnx.train.neurons import cuba_sequence, make_spike_fn
from snnx.train.stage import train_command

CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))
DEVICES = ["cpu", CUDA]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
def test_fused_bptt_equals_autograd_loop_on_device(device: str, alpha: float, surrogate: str) -> None:
    """Spikes equal and gradients (input, bias, threshold) close: CubaBPTT vs the plain loop,
    both on ``device``, with a conv-shaped bias and a tensor threshold living on the device."""
    g = torch.Generator().manual_seed(1)
    x0 = (torch.randn(20, 6, 3, 4, 4, generator=g) * 0.9 + 0.3).to(device)
    b0 = (torch.randn(3, 1, 1, generator=g) * 0.1).to(device)
    grad_out = torch.randn(20, 6, 3, 4, 4, generator=g).to(device)
    results = []
    for fused in (True, False):
        x = x0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        th = torch.tensor(0.8, device=device, requires_grad=True)
        s, _ = cuba_sequence(x, alpha, 0.9, th, b, make_spike_fn(surrogate), fused=fused, steps=24, hold=2)
        (s * torch.cat([grad_out, grad_out[:6]])).sum().backward()
        results.append((s, x.grad, b.grad, th.grad))
    (s1, gx1, gb1, gt1), (s2, gx2, gb2, gt2) = results
    assert s1.device.type == device and gx1.device.type == device and gt1.device.type == device
    assert s1.shape == (26, 6, 3, 4, 4) and not s1[:2].any()
    assert 0.05 < s1.mean() < 0.6
    assert torch.equal(s1, s2)
    torch.testing.assert_close(gx1, gx2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gb1, gb2, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(gt1, gt2, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("qat", [False, True])
def test_model_gradients_fused_equal_the_loop_on_device(device: str, qat: bool) -> None:
    """A conv + dense SNN (QAT rounding included) on ``device``: the fused forward/backward
    gives the spikes and weight gradients of the plain autograd loop (``record_v`` takes it)."""
    cfg = resolve(None, ["model.kind=conv", "model.conv=4c5s2", "model.hidden=[16]", "model.neuron.alpha=0.5"])
    torch.manual_seed(0)
    model = build_model(spec_from_config(cfg.model, (1, 28, 28), 10, qat)).to(device)
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(12, 5, 1, 28, 28, generator=g) < 0.3).float().to(device)
    grads = []
    for record_v in (False, True):  # False: CubaBPTT, True: the per-step autograd loop
        model.zero_grad()
        out = model(x, record_v=record_v)
        (out.counts * torch.arange(10.0, device=device)).sum().backward()
        grads.append(([s.detach() for s in out.spikes], [p.grad.clone() for p in model.parameters()]))
    (s1, g1), (s2, g2) = grads
    assert all(s.device.type == device for s in s1) and s1[0].sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(s1, s2, strict=True))
    for a, b in zip(g1, g2, strict=True):
        assert a.device.type == device and a.abs().sum() > 0
        # float rounding: the kernel sums the readout's gradient in its own order, so an entry near zero
        # amid entries of ~300 may differ by a few ulps of the largest
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()))


@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_device_and_is_seeded(device: str, synthetic_mnist: Path, tmp_path: Path) -> None:
    """`snnx train` with train.device on ``device``: same seed, same numbers (the Poisson encoder is
    seeded on the device's generator), checkpoints readable on the CPU."""
    sets = [f"train.device={device}", "train.epochs=1", "model.hidden=[32]", "train.batch_size=16",
            "data.augment_shift=2", "train.qat=true"]
    train_command(None, tmp_path / "a", sets, synthetic_mnist)
    train_command(None, tmp_path / "b", sets, synthetic_mnist)
    rows = []
    for run in ("a", "b"):
        with open(tmp_path / run / "metrics.csv") as f:
            rows.append([{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(f)])
    assert rows[0] == rows[1] and len(rows[0]) == 1
    assert f"device: {device}" in (tmp_path / "a" / "config.yaml").read_text()
    ck = Checkpoint.load(tmp_path / "a" / "checkpoint")
    assert all(t.device.type == "cpu" for t in ck.state_dict.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torchrun_on_gpus(synthetic_mnist: Path, tmp_path: Path) -> None:
    """torchrun with one process per GPU (NCCL when there are two or more): train.device=auto
    takes the GPU of each local rank; one run folder, one metrics row per epoch."""
    procs = min(2, torch.cuda.device_count())
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           "-m", "snnx", "train", "-o", str(tmp_path / "run"), "--data-dir", str(synthetic_mnist),
           "--set", "train.epochs=2", "--set", "model.hidden=[32]", "--set", "train.batch_size=16"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    with open(tmp_path / "run" / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]
    assert "device: cuda:0" in (tmp_path / "run" / "config.yaml").read_text()
