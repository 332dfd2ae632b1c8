"""Run images through a run's float model and its fixed-point network, keeping every layer.

``snnx predict`` and ``snnx report`` both need the same thing: the spikes (and membrane
potentials) of every layer for a few images, from the float model (checkpoint.json) and from
the bit-accurate fixed-point network (model.net through the fast simulator), on identical
input spikes. Fixed-point membranes are converted to float units (v_int / (64 * scale),
docs/design.md §4) so the two can be drawn on one axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from snnx.errors import SnnxError
from snnx.loihi.cuba import pre_reset_voltage
from snnx.loihi.naming import layer_label
from snnx.loihi.netx import read_netx


@dataclass
class RunModels:
    """What a run folder offers for inference: the float model and/or the fixed-point net."""

    run: Path
    checkpoint: object | None = None  # snnx.train.checkpoint.Checkpoint
    model: torch.nn.Module | None = None
    net: object | None = None  # snnx.loihi.net.LoihiNet
    notes: list[str] = field(default_factory=list)

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.model is not None:
            return tuple(self.checkpoint.spec.input_shape)
        return tuple(self.net.input.shape)

    def encoding(self):
        """How images become spikes for this run (:meth:`snnx.run.RunFolder.input_encoding`:
        model.net's input spec once exported, else the training config's); feed it to
        :func:`snnx.sim.reference.encode_images`."""
        from snnx.run import RunFolder

        return RunFolder(self.run).input_encoding(
            net=self.net, config=None if self.checkpoint is None else self.checkpoint.config
        )


def load_run_models(run: Path, need_fixed: bool = False) -> RunModels:
    """Load checkpoint.json and model.net if present; explain what is missing in ``notes``."""
    from snnx.train.checkpoint import Checkpoint
    from snnx.train.checkpoint import exists as checkpoint_exists

    run = Path(run)
    if not run.is_dir():
        raise SnnxError(f"run folder {run} not found; create it with `snnx train -o {run}`")
    out = RunModels(run)
    from snnx.run import RunFolder

    ck_path, net_path = RunFolder(run).checkpoint, RunFolder(run).net
    if checkpoint_exists(ck_path):
        out.checkpoint = Checkpoint.load(ck_path)
        out.model = out.checkpoint.build_model()
    if net_path.exists():

        out.net = read_netx(net_path)
    elif out.checkpoint is not None and out.checkpoint.spec.kind == "attention":
        out.notes.append("fixed point: not available, the attention model cannot be exported to Loihi")
    else:
        out.notes.append(f"fixed point: not available, run `snnx export {run}` first to create model.net")
    if out.model is None and out.net is None:
        raise SnnxError(f"{run} has neither checkpoint.json nor model.net; run `snnx train -o {run}` first")
    if need_fixed and out.net is None:
        raise SnnxError(f"{net_path} not found; run `snnx export {run}` first")
    if out.model is not None and out.net is not None:
        a, b = tuple(out.checkpoint.spec.input_shape), tuple(out.net.input.shape)
        if int(np.prod(a)) != int(np.prod(b)):
            raise SnnxError(f"{net_path} takes input {b} but checkpoint.json takes {a}; re-run `snnx export {run}`")
    return out


@dataclass
class LayerTrace:
    """One layer's activity for a batch: spikes and membrane [B, S, n] (S = T + L steps)."""

    name: str
    spikes: np.ndarray
    v: np.ndarray | None  # membrane before reset, float units
    threshold: float


@dataclass
class Trace:
    """Input spikes [B, T, n_in] and per-layer activity of one model on the same input."""

    inputs: np.ndarray
    layers: list[LayerTrace]
    latency: int

    @property
    def counts(self) -> np.ndarray:
        """Output spikes in the readout window (steps L+1..T+L), [B, classes]."""
        return self.layers[-1].spikes[:, self.latency:].sum(1)

    @property
    def predictions(self) -> np.ndarray:
        return self.counts.argmax(1)

    def spikes_per_sample(self) -> np.ndarray:
        """Total spikes of each layer per sample, [layers]."""
        return np.array([layer.spikes.sum() / layer.spikes.shape[0] for layer in self.layers])


def _flat(t: torch.Tensor) -> np.ndarray:
    """[S, B, *shape] -> [B, S, n]."""
    return t.detach().reshape(t.shape[0], t.shape[1], -1).transpose(0, 1).cpu().numpy()


def _layer_names(model: torch.nn.Module) -> list[str]:
    if hasattr(model, "layers"):
        return [layer_label(i, layer.spec.kind, layer.out_shape) for i, layer in enumerate(model.layers)]
    return ["1: patch embedding", "2: attention", "3: readout"]


def _thresholds(model: torch.nn.Module) -> list[float]:
    if hasattr(model, "layers"):
        return [float(layer.params().threshold) for layer in model.layers]
    return [float(model.spec.threshold)] * 3


@torch.no_grad()
def float_trace(model: torch.nn.Module, x: torch.Tensor, record_v: bool = True) -> Trace:
    """The float model on encoded input ``x`` [T, B, *shape]."""
    out = model(x, record_v=record_v)
    membranes = out.membranes if record_v else [None] * len(out.spikes)
    layers = [LayerTrace(name, _flat(s), None if v is None else _flat(v), th)
              for name, s, v, th in zip(_layer_names(model), out.spikes, membranes, _thresholds(model), strict=True)]
    return Trace(_flat(x), layers, out.latency)


def fixed_trace(net, x: torch.Tensor, record_v: bool = True) -> Trace:
    """The fixed-point network (fast bit-accurate simulator) on the same encoded input."""
    from snnx.sim.fast import simulate
    from snnx.sim.reference import (
        fixed_inputs,  # binary spikes, or graded by the exported input scale
    )

    res = simulate(net, fixed_inputs(net, x), record_state=record_v)
    layers = []
    for i, (layer, s) in enumerate(zip(net.synapse_layers, res.spikes, strict=True)):
        s = np.asarray(s)
        v = None
        if record_v:
            v = pre_reset_v(layer, s, np.asarray(res.u[i]), np.asarray(res.v[i]))
            v = v.reshape(v.shape[0], v.shape[1], -1) / (64.0 * layer.scale)
        layers.append(LayerTrace(layer_label(i, layer.kind, layer.shape),
                                 s.reshape(s.shape[0], s.shape[1], -1).astype(np.float32), v,
                                 layer.vth / layer.scale))
    return Trace(_flat(x), layers, net.num_synapse_layers)


def pre_reset_v(layer, spikes: np.ndarray, u: np.ndarray, v_after: np.ndarray) -> np.ndarray:
    """Membrane before the reset, [N, S, *shape] integers (docs/design.md §6.3).

    The simulator records v after the spike reset (what Lava's ``v`` Var holds); the float
    model records it before, which is what shows a threshold crossing. Only at a spike do
    they differ, and there v_pre = sat(dec(v[t-1], 4096 - dv) + u[t] + (bias << 6)) is
    recomputed exactly from the recorded state.
    """
    v_prev = np.concatenate([np.zeros_like(v_after[:, :1]), v_after[:, :-1]], axis=1)
    bias = None if layer.bias is None else np.asarray(layer.bias).reshape(layer.shape)
    pre = pre_reset_voltage(v_prev, u, int(layer.dv), bias).astype(np.int64)
    return np.where(spikes, pre, v_after)
