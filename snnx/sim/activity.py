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
- ``membrane_updates``: NeuroBench 2.x's MembraneUpdates (neurobench.metrics.workload.
  MembraneUpdates): every neuron at the first step, then each (neuron, step) whose membrane
  after the step (after reset) differs from the step before. Needs the membrane potentials, so
  only engines that give them (the fast simulator) count it; None otherwise.

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
from snnx.loihi.accounting import fan_out, recurrent_fan_out
from snnx.loihi.naming import layer_name
from snnx.loihi.net import LoihiLayer, LoihiNet


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
    membrane_updates: float | None = None

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
                membrane_updates=None if d.get("membrane_updates") is None else float(d["membrane_updates"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnnxError(f"layer activity {d!r} is incomplete ({exc}); re-run `snnx sim`") from None


class ActivityAccumulator:
    """Sum activity over batches of samples; ``result()`` gives per-sample means."""

    def __init__(self, net: LoihiNet) -> None:
        self.net = net
        self.layers: list[LoihiLayer] = []
        self.fan_outs: list[np.ndarray] = []  # flat, per synapse layer
        self.rec_fan_outs: list[np.ndarray | None] = []  # dense_rec: the layer's spikes into itself
        shape = tuple(net.input.shape)
        for layer in net.layers:
            if layer.is_synapse:
                self.layers.append(layer)
                self.fan_outs.append(fan_out(layer, shape).reshape(-1))
                rec = recurrent_fan_out(layer)
                self.rec_fan_outs.append(None if rec is None else rec.reshape(-1))
            shape = layer.shape  # flatten passes the shape through as its own output shape
        n = len(self.layers)
        self.input_spikes = np.zeros(n, dtype=np.int64)
        self.synops = np.zeros(n, dtype=np.int64)
        self.spikes = np.zeros(n, dtype=np.int64)
        self.updates = np.zeros(n, dtype=np.int64)
        self.membrane = np.zeros(n, dtype=np.int64)
        self.membrane_samples = 0
        self.samples = 0

    def add(
        self, inputs: np.ndarray, layer_spikes: list[np.ndarray], membranes: list[np.ndarray] | None = None
    ) -> None:
        """``inputs`` [B, T or S, *input shape]; ``layer_spikes[i]`` [B, S, *shape of layer i];
        ``membranes[i]`` (optional) layer i's membrane after each step, like its spikes."""
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
            if self.rec_fan_outs[i] is not None:  # recurrent synops: every spike of the layer, to itself
                self.synops[i] += int(_events_per_neuron(layer_spikes[i], self.rec_fan_outs[i].size)
                                      @ self.rec_fan_outs[i])
            self.spikes[i] += int(np.count_nonzero(layer_spikes[i]))
            self.updates[i] += batch * int(np.shape(layer_spikes[i])[1]) * self.layers[i].num_neurons
        if membranes is not None:
            for i, v in enumerate(membranes):
                self.membrane[i] += membrane_changes(v)
            self.membrane_samples += batch
        self.samples += batch

    def result(self) -> list[LayerActivity]:
        n = max(self.samples, 1)
        return [
            LayerActivity(
                name=layer_name(layer, i),
                kind=layer.kind,
                neurons=layer.num_neurons,
                synapses=int(self.fan_outs[i].sum())
                + (0 if self.rec_fan_outs[i] is None else int(self.rec_fan_outs[i].sum())),
                input_spikes=float(self.input_spikes[i]) / n,
                synops=float(self.synops[i]) / n,
                spikes=float(self.spikes[i]) / n,
                neuron_updates=float(self.updates[i]) / n,
                membrane_updates=float(self.membrane[i]) / n if self.membrane_samples == self.samples > 0
                else None,
            )
            for i, layer in enumerate(self.layers)
        ]


def membrane_changes(v: np.ndarray) -> int:
    """NeuroBench 2.x MembraneUpdates of ``v`` [B, S, *shape] (membrane after each step), summed over
    the batch: all neurons at the first step plus every later step whose value differs from the last."""
    arr = np.asarray(v)
    if arr.ndim < 2:
        raise SnnxError(f"activity: membranes of shape {list(arr.shape)} have no step axis")
    first = int(np.prod(arr.shape[:1] + arr.shape[2:]))
    return first + int(np.count_nonzero(arr[:, 1:] != arr[:, :-1]))


def _events_per_neuron(x: np.ndarray, n_neurons: int) -> np.ndarray:
    """Nonzero events per source neuron, summed over samples and steps (int64, flat)."""
    arr = np.asarray(x)
    if arr.ndim < 2 or int(np.prod(arr.shape[2:])) != n_neurons:
        raise SnnxError(
            f"activity: spikes of shape {list(arr.shape)} do not match a layer with {n_neurons} inputs"
        )
    flat = arr.reshape(-1, n_neurons)
    return np.count_nonzero(flat, axis=0).astype(np.int64)
