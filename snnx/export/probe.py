"""Is the exported network alive? One-line warnings instead of a silent dead deployment.

A graph read with the wrong conventions (tau in the wrong units, a gain lost) quantizes
cleanly and never spikes. Two checks after export:

* a bound: with every input spiking on every step, the largest membrane potential a neuron
  can reach is ``(u_max + bias) / (1 - beta)`` with ``u_max = P / (1 - alpha)`` (P: its
  positive weights); a layer whose bound is below threshold for every neuron can never spike;
* a probe: a few samples of random input spikes (probability 0.5 per step) through the fast
  simulator; an output layer that stays silent on them is reported.
"""

from __future__ import annotations

import numpy as np

PROBE_SAMPLES, PROBE_STEPS, PROBE_RATE, PROBE_SEED = 8, 25, 0.5, 0


def never_spiking_layers(net) -> list[str]:
    """Names of synapse layers in which no neuron can ever reach threshold (integer units, docs/design.md §6.3)."""
    dead: list[str] = []
    in_max = 255.0 if net.input.encoding == "direct" else 1.0
    alive_in = True
    for i, layer in enumerate(net.synapse_layers):
        w = np.asarray(layer.weight, dtype=np.float64)
        if layer.kind == "dense":
            pos = np.clip(w, 0, None).sum(axis=1)
        else:
            pos = np.clip(w, 0, None).sum(axis=(1, 2, 3))[:, None, None] * np.ones(layer.shape)
        pos = pos.reshape(-1) * (in_max if i == 0 else 1.0) * (1.0 if alive_in else 0.0)
        bias = (
            np.zeros_like(pos)
            if layer.bias is None
            else np.asarray(layer.bias, dtype=np.float64).reshape(-1)
        )
        keep_u, keep_v = 1.0 - (layer.du + 1) / 4096.0, 1.0 - layer.dv / 4096.0
        with np.errstate(divide="ignore", invalid="ignore"):
            u_max = (
                np.where(pos > 0, 64.0 * pos / max(1.0 - keep_u, 0.0), 0.0)
                if keep_u < 1
                else np.where(pos > 0, np.inf, 0.0)
            )
            drive = u_max + 64.0 * bias
            v_max = np.where(drive > 0, drive / (1.0 - keep_v) if keep_v < 1 else np.inf, 0.0)
        can = bool(np.any(v_max > 64.0 * layer.vth))
        if not can:
            dead.append(layer.name or f"{layer.kind}{i + 1}")
        alive_in = can
    return dead


def silent_on_probe(net) -> bool:
    """True when the output layer emits no spike on the random probe input."""
    from snnx.sim.fast import FastSimulator

    rng = np.random.default_rng(PROBE_SEED)
    steps = int(net.input.timesteps or PROBE_STEPS)
    x = rng.random((PROBE_SAMPLES, steps, *net.input.shape)) < PROBE_RATE
    if net.input.encoding == "direct":
        x = (x * 255).astype(np.uint8)
    run = FastSimulator(net, steps, graded=net.input.encoding == "direct").run(x)
    return int(np.asarray(run.counts).sum()) == 0


def dead_network_warning(net) -> str | None:
    """The one warning line for a network that cannot work, or None."""
    dead = never_spiking_layers(net)
    if dead:
        return (
            f"warning: layer {dead[0]} can never reach its threshold, whatever the input, so the network "
            "can never spike; if the graph came from another framework, check --framework (its units of tau "
            "and its gains)"
        )
    if silent_on_probe(net):
        out = net.synapse_layers[-1].name or "output"
        return (
            f"warning: the output layer {out} is silent on {PROBE_SAMPLES} random inputs (spike probability "
            f"{PROBE_RATE} per step): the network may be dead; check --framework and the input scale"
        )
    return None


def warn_if_dead(net) -> None:
    line = dead_network_warning(net)
    if line:
        print(f"snnx: {line}")
