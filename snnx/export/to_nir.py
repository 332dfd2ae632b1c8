"""Trained snnx model -> NIR graph (nir 1.0.8), readable by any NIR tool.

dt convention: one simulation step is ``dt`` = 1e-4 s, the value snntorch's exporter
hard-codes, so a graph we write reads like one snntorch writes. With it the discrete
neuron of docs/design.md §4 maps exactly (forward Euler, see :mod:`snnx.export.from_nir`):

* alpha = 0 -> ``LIF(tau = dt/(1-beta), r = tau/dt, v_leak = 0, v_reset = 0, v_threshold)``;
  the bias (Loihi adds it to v every step) stays in the ``Affine``: with no current decay,
  current and membrane see the same sum ``W s + b``. beta = 1 -> ``IF(r = 1/dt)``.
* alpha > 0 -> ``CubaLIF(tau_syn = dt/(1-alpha), tau_mem = dt/(1-beta), r = tau_mem/dt,
  w_in = tau_syn/dt, v_leak = b/(1-beta))`` after a bias-free ``Linear``/``Conv2d``: NIR's
  leak term ``(1-beta) v_leak`` is the constant added to v each step.

Parameters are the model's *effective* ones (``SpikingLayer.params()``: QAT-rounded weights,
threshold and decays), so quantizing the graph reproduces QAT's integers. They are stored
in float64 so that ``1 - dt/tau`` gives back beta to the last bit of float32.
A recurrent layer's weights are a ``Linear`` from the neuron node back to itself (the
recurrent synapse delays one step, like every synapse: docs/design.md §12).
NIR has no time steps and no synapse delay; the graph metadata says what it cannot:
``dt``, and under ``snnx`` (JSON) the input steps, encoding, encoder parameters and that every
synapse layer delays by one step (docs/design.md §5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from snnx.errors import SnnxError
from snnx.export.from_nir import DELAY_CONVENTION, DT_DEFAULT
from snnx.io import write_bytes

NIR_FORMAT = "snnx-nir/1"


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def snnx_metadata(dt: float, timesteps: int | None, encoding: str | None, encoder_params: dict | None,
                  source: str = "") -> dict[str, Any]:
    """Graph metadata: ``dt`` readable by anyone, the rest as one JSON string (NIR stores flat values)."""
    info = {"format": NIR_FORMAT, "dt": dt, "timesteps": timesteps, "encoding": encoding,
            "encoder_params": encoder_params or {}, "delay": DELAY_CONVENTION, "source": source}
    return {"dt": float(dt), "snnx": json.dumps(info)}


def model_to_nir(model, metadata: dict[str, Any] | None = None, dt: float = DT_DEFAULT):
    """An ``snnx.train.models.SNN`` as a NIR graph: input -> [flatten] -> synapse -> neurons -> ... -> output."""
    import nir

    spec = model.spec
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(spec.input_shape)})}
    order = ["input"]
    loops: list[tuple[str, str]] = []
    for i, layer in enumerate(model.layers, start=1):
        p = layer.params()
        in_shape, out_shape = tuple(layer.in_shape), tuple(layer.out_shape)
        if layer.spec.flatten_before and len(in_shape) > 1:
            nodes[f"flatten{i}"] = nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0, end_dim=-1)
            order.append(f"flatten{i}")
        alpha, beta = float(p.alpha), float(p.beta)
        theta = float(_np(p.threshold).reshape(-1)[0])
        w = _np(p.weight)
        b = None if p.bias is None else _np(p.bias).reshape(-1)
        bias_in_current = alpha == 0.0  # exact only without current decay (see module docstring)
        syn_bias = b if (b is not None and bias_in_current) else None
        name = f"{layer.spec.kind if layer.spec.kind == 'conv' else 'fc'}{i}"
        nodes[name] = _synapse_node(layer, w, syn_bias, in_shape)
        v_bias = None
        if b is not None and not bias_in_current:
            v_bias = np.broadcast_to(b.reshape(-1, *([1] * (len(out_shape) - 1))), out_shape)
        nodes[f"lif{i}"] = _neuron_node(out_shape, alpha, beta, theta, v_bias, dt, name)
        order += [name, f"lif{i}"]
        if p.weight_rec is not None:  # a self-loop around the neuron, as snnTorch and the NIR paper write it
            nodes[f"lif{i}.w_rec"] = nir.Linear(weight=_np(p.weight_rec))
            loops += [(f"lif{i}", f"lif{i}.w_rec"), (f"lif{i}.w_rec", f"lif{i}")]
    nodes["output"] = nir.Output(output_type={"output": np.array(model.layers[-1].out_shape)})
    order.append("output")
    edges = list(zip(order[:-1], order[1:], strict=True)) + loops
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {"dt": float(dt)})


def _synapse_node(layer, w: np.ndarray, bias: np.ndarray | None, in_shape: tuple[int, ...]):
    import nir

    if layer.spec.kind == "conv":
        return nir.Conv2d(
            input_shape=tuple(int(s) for s in in_shape[1:]), weight=w, stride=np.array([layer.spec.stride] * 2),
            padding=np.array([layer.spec.padding] * 2), dilation=np.array([1, 1]), groups=1,
            bias=bias if bias is not None else np.zeros(w.shape[0]),
        )
    return nir.Affine(weight=w, bias=bias) if bias is not None else nir.Linear(weight=w)


def _neuron_node(shape: tuple[int, ...], alpha: float, beta: float, theta: float, v_bias: np.ndarray | None,
                 dt: float, where: str):
    import nir

    def full(v: float) -> np.ndarray:
        return np.full(shape, v, dtype=np.float64)

    zeros = full(0.0)
    if alpha == 0.0:
        if beta == 1.0:
            return nir.IF(r=full(1.0 / dt), v_threshold=full(theta), v_reset=zeros)
        tau = full(dt / (1.0 - beta))
        return nir.LIF(tau=tau, r=tau / dt, v_leak=zeros, v_threshold=full(theta), v_reset=zeros)
    if beta == 1.0:
        raise SnnxError(f"layer {where}: a current-based neuron (alpha = {alpha:g}) with beta = 1 has tau_mem = "
                        "infinity, which NIR cannot store; retrain with beta < 1")
    tau_syn, tau_mem = full(dt / (1.0 - alpha)), full(dt / (1.0 - beta))
    v_leak = zeros if v_bias is None else np.asarray(v_bias, dtype=np.float64) / (1.0 - beta)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=v_leak, v_threshold=full(theta),
                       v_reset=zeros, w_in=tau_syn / dt)


def write_nir(graph, path: str | Path) -> Path:
    """``nir.write`` into memory, then one atomic file write (never a half-written graph; a full
    disk is an OSError from Python, not an HDF5 failure inside a file)."""
    import io

    import nir

    buf = io.BytesIO()
    nir.write(buf, graph)
    return write_bytes(path, buf.getvalue())
