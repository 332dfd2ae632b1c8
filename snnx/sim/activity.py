"""Per-layer activity: the one place where spikes become counts.

Used by the fast simulator's streaming run, by the Lava backend's results and by
``snnx deploy``'s energy report, so every number about spikes and synaptic operations is
computed the same way whatever produced the spikes.

Definitions (per sample, averaged over the samples seen):

- ``input_spikes``: spikes arriving at a layer's synapses over all steps. For the first layer
  these are the encoded input events (a graded input counts as one spike where it is nonzero:
  it is one message on the chip); for later layers the previous layer's output spikes. All
  T + L steps are counted, including a spike in the last step whose effect would arrive after
  the run: the synapse does its work when the spike arrives (Lava's Dense computes on receive).
- ``synops``: synaptic operations = sum over input spikes of that input neuron's fan-out.
- ``spikes``: output spikes of the layer's neurons over all T + L steps.
- ``neuron_updates``: neurons x steps. Loihi updates every compartment of a core on every
  time step whether or not it receives input (Davies et al. 2018 price an update, inactive or
  spiking), so this is a count of the work, not of the activity.

Fan-out counts **nonzero weights only**: a zero weight changes nothing, the Loihi compiler
need not store it, and a synaptic operation is spent per *stored* synapse. A dense format
that stores zeros would spend more; the mapping report gives both counts (``synapses`` here
is the nonzero count, ``connections`` in the core map the dense one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from snnx.errors import SnnxError
from snnx.export.loihinet import LoihiLayer, LoihiNet


@dataclass
class LayerActivity:
    """Per-sample means over the samples seen, for one synapse layer and its neurons."""

    name: str
    kind: str
    neurons: int
    synapses: int  # nonzero weights (stored synapses)
    input_spikes: float
    synops: float
    spikes: float
    neuron_updates: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerActivity:
        try:
            return cls(
                name=str(d["name"]),
                kind=str(d["kind"]),
                neurons=int(d["neurons"]),
                synapses=int(d.get("synapses", 0)),
                input_spikes=float(d["input_spikes"]),
                synops=float(d["synops"]),
                spikes=float(d["spikes"]),
                neuron_updates=float(d.get("neuron_updates", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnnxError(f"layer activity {d!r} is incomplete ({exc}); re-run `snnx sim`") from None


def layer_name(layer: LoihiLayer, index: int) -> str:
    """The name reports use for the ``index``-th synapse layer (0-based)."""
    return layer.name or f"{layer.kind}{index + 1}"


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


class ActivityAccumulator:
    """Sum activity over batches of samples; ``result()`` gives per-sample means."""

    def __init__(self, net: LoihiNet) -> None:
        self.net = net
        self.layers: list[LoihiLayer] = []
        self.fan_outs: list[np.ndarray] = []  # flat, per synapse layer
        shape = tuple(net.input.shape)
        for layer in net.layers:
            if layer.is_synapse:
                self.layers.append(layer)
                self.fan_outs.append(fan_out(layer, shape).reshape(-1))
            shape = layer.shape  # flatten passes the shape through as its own output shape
        n = len(self.layers)
        self.input_spikes = np.zeros(n, dtype=np.int64)
        self.synops = np.zeros(n, dtype=np.int64)
        self.spikes = np.zeros(n, dtype=np.int64)
        self.updates = np.zeros(n, dtype=np.int64)
        self.samples = 0

    def add(self, inputs: np.ndarray, layer_spikes: list[np.ndarray]) -> None:
        """``inputs`` [B, T or S, *input shape]; ``layer_spikes[i]`` [B, S, *shape of layer i]."""
        if len(layer_spikes) != len(self.layers):
            raise SnnxError(
                f"activity: got spikes of {len(layer_spikes)} layers, the network has {len(self.layers)}"
            )
        batch = int(np.shape(inputs)[0])
        for i, s in enumerate(layer_spikes):
            if int(np.shape(s)[0]) != batch:
                raise SnnxError(f"activity: layer {i + 1} has {np.shape(s)[0]} samples, inputs have {batch}")
        sources = [inputs, *layer_spikes[:-1]]
        for i, (src, fo) in enumerate(zip(sources, self.fan_outs, strict=True)):
            per_neuron = _events_per_neuron(src, fo.size)
            self.input_spikes[i] += int(per_neuron.sum())
            self.synops[i] += int(per_neuron @ fo)
            self.spikes[i] += int(np.count_nonzero(layer_spikes[i]))
            self.updates[i] += batch * int(np.shape(layer_spikes[i])[1]) * self.layers[i].num_neurons
        self.samples += batch

    def result(self) -> list[LayerActivity]:
        n = max(self.samples, 1)
        return [
            LayerActivity(
                name=layer_name(layer, i),
                kind=layer.kind,
                neurons=layer.num_neurons,
                synapses=int(self.fan_outs[i].sum()),
                input_spikes=float(self.input_spikes[i]) / n,
                synops=float(self.synops[i]) / n,
                spikes=float(self.spikes[i]) / n,
                neuron_updates=float(self.updates[i]) / n,
            )
            for i, layer in enumerate(self.layers)
        ]


def _events_per_neuron(x: np.ndarray, n_neurons: int) -> np.ndarray:
    """Nonzero events per source neuron, summed over samples and steps (int64, flat)."""
    arr = np.asarray(x)
    if arr.ndim < 2 or int(np.prod(arr.shape[2:])) != n_neurons:
        raise SnnxError(
            f"activity: spikes of shape {list(arr.shape)} do not match a layer with {n_neurons} inputs"
        )
    flat = arr.reshape(-1, n_neurons)
    return np.count_nonzero(flat, axis=0).astype(np.int64)
