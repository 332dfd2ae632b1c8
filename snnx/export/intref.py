"""A plain integer simulation of a LoihiNet, step by step (DESIGN §6.3).

Synapse layer l (1-based) is held at zero for steps 1..l, as netx's staggered reset does on
Lava and as ``snnx.train.models.SNN`` and ``snnx.sim.fast`` do. It exists to show that
quantization itself is exact (QAT float model == this reference up to integer state
truncation) and as an independent check of the fast simulator. Deliberately plain: int64
numpy, no tricks.
"""

from __future__ import annotations

import numpy as np
import torch

from snnx.export.loihinet import LoihiLayer, LoihiNet


def integer_reference(net: LoihiNet, x: np.ndarray) -> list[np.ndarray]:
    """Every synapse layer's spikes [B, T + L, *shape] for input spikes ``x`` [B, T, *input shape]."""
    b, t = x.shape[:2]
    steps = t + net.num_synapse_layers
    s = np.zeros((b, steps, *x.shape[2:]), dtype=np.int64)
    s[:, :t] = x
    outs: list[np.ndarray] = []
    for layer in net.layers:
        if layer.kind == "flatten":
            s = s.reshape(b, steps, -1)
            continue
        a = _synapse_int(layer, s)
        u = np.zeros((b, *layer.shape), dtype=np.int64)
        v = np.zeros_like(u)
        bias = 0 if layer.bias is None else layer.bias.astype(np.int64) << 6
        out = np.zeros((b, steps, *layer.shape), dtype=np.int64)
        for k in range(len(outs) + 1, steps):  # held at zero until the first input arrives
            a_in = a[:, k - 1]  # one step of synapse latency
            u = _wrap24(_dec(u, 4096 - (layer.du + 1)) + (np.asarray(a_in) << 6))
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


def _synapse_int(layer: LoihiLayer, s: np.ndarray) -> np.ndarray:
    """W applied to every step's input (exact: float64 sums of small integers)."""
    b, steps = s.shape[:2]
    flat = torch.as_tensor(s.reshape(b * steps, *s.shape[2:]), dtype=torch.float64)
    w = torch.as_tensor(layer.weight, dtype=torch.float64)
    if layer.kind == "dense":
        a = flat.reshape(b * steps, -1) @ w.T
    else:
        a = torch.nn.functional.conv2d(flat, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return a.numpy().astype(np.int64).reshape(b, steps, *layer.shape)
