"""How each framework's NIR exporter writes its neurons, read into one discrete-time form.

NIR nodes are continuous-time equations, but every exporter writes its own discrete model
into them with its own units. The same ``LIF(tau=10, r=1)`` means tau = 10 s to the NIR spec,
10 *steps* with exp(-1/10) decay to Sinabs. Each convention below is stated with the line of
the framework that writes it (docs/interop.md has the full table); whatever a graph does not
record (reset, spikes per step, Sinabs' norm_input) is assumed at the framework's default and
said in one line, never silently.

The common form, per neuron, for one step of length dt (docs/design.md §4)::

    i = alpha * i + in_gain * I          (LIF/IF: alpha = 0, i = in_gain * I)
    v = beta * v + v_gain * i + drive
    s = v > threshold;  v = 0 where s
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnx.errors import SnnxError

FRAMEWORKS = (
    "auto",
    "snnx",
    "snntorch",
    "norse",
    "sinabs",
    "rockpool",
    "spikingjelly",
    "lava-dl",
    "nir",
)

# dt each exporter assumes when the graph carries none (seconds)
SNNTORCH_DT = 1e-4  # snntorch/export_nir.py: ``dt = 1e-4`` in _extract_snntorch_module
SPIKINGJELLY_DT = (
    1e-4  # spikingjelly/activation_based/nir_exchange/to_nir.py: export_to_nir(dt=1e-4)
)
NORSE_DT = 1e-3  # norse/torch/utils/export_nir.py: to_nir(dt=0.001); LIFCell's own default dt
ROCKPOOL_DT_GUESS = 1e-3  # rockpool LIFTorch(dt=1e-3); the exact dt is solved from r


@dataclass(frozen=True)
class Discrete:
    """One neuron node in the common discrete form (arrays: one value per neuron)."""

    kind: str  # lif | cuba | if
    alpha: np.ndarray
    beta: np.ndarray
    in_gain: np.ndarray
    v_gain: np.ndarray
    drive: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray

    @property
    def gain(self) -> np.ndarray:
        return self.in_gain * self.v_gain


@dataclass(frozen=True)
class Reading:
    """Which exporter's conventions a graph is read with, and what had to be assumed."""

    framework: str
    dt: float
    assumed: str  # one line for the user
    notes: tuple[str, ...] = ()  # reset semantics and other things the graph cannot say


# ----------------------------------------------------------------------------- recognising


def _vals(node: Any, what: str) -> np.ndarray:
    v = getattr(node, what, None)
    return np.asarray(v if v is not None else np.nan, dtype=np.float64).reshape(-1)


def _neurons(graph) -> list[tuple[str, Any]]:
    import nir

    return [(k, n) for k, n in graph.nodes.items() if isinstance(n, (nir.LIF, nir.CubaLIF, nir.IF))]


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4) -> bool:
    return a.size > 0 and b.size > 0 and bool(np.allclose(a, b, rtol=rtol, atol=0))


def _rockpool_dt(tau: np.ndarray, r: np.ndarray) -> float | None:
    """Solve Rockpool's ``r = tau * exp(-dt / tau) / dt`` for dt (the left side falls with dt)."""
    t, rr = float(tau.reshape(-1)[0]), float(r.reshape(-1)[0])
    if not (t > 0 and rr > 0 and math.isfinite(t) and math.isfinite(rr)):
        return None
    lo, hi = 1e-12, 50.0 * t
    f = lambda dt: t * math.exp(-dt / t) / dt - rr  # noqa: E731
    if f(lo) < 0 or f(hi) > 0:
        return None
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
    return math.sqrt(lo * hi)


def detect(graph, meta: dict[str, Any]) -> tuple[str, str]:
    """(framework, why) from what the exporters leave in a graph; ``nir`` when nothing matches."""
    import nir

    if meta.get("snnx_version") or meta.get("delay") or meta.get("timesteps"):
        return "snnx", "snnx metadata"
    names = list(graph.nodes)
    if any(
        n.endswith(("_LinearTorch", "_LIFTorch", "_LIFNeuronTorch", "_ExpSynTorch")) for n in names
    ):
        return "rockpool", "Rockpool's node names (<index>_LIFTorch)"
    neurons = _neurons(graph)
    if "dt" in meta:
        return "nir", f"the graph's dt metadata ({meta['dt']:g} s)"
    for _, node in neurons:
        r = _vals(node, "r")
        if isinstance(node, nir.CubaLIF):
            tau_syn, tau_mem, w_in = (
                _vals(node, "tau_syn"),
                _vals(node, "tau_mem"),
                _vals(node, "w_in"),
            )
            if _close(r, tau_mem / SNNTORCH_DT) and _close(w_in, tau_syn / SNNTORCH_DT):
                return (
                    "snntorch",
                    "r = tau_mem/dt and w_in = tau_syn/dt at dt = 1e-4 s (snnTorch/SpikingJelly)",
                )
            if np.all(r == 1) and np.all(w_in == 1) and np.nanmax(tau_mem) < NORSE_DT:
                return (
                    "norse",
                    "CubaLIF with r = w_in = 1 and time constants below 1 ms (Norse writes dt*tau)",
                )
            if (
                np.all(w_in == 1)
                and np.all(r < tau_mem / ROCKPOOL_DT_GUESS * 1.0001)
                and _rockpool_dt(tau_mem, r)
            ):
                return "rockpool", "r = tau*exp(-dt/tau)/dt (Rockpool)"
        elif isinstance(node, nir.LIF):
            tau = _vals(node, "tau")
            if _close(r, tau / SNNTORCH_DT):
                return (
                    "snntorch",
                    "r = tau/dt at dt = 1e-4 s (snnTorch, or SpikingJelly with decay_input=False)",
                )
            if np.all(r == 1) and np.nanmin(tau) >= 1.0:
                return "sinabs", "LIF with r = 1 and tau >= 1 (Sinabs writes tau in time steps)"
            if np.all(r == 1) and _close(
                np.round(tau / SPIKINGJELLY_DT, 6), np.round(tau / SPIKINGJELLY_DT)
            ):
                if np.any(np.abs(_vals(node, "v_reset") - _vals(node, "v_leak")) > 0):
                    continue
                return (
                    "spikingjelly",
                    "LIF with r = 1 and tau a whole number of 1e-4 s steps (SpikingJelly)",
                )
            if np.all(r == 1) and np.nanmax(tau) < NORSE_DT:
                return "norse", "LIF with r = 1 and tau below 1 ms (Norse writes dt*tau)"
        elif isinstance(node, nir.IF):
            if _close(r, np.full_like(r, 1.0 / SPIKINGJELLY_DT)):
                return "spikingjelly", "IF with r = 1/dt at dt = 1e-4 s (SpikingJelly)"
    if neurons and all(isinstance(n, nir.IF) and np.all(_vals(n, "r") == 1) for _, n in neurons):
        return "sinabs", "IF neurons with r = 1 and no dt (Sinabs IAF)"
    return "nir", "no exporter's signature"


def reading_for(graph, meta: dict[str, Any], framework: str, dt_default: float) -> Reading:
    """The conventions to read ``graph`` with (``framework`` from --framework, or ``auto``)."""
    if framework not in FRAMEWORKS:
        raise SnnxError(f"--framework {framework!r} is not one of {', '.join(FRAMEWORKS)}")
    why = "--framework"
    if framework == "auto":
        framework, why = detect(graph, meta)
    dt_meta = float(meta["dt"]) if "dt" in meta else None
    neurons = _neurons(graph)
    notes: list[str] = []
    if framework in ("snnx", "nir"):
        dt = dt_meta if dt_meta is not None else dt_default
        src = "metadata" if dt_meta is not None else "default, none in the graph"
        assumed = f"NIR equations, forward Euler at dt = {dt:g} s ({src})"
    elif framework == "snntorch":
        dt = dt_meta or SNNTORCH_DT
        assumed = f"forward Euler at dt = {dt:g} s, tau = dt/(1-beta), r = tau/dt"
        notes += _snntorch_resets(graph)
    elif framework == "spikingjelly":
        dt = dt_meta or SPIKINGJELLY_DT
        assumed = f"forward Euler at dt = {dt:g} s, tau = tau_steps*dt, hard reset (its exporter refuses soft reset)"
        notes.append(
            "SpikingJelly fires at v >= v_threshold, Loihi at v > threshold: equal only when v never "
            "lands exactly on the threshold"
        )
    elif framework == "lava-dl":
        dt = dt_meta or dt_default
        assumed = (
            f"lava-dl CUBA: du = dt/tau_syn, dv = dt/tau_mem at dt = {dt:g} s, current and voltage gains "
            "w_in and r taken as plain multipliers"
        )
    elif framework == "norse":
        dt = NORSE_DT
        assumed = (
            f"Norse: tau written as dt*tau at dt = {dt:g} s (Norse's default), no w_in (input jumps the "
            "current by 1), membrane gain dt/tau_mem"
        )
        notes.append("Norse's reset is to v_reset = 0, one spike per step, as on Loihi")
    elif framework == "sinabs":
        dt = 1.0
        has_lif = any(type(n).__name__ == "LIF" for _, n in neurons)
        assumed = (
            "Sinabs: LIF tau in time steps, decay exp(-1/tau), norm_input=True (input scaled by 1-exp(-1/tau); "
            "not recorded in the graph)"
            if has_lif
            else "Sinabs: IAF neurons, v += r * I per step (no dt)"
        )
        notes.append(
            "Sinabs' LIF/IAF default reset is MembraneSubtract with MultiSpike (several spikes per step); "
            "the graph does not record them: Loihi resets to 0 and sends at most one spike per step"
        )
    elif framework == "rockpool":
        dt = _rockpool_graph_dt(neurons) or ROCKPOOL_DT_GUESS
        assumed = (
            f"Rockpool: dt = {dt:.6g} s solved from r = tau*exp(-dt/tau)/dt, decays exp(-dt/tau), "
            "input scaled by the synaptic decay"
        )
        notes.append(
            "Rockpool's LIFTorch resets by subtraction and sends up to 2**16 spikes per step; the graph "
            "does not record it: Loihi resets to 0 and sends at most one spike per step"
        )
    else:  # pragma: no cover - FRAMEWORKS is checked above
        raise AssertionError(framework)
    return Reading(framework, float(dt), f"read as {framework} ({why}): {assumed}", tuple(notes))


def _rockpool_graph_dt(neurons: list[tuple[str, Any]]) -> float | None:
    for _, node in neurons:
        tau = _vals(node, "tau_mem") if hasattr(node, "tau_mem") else _vals(node, "tau")
        dt = _rockpool_dt(tau, _vals(node, "r"))
        if dt is not None:
            return dt
    return None


def _snntorch_resets(graph) -> list[str]:
    import nir

    kinds = {type(n) for _, n in _neurons(graph)}
    notes = [
        "snnTorch graphs do not record reset_mechanism: read as reset to zero, what Loihi does; a model "
        "trained with snnTorch's default reset_mechanism='subtract' will differ on Loihi (retrain with "
        "reset_mechanism='zero')"
    ]
    if nir.CubaLIF in kinds:
        notes.append(
            "snnTorch's Synaptic defaults to reset_delay=True (the membrane is zeroed one step after the "
            "spike), which the graph does not record: Loihi resets in the same step (retrain with "
            "reset_delay=False)"
        )
    return notes


# ----------------------------------------------------------------------------- one neuron node


def discretize(name: str, node: Any, reading: Reading, per_neuron) -> Discrete:
    """``node`` (LIF, CubaLIF or IF) in the common form, under ``reading``'s conventions.

    ``per_neuron(what)`` gives a node attribute broadcast to one float per neuron (it refuses
    a wrong size with the node's name).
    """
    import nir

    fw, dt = reading.framework, reading.dt
    ones = np.ones_like(per_neuron("v_threshold"))
    zeros = np.zeros_like(ones)
    theta = per_neuron("v_threshold")
    reset = per_neuron("v_reset") if getattr(node, "v_reset", None) is not None else zeros
    leak = per_neuron("v_leak") if getattr(node, "v_leak", None) is not None else zeros
    r = per_neuron("r")

    if isinstance(node, nir.IF):
        # Euler: v += r*dt*I (SpikingJelly writes r = 1/dt); Sinabs/Norse IAF: v += r*I
        g = r * dt if fw in ("snnx", "nir", "snntorch", "spikingjelly", "lava-dl") else r
        return Discrete("if", zeros, ones, g, ones, zeros, theta, reset)

    if isinstance(node, nir.LIF):
        tau = per_neuron("tau")
        if (
            fw == "sinabs"
        ):  # sinabs/layers/functional/lif.py: v = alpha*v + (1-alpha)*I, alpha = exp(-1/tau)
            beta = np.exp(-1.0 / tau)
            return Discrete(
                "lif", zeros, beta, r * (1.0 - beta), ones, leak * (1.0 - beta), theta, reset
            )
        if fw == "rockpool":  # lif_neuron_torch.py: vmem *= exp(-dt/tau); vmem += input
            return Discrete("lif", zeros, np.exp(-dt / tau), ones, ones, zeros, theta, reset)
        if (
            fw == "norse"
        ):  # lif_box: v += dt*tau_inv*(v_leak - v + I); tau written as dt/tau_inv = dt*tau
            k = dt * dt / tau
            return Discrete("lif", zeros, 1.0 - k, r * k, ones, leak * k, theta, reset)
        k = dt / tau  # NIR: tau dv/dt = (v_leak - v) + r*I, forward Euler
        return Discrete("lif", zeros, 1.0 - k, r * k, ones, leak * k, theta, reset)

    tau_syn, tau_mem = per_neuron("tau_syn"), per_neuron("tau_mem")
    w_in = per_neuron("w_in") if getattr(node, "w_in", None) is not None else ones
    if (
        fw == "norse"
    ):  # functional/lif.py: i += I; v += dt*tau_mem_inv*((v_leak - v) + i); i *= 1-dt*tau_syn_inv
        ks, km = dt * dt / tau_syn, dt * dt / tau_mem
        return Discrete("cuba", 1.0 - ks, 1.0 - km, w_in, r * km, leak * km, theta, reset)
    if fw == "rockpool":  # lif_torch.py: isyn += I; vmem *= beta; isyn *= alpha; vmem += isyn
        a, b = np.exp(-dt / tau_syn), np.exp(-dt / tau_mem)
        return Discrete("cuba", a, b, a * w_in, ones, zeros, theta, reset)
    if fw == "lava-dl":
        ks, km = dt / tau_syn, dt / tau_mem
        return Discrete("cuba", 1.0 - ks, 1.0 - km, w_in, r, leak * km, theta, reset)
    ks, km = dt / tau_syn, dt / tau_mem  # NIR CubaLIF, forward Euler
    return Discrete("cuba", 1.0 - ks, 1.0 - km, w_in * ks, r * km, leak * km, theta, reset)


def input_shape(shape: tuple[int, ...], first: Any) -> tuple[tuple[int, ...], str | None]:
    """Drop the batch (or time) dimensions exporters put into Input (nirtorch keeps the sample's).

    Returns the shape and a one-line note when something was dropped.
    """
    import nir

    if isinstance(first, (nir.Affine, nir.Linear)):
        want = 1  # a dense layer straight after Input: [1, 784] is one sample of 784
    elif isinstance(first, (nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)):
        want = 3
    else:  # e.g. Flatten: the shape is what it flattens
        return tuple(shape), None
    out = tuple(shape)
    while len(out) > want and out[0] == 1:
        out = out[1:]
    if out != tuple(shape):
        return (
            out,
            f"Input shape {list(shape)} read as {list(out)} (a leading batch/time dimension of 1 dropped)",
        )
    return out, None
