"""Helpers for the exporter tests: small QAT models and run folders with a checkpoint (no training).

A module with a distinctive name (not conftest) so that test files can import it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from snnx.config import RunConfig
from snnx.train.checkpoint import Checkpoint
from snnx.train.models import SNN, build_model, spec_from_config


def make_config(kind: str = "fc", alpha: float = 0.0, **model: object) -> RunConfig:
    return RunConfig.from_dict({"model": {"kind": kind, "neuron": {"alpha": alpha}, **model}})


def make_model(config: RunConfig, seed: int = 0, gain: float = 3.0, bias_std: float = 0.05,
               qat: bool = True) -> SNN:
    """An untrained model whose layers spike at useful rates (weights x gain, random biases)."""
    torch.manual_seed(seed)
    model = build_model(spec_from_config(config.model, (1, 28, 28), 10, qat=qat))
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(gain)
            if layer.synapse.bias is not None:
                layer.synapse.bias.normal_(0.0, bias_std)
    return model.eval()


def save_run(run: Path, config: RunConfig, model: SNN) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    Checkpoint(model.spec, model.state_dict(), config).save(run / "checkpoint.pt")
    config.save(run / "config.yaml")
    return run


def rate_spikes(steps: int, batch: int, seed: int = 0, p: float = 0.25) -> torch.Tensor:
    """Random binary input spikes [T, B, 1, 28, 28] with a per-sample rate (like rate-coded digits)."""
    g = torch.Generator().manual_seed(seed)
    rate = torch.rand(1, batch, 1, 28, 28, generator=g) * 2 * p
    return (torch.rand(steps, batch, 1, 28, 28, generator=g) < rate).float()


def integer_reference(net, x: np.ndarray) -> list[np.ndarray]:
    """DESIGN §6.3 integer CUBA dynamics, one step at a time, with the float model's time convention.

    ``x``: binary input spikes [B, T, *input shape]. Every layer starts at step 1 (bias from
    step 1, DESIGN §5) and its synapse delivers the previous step's input. Returns every synapse
    layer's spikes [B, T + L, *shape]. Deliberately plain: int64 numpy, no tricks.
    """
    b, t = x.shape[:2]
    steps = t + net.num_synapse_layers
    s = np.zeros((b, steps, *x.shape[2:]), dtype=np.int64)
    s[:, :t] = x
    outs = []
    for layer in net.layers:
        if layer.kind == "flatten":
            s = s.reshape(b, steps, -1)
            continue
        a = _synapse_int(layer, s)
        u = np.zeros((b, *layer.shape), dtype=np.int64)
        v = np.zeros_like(u)
        bias = 0 if layer.bias is None else layer.bias.astype(np.int64) << 6
        out = np.zeros((b, steps, *layer.shape), dtype=np.int64)
        for k in range(steps):
            a_in = a[:, k - 1] if k > 0 else 0
            u = _wrap24(_dec(u, 4096 - (layer.du + 1)) + (a_in << 6) if k > 0 else _dec(u, 4096 - (layer.du + 1)))
            v = np.clip(_dec(v, 4096 - layer.dv) + u + bias, -(2**23 - 1), 2**23 - 1)
            spk = v > (layer.vth << 6)
            v[spk] = 0
            out[:, k] = spk
        outs.append(out)
        s = out
    return outs


def _dec(x: np.ndarray, m: int) -> np.ndarray:
    p = x * m
    return np.sign(p) * (np.abs(p) >> 12)


def _wrap24(x: np.ndarray) -> np.ndarray:
    return ((x + 2**23) % 2**24) - 2**23


def _synapse_int(layer, s: np.ndarray) -> np.ndarray:
    """W applied to every step's input (exact: float64 sums of small integers)."""
    b, steps = s.shape[:2]
    flat = torch.as_tensor(s.reshape(b * steps, *s.shape[2:]), dtype=torch.float64)
    w = torch.as_tensor(layer.weight, dtype=torch.float64)
    if layer.kind == "dense":
        a = flat.reshape(b * steps, -1) @ w.T
    else:
        a = torch.nn.functional.conv2d(flat, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return a.numpy().astype(np.int64).reshape(b, steps, *layer.shape)
