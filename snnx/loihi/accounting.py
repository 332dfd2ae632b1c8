"""Synapse accounting: how many stored synapses leave each input neuron (fan-out).

Synaptic operations (``synops``) are counted from these fan-outs by :mod:`snnx.sim.activity`
and the core map sizes synaptic memory from them, so both count the same synapses: nonzero
weights only (a zero weight changes nothing and need not be stored).
"""

from __future__ import annotations

import numpy as np

from snnx.errors import SnnxError
from snnx.loihi.net import LoihiLayer


def fan_out(layer: LoihiLayer, in_shape: tuple[int, ...]) -> np.ndarray:
    """Exact number of nonzero synapses leaving each input neuron, shaped like ``in_shape``.

    Conv is border-aware: an input pixel near the edge, or skipped by the stride, reaches
    fewer outputs. For kernel tap (a, b) an input row iy is reached iff some output row oy
    satisfies oy*stride - pad + a*dilation == iy, so the count factorises into
    ``sum_{co,a,b} nz[co, ci, a, b] * rows[a, iy] * cols[b, ix]``.
    """
    in_shape = tuple(int(s) for s in in_shape)
    if layer.kind == "dense":
        nz = layer.weight != 0
        if nz.shape[1] != int(np.prod(in_shape)):
            raise SnnxError(
                f"layer {layer.name or 'dense'}: weight has {nz.shape[1]} inputs but the input has "
                f"shape {list(in_shape)}"
            )
        return nz.sum(axis=0).astype(np.int64).reshape(in_shape)
    if layer.kind != "conv":
        raise SnnxError(f"fan_out: layer kind {layer.kind!r} has no synapses")
    c_in, h_in, w_in = in_shape
    c_out, c_in_g, kh, kw = layer.weight.shape
    groups = int(layer.groups)
    if c_in_g * groups != c_in:
        raise SnnxError(
            f"layer {layer.name or 'conv'}: weight expects {c_in_g * groups} input channels, input has {c_in}"
        )
    nz = (layer.weight != 0).astype(np.int64)
    # per input channel: how many output channels (of its group) use each tap
    per_in = nz.reshape(groups, c_out // groups, c_in_g, kh, kw).sum(axis=1).reshape(c_in, kh, kw)
    _, h_out, w_out = layer.shape
    rows = _reached(h_in, h_out, kh, layer.stride[0], layer.padding[0], layer.dilation[0])
    cols = _reached(w_in, w_out, kw, layer.stride[1], layer.padding[1], layer.dilation[1])
    return np.einsum("cab,ay,bx->cyx", per_in, rows, cols)


def _reached(n_in: int, n_out: int, k: int, stride: int, pad: int, dilation: int) -> np.ndarray:
    """reached[a, i] = 1 if input index i is read through kernel tap a by some output index."""
    out = np.zeros((k, n_in), dtype=np.int64)
    o = np.arange(n_out)
    for a in range(k):
        i = o * stride - pad + a * dilation
        out[a, i[(i >= 0) & (i < n_in)]] = 1
    return out


def recurrent_fan_out(layer: LoihiLayer) -> np.ndarray | None:
    """Nonzero recurrent synapses leaving each neuron of a dense_rec layer back into the layer
    (every spike of the layer fans out through W_rec to its own neurons), or None."""
    if layer.weight_rec is None:
        return None
    return (np.asarray(layer.weight_rec) != 0).sum(axis=0).astype(np.int64).reshape(layer.shape)
