"""NIR graph -> discrete-time float network (:class:`FloatNet`), the quantizer's only input.

NIR is continuous time; Loihi and our models are discrete. Each exporter writes its own discrete
model into the NIR nodes with its own units (:mod:`snnx.export.frameworks` reads snnTorch, Norse,
Sinabs, Rockpool, SpikingJelly and lava-dl conventions, see docs/interop.md). The default, for
snnx's own graphs and generic NIR, is forward Euler (one step = ``dt`` seconds, ``dt`` from the
graph's metadata, 1e-4 s when absent):

* ``LIF(tau, r, v_leak, v_threshold, v_reset = 0)``::

      v = beta * v + (1 - beta) * v_leak + g * I,  beta = 1 - dt/tau,  g = r * dt/tau

* ``CubaLIF(tau_syn, tau_mem, r, w_in, v_leak, ...)``::

      i = alpha * i + (dt/tau_syn) * w_in * I,   alpha = 1 - dt/tau_syn
      v = beta * v + (1 - beta) * v_leak + (dt/tau_mem) * r * i

* ``IF(r, v_threshold)``: ``v = v + r * dt * I`` (beta = 1).

Every gain is folded into the synapse weights, and every constant drive into a per-neuron
bias that Loihi adds to v each step, giving the docs/design.md §4 neuron
``i = alpha i + W s;  v = beta v + i + b;  s = v > theta;  v = 0 where s``. snntorch's
``Leaky``/``Synaptic`` (tau = dt/(1-beta), r = tau/dt, w_in = tau_syn/dt) come out with gain 1.
An Affine bias feeds the current: exact for LIF (alpha = 0); for a CubaLIF it is a current
that builds up over ~1/(1-alpha) steps, which Loihi cannot express, so it becomes its steady
state ``b / (1 - alpha)`` on v and the layer records that approximation in ``notes``.
Loihi has one threshold and one pair of decays per layer: per-neuron time constants are
refused, per-neuron thresholds and gains are folded into each neuron's weights and bias
(the neuron is linear and resets to 0, so scaling its state is exact).

NIR has no time steps and no synapse delay: snnx stores its own (dt, timesteps, encoding,
the one-step-per-synapse delay convention) in the graph metadata (see :mod:`snnx.export.to_nir`).
Nodes are read by following the edges from the Input node, never in dict order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnx import validate
from snnx.errors import SnnxError

DT_DEFAULT = 1e-4
DELAY_CONVENTION = "one step per synapse layer"
_SNAP = 1e-6  # a decay within this many 1/4096 units of the 12-bit grid is on the grid


@dataclass
class FloatLayer:
    """One spiking layer in discrete time: synapse (gains folded in) + CUBA LIF."""

    name: str  # the synapse node's name in the graph
    kind: str  # dense | conv
    weight: np.ndarray  # float64; dense (out, in), conv (C_out, C_in/groups, kH, kW)
    bias: np.ndarray | None  # float64, one per neuron (shape == out_shape), added to v every step
    alpha: float
    beta: float
    threshold: float
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    flatten_before: bool = False
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    neuron: str = ""  # the neuron node's name
    notes: list[str] = field(default_factory=list)
    weight_rec: np.ndarray | None = None  # dense only: (out, out) from the layer's spikes to itself, gains folded


@dataclass
class FloatNet:
    """The feed-forward float network a NIR graph describes, plus what NIR cannot say."""

    input_shape: tuple[int, ...]
    layers: list[FloatLayer]
    dt: float = DT_DEFAULT
    timesteps: int | None = None
    encoding: str | None = None
    encoder_params: dict = field(default_factory=dict)
    delay: str = DELAY_CONVENTION
    source: str = ""
    framework: str = "nir"  # whose conventions the neuron nodes were read with
    assumed: str = ""  # one line: what the reading assumed
    notes: list[str] = field(default_factory=list)  # what the graph cannot say (reset, batch dims)


# ----------------------------------------------------------------------------- reading files


def read_graph(path: str | Path):
    """``nir.read`` with a one-line error for a missing or unreadable file."""
    import nir

    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise SnnxError(f"NIR file {path} not found; pass a graph written with nir.write")
    validate.hdf5_preflight(path, "NIR graph", "write it with nir.write (nir 1.0)")
    try:
        graph = nir.read(path, type_check=False)  # scalar/batched shapes fail nir's strict check; snnx checks shapes
    except Exception as exc:  # noqa: BLE001 - h5py/nir raise many types for a bad file
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise SnnxError(f"{path} is not a readable NIR graph ({detail}); write it with nir.write (nir 1.0)") from None
    validate.check_nir_graph(graph, path)
    return graph


def graph_metadata(graph) -> dict[str, Any]:
    """snnx's metadata from a graph (empty for graphs written by other tools)."""
    meta = getattr(graph, "metadata", None) or {}
    out: dict[str, Any] = {}
    raw = meta.get("snnx")
    if raw is not None:
        try:
            out = dict(json.loads(raw.decode() if isinstance(raw, bytes) else str(raw)))
            validate.check_nir_snnx_meta(out)
        except (ValueError, TypeError, RecursionError):
            raise SnnxError("the NIR graph's 'snnx' metadata is not valid JSON; re-export it with snnx export") from None
    if "dt" in meta and "dt" not in out:
        out["dt"] = float(np.asarray(meta["dt"]).reshape(-1)[0])
    return out


# ----------------------------------------------------------------------------- graph walking


def _chain(graph) -> list[tuple[str, Any]]:
    """The nodes from Input to Output, following the edges; anything but a chain is refused."""
    import nir

    nodes = graph.nodes
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise SnnxError(
                f"node {name!r} (nested NIRGraph, e.g. a recurrent RLeaky/RSynaptic) is not supported: "
                "flatten the subgraph; a recurrence written flat, as an Affine/Linear self-loop around the "
                "neuron node, imports as netx dense_rec"
            )
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise SnnxError(f"the NIR graph has {len(inputs)} Input nodes {inputs}; snnx exports graphs with exactly one")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise SnnxError(f"the NIR graph has an edge {a!r} -> {b!r} to a node that does not exist")
        succ[a].append(b)
        pred[b].append(a)
    for name in nodes:
        if len(pred[name]) > 1 or len(succ[name]) > 1:
            what = "inputs" if len(pred[name]) > 1 else "outputs"
            raise SnnxError(
                f"node {name!r} ({type(nodes[name]).__name__}) has {max(len(pred[name]), len(succ[name]))} {what}: "
                "branches, skips and recurrence are not supported by the Loihi export; use a feed-forward chain"
            )
    order, seen, cur = [], set(), inputs[0]
    while True:
        if cur in seen:
            raise SnnxError(f"node {cur!r} ({type(nodes[cur]).__name__}) closes a loop: recurrence is not supported")
        seen.add(cur)
        order.append((cur, nodes[cur]))
        if not succ[cur]:
            break
        cur = succ[cur][0]
    if not isinstance(order[-1][1], nir.Output):
        raise SnnxError(f"the chain from the Input ends at {order[-1][0]!r} ({type(order[-1][1]).__name__}), not an Output node")
    dangling = sorted(set(nodes) - seen)
    if dangling:
        raise SnnxError(f"nodes {dangling} are not on the path from Input to Output; remove them or connect them")
    return order


_HINTS = {
    "LI": "a leaky-integrator readout has no spikes on Loihi; end the network with a LIF layer and count spikes",
    "CubaLI": "a leaky-integrator readout has no spikes on Loihi; end the network with a LIF layer and count spikes",
    "I": "an integrator without threshold has no spikes on Loihi; use a LIF/IF layer",
    "Conv1d": "only 2-D convolutions are supported; reshape to Conv2d",
    "Delay": "synaptic delays are not supported; remove the Delay node",
    "Threshold": "a bare threshold has no membrane; use a LIF/IF layer",
}


def _unsupported(name: str, node: Any, extra: str = "") -> SnnxError:
    t = type(node).__name__
    hint = extra or _HINTS.get(t, "snnx exports Affine/Linear/Conv2d/SumPool2d/AvgPool2d/Scale/Flatten + LIF/CubaLIF/IF")
    return SnnxError(f"node {name!r} of type {t} cannot run on Loihi: {hint}")


def graph_to_float(graph, source: str = "", timesteps: int | None = None, framework: str = "auto") -> FloatNet:
    """Interpret a NIR graph as a feed-forward float SNN (docs/design.md §4 neurons).

    ``framework`` names the exporter whose conventions the neuron nodes follow
    (:mod:`snnx.export.frameworks`); ``auto`` recognises it from the graph.
    """
    import nir

    from snnx.export.compose import make_op
    from snnx.export.frameworks import input_shape as strip_batch
    from snnx.export.frameworks import reading_for

    meta = graph_metadata(graph)
    if "dt" in meta and not float(meta["dt"]) > 0:
        raise SnnxError(f"the NIR graph's metadata gives dt = {meta['dt']}; it must be a positive number of seconds")
    reading = reading_for(graph, meta, framework, DT_DEFAULT)
    plain, loops = split_recurrence(graph)
    chain = _chain(plain)
    in_name, in_node = chain[0]
    shape = tuple(int(s) for s in np.asarray(_input_type(in_node)).reshape(-1))
    if not shape or min(shape) < 1:
        raise SnnxError(f"Input node {in_name!r} has shape {list(shape)}; need a concrete shape")
    notes: list[str] = []
    if len(chain) > 2:
        shape, note = strip_batch(shape, chain[1][1])
        if note:
            notes.append(note)
    input_shape = shape
    layers: list[FloatLayer] = []
    pending: list = []  # linear ops since the last neuron layer
    cur_shape = shape
    for name, node in chain[1:-1]:
        if isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF)):
            if not pending:
                raise _unsupported(name, node, "neurons without an incoming Affine/Linear/Conv2d synapse; "
                                   "Loihi layers are synapse + neurons")
            layer = _layer(pending, (name, node), shape, reading, loops.get(name))
            layers.append(layer)
            shape = cur_shape = layer.out_shape
            pending = []
        elif type(node).__name__ in _HINTS:
            raise _unsupported(name, node)
        else:
            op = make_op(name, node, cur_shape)
            pending.append(op)
            cur_shape = op.out_shape
    if pending:
        name, node = pending[-1].name, pending[-1].node
        raise _unsupported(name, node, "the graph ends with a synapse without neurons (a non-spiking readout); "
                           "Loihi outputs spikes: add a LIF layer after it")
    if not layers:
        raise SnnxError("the NIR graph has no synapse + neuron layer; nothing to export")
    return FloatNet(
        input_shape=input_shape,
        layers=layers,
        dt=reading.dt,
        timesteps=int(meta["timesteps"]) if meta.get("timesteps") else timesteps,
        encoding=meta.get("encoding"),
        encoder_params=dict(meta.get("encoder_params", {})),
        delay=str(meta.get("delay", DELAY_CONVENTION)),
        source=source,
        framework=reading.framework,
        assumed=reading.assumed,
        notes=notes + list(reading.notes),
    )


def _input_type(node) -> Any:
    t = node.input_type
    if isinstance(t, dict):
        t = t.get("input", next(iter(t.values()), None))
    return t if t is not None else []


# ----------------------------------------------------------------------------- one layer


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _uniform(name: str, node: Any, what: str, values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(v)):
        raise _unsupported(name, node, f"{what} has non-finite values")
    if v.size and not np.allclose(v, v[0], rtol=1e-6, atol=0):
        raise _unsupported(name, node, f"{what} differs between neurons ({v.min():g} .. {v.max():g}); "
                           "Loihi has one decay per layer: use one value per layer")
    return float(v[0])


def _decay(x: float) -> float:
    """Snap a decay that lies on Loihi's 12-bit grid (up to float noise from tau) onto it."""
    q = round(x * 4096)
    return q / 4096 if abs(x * 4096 - q) < _SNAP else x


def _snap_one(g: np.ndarray) -> np.ndarray:
    return np.where(np.abs(g - 1.0) < 1e-9, 1.0, g)


def split_recurrence(graph) -> tuple[Any, dict[str, tuple[str, Any]]]:
    """The graph without its recurrent self-loops, and {neuron node: (name, Affine/Linear node)}.

    A recurrent layer in NIR (snnTorch's RLeaky/RSynaptic export, the NIR paper's Braille
    network) is a neuron node N with an Affine or Linear node R and the edges N -> R -> N,
    flat in the graph; R carries W_rec (docs/design.md §12). Anything else stays for
    :func:`_chain` to judge.
    """
    import types

    import nir

    nodes, edges = dict(graph.nodes), list(graph.edges)
    loops: dict[str, tuple[str, Any]] = {}
    neuron_types = (nir.LIF, nir.CubaLIF, nir.IF)
    for name, node in graph.nodes.items():
        if not isinstance(node, (nir.Affine, nir.Linear)):
            continue
        ins = [a for a, b in edges if b == name]
        outs = [b for a, b in edges if a == name]
        if len(ins) == 1 and outs == ins and isinstance(nodes.get(ins[0]), neuron_types) and ins[0] not in loops:
            loops[ins[0]] = (name, node)
    if not loops:
        return graph, loops
    drop = {r for r, _ in loops.values()}
    plain = types.SimpleNamespace(nodes={k: v for k, v in nodes.items() if k not in drop},
                                  edges=[(a, b) for a, b in edges if a not in drop and b not in drop])
    return plain, loops


def _layer(ops: list, neuron: tuple[str, Any], in_shape: tuple[int, ...], reading,
           rec: tuple[str, Any] | None = None) -> FloatLayer:
    from snnx.export.compose import compose
    from snnx.export.frameworks import discretize

    name, node = neuron
    s = compose(ops, in_shape)
    syn_name = next((o.name for o in ops if o.kind in ("dense", "conv")), None) or next(
        (o.name for o in ops if o.kind == "pool"), ops[-1].name)
    out_shape = s.out_shape
    n_out = int(np.prod(out_shape))

    def per_neuron(what: str) -> np.ndarray:
        v = _arr(getattr(node, what))
        if v.size not in (1, n_out):
            raise _unsupported(name, node, f"{what} has {v.size} values but the layer has {n_out} neurons")
        return np.broadcast_to(v.reshape(-1) if v.size == n_out else v.reshape(()), (n_out,)).astype(np.float64)

    d = discretize(name, node, reading, per_neuron)
    notes: list[str] = list(s.notes)
    theta = d.threshold
    if np.any(d.v_reset != 0):
        raise _unsupported(name, node, "v_reset is not 0; Loihi resets the membrane to 0 (retrain with reset to zero)")
    b_aff = s.bias.reshape(-1)
    w_rec = None
    if rec is not None:  # recurrent Affine/Linear: its weight and bias feed the same current as the synapse's
        w_rec, b_rec = _recurrent_weight(rec, s.kind, n_out)
        b_aff = b_aff + b_rec
    alpha = _uniform(name, node, "tau_syn" if d.kind == "cuba" else "tau", d.alpha)
    beta = _uniform(name, node, "tau_mem" if d.kind == "cuba" else "tau", d.beta)
    if d.kind == "cuba" and np.any(b_aff != 0) and alpha != 0:
        notes.append(f"Affine bias of {syn_name!r} feeds the synaptic current; approximated by its steady "
                     f"state b/(1-alpha) added to v (alpha = {alpha:.4g})")
        b_aff = b_aff / (1.0 - alpha)
    gain = d.gain
    drive = d.drive
    alpha, beta = _decay(alpha), _decay(beta)
    for what, value in (("alpha", alpha), ("beta", beta)):
        if not 0.0 <= value <= 1.0:
            raise _unsupported(name, node, f"the time constant gives {what} = {value:.6g} at dt = {reading.dt:g} s; "
                               "need tau >= dt (set the graph's dt metadata, pass the right --framework, or retrain)")
    gain = _snap_one(gain)
    # Loihi has one threshold per layer: a per-neuron threshold is folded into that neuron's
    # weights and bias (the neuron is linear and resets to 0, so scaling its state is exact).
    if np.any(theta <= 0):
        raise _unsupported(name, node, f"v_threshold {theta.min():g} is not positive; Loihi needs a positive threshold")
    theta_ref = float(theta.max())
    row = gain * (theta_ref / theta) if not np.all(theta == theta_ref) else gain
    weight = s.weight
    if np.any(row != 1.0):
        if s.kind == "conv":
            per_channel = row.reshape(out_shape[0], -1)
            if not np.all(np.isclose(per_channel, per_channel[:, :1], rtol=1e-12, atol=0)):
                raise _unsupported(name, node, "gains or thresholds that vary within a conv channel cannot be folded "
                                   "into the shared kernel; use one value per channel")
            weight = weight * per_channel[:, 0].reshape(-1, 1, 1, 1)
        else:
            weight = weight * row.reshape(-1, 1)
    bias = (drive + b_aff * gain) * (theta_ref / theta)
    if w_rec is not None:
        w_rec = w_rec * np.broadcast_to(row, (n_out,)).reshape(-1, 1)
    return FloatLayer(
        name=syn_name, kind=s.kind, weight=weight, bias=bias.reshape(out_shape) if np.any(bias) else None,
        alpha=alpha, beta=beta, threshold=theta_ref, in_shape=tuple(in_shape), out_shape=tuple(out_shape),
        flatten_before=bool(s.flatten), stride=s.stride, padding=s.padding, dilation=s.dilation,
        groups=s.groups, neuron=name, notes=notes, weight_rec=w_rec,
    )


def _recurrent_weight(rec: tuple[str, Any], kind: str, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(W_rec, bias) of a recurrent Affine/Linear node, checked against the layer it loops on."""
    name, node = rec
    w = _arr(node.weight)
    if kind != "dense":
        raise _unsupported(name, node, "recurrence around a convolution is not supported (netx dense_rec is dense)")
    if w.shape != (n_out, n_out) or not np.all(np.isfinite(w)):
        raise _unsupported(name, node, f"a recurrent weight must be finite and ({n_out}, {n_out}), got {w.shape}")
    b = getattr(node, "bias", None)
    b = np.zeros(n_out) if b is None else np.broadcast_to(_arr(b).reshape(-1), (n_out,))
    return w, b
