"""A plain integer simulation of a LoihiNet, step by step (docs/design.md §6.3).

Synapse layer l (1-based) is held at zero for steps 1..l, as netx's staggered reset does on
Lava and as ``snnx.train.models.SNN`` and ``snnx.sim.fast`` do. It exists to show that
quantization itself is exact (QAT float model == this reference up to integer state
truncation) and as an independent check of the fast simulator's synapses and time
convention. Deliberately plain: the one integer step (:func:`snnx.loihi.cuba.cuba_step`)
called once per time step, no tricks.
"""

from __future__ import annotations

import numpy as np
import torch

from snnx.loihi.cuba import cuba_params, cuba_step
from snnx.loihi.net import LoihiLayer, LoihiNet


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
        p = cuba_params(layer)
        u = np.zeros((b, *layer.shape), dtype=np.int32)
        v = np.zeros_like(u)
        out = np.zeros((b, steps, *layer.shape), dtype=np.int64)
        w_rec = None if layer.weight_rec is None else np.asarray(layer.weight_rec, dtype=np.int64)
        for k in range(len(outs) + 1, steps):  # held at zero until the first input arrives
            a_k = a[:, k - 1]
            if w_rec is not None:  # dense_rec: the layer's own spikes of the step before (from rest)
                a_k = a_k + out[:, k - 1].reshape(b, -1) @ w_rec.T
            spk, u, v = cuba_step(a_k, u, v, p)  # one step of synapse latency
            out[:, k] = spk
        outs.append(out)
        s = out
    return outs


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
