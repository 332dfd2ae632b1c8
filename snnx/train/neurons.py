"""The float CUBA LIF neuron, in Loihi's update order (DESIGN §4).

Per step, per neuron::

    i = alpha * i + x          # synaptic current (x = delayed synapse output W·s)
    v = beta * v + i + b       # membrane, bias b added every step (Loihi adds it to v)
    s = v > theta              # strict >, surrogate gradient in backward
    v = 0 where s              # reset to zero in the same step; i is not reset

This equals ``snntorch.Synaptic``/``snntorch.Leaky`` with ``reset_mechanism="zero"`` and
``reset_delay=False`` (tests check it); the step is written as a pure function so that
training and the float reference share it, and the loop over time is done once per layer
instead of once per module call, which is what makes training fast.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from snntorch import surrogate

SpikeFn = Callable[[torch.Tensor], torch.Tensor]


def make_spike_fn(name: str = "atan", slope: float = 2.0) -> SpikeFn:
    """snntorch surrogate: Heaviside(v - theta > 0) forward, smooth gradient backward."""
    if name == "atan":
        return surrogate.atan(alpha=slope)
    if name == "fast_sigmoid":
        return surrogate.fast_sigmoid(slope=25.0 * slope / 2.0)
    raise ValueError(f"unknown surrogate {name!r}")


def cuba_step(
    x: torch.Tensor,
    i: torch.Tensor,
    v: torch.Tensor,
    alpha: float | torch.Tensor,
    beta: float | torch.Tensor,
    threshold: float | torch.Tensor,
    bias: torch.Tensor | float,
    spike_fn: SpikeFn,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One CUBA LIF step; returns (spikes, current, voltage after reset)."""
    i = alpha * i + x if not (isinstance(alpha, float) and alpha == 0.0) else x
    v = beta * v + i + bias
    s = spike_fn(v - threshold)
    v = v * (1.0 - s.detach())  # reset to zero; no gradient through the reset (as snntorch)
    return s, i, v


def cuba_sequence(
    x: torch.Tensor,
    alpha: float | torch.Tensor,
    beta: float | torch.Tensor,
    threshold: float | torch.Tensor,
    bias: torch.Tensor | float,
    spike_fn: SpikeFn,
    record_v: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``cuba_step`` over the leading time axis of ``x`` [S, B, ...] from zero state.

    Returns spikes [S, B, ...] and, if asked, the membrane *before* reset at every step
    (what a membrane-trace plot or a membrane loss wants).
    """
    i = torch.zeros_like(x[0])
    v = torch.zeros_like(x[0])
    spikes, volts = [], []
    # unbind once: indexing x[t] in a loop makes autograd allocate a full-size gradient per step
    for x_t in x.unbind(0):
        if record_v:
            i = alpha * i + x_t
            v_pre = beta * v + i + bias
            s = spike_fn(v_pre - threshold)
            v = v_pre * (1.0 - s.detach())
            volts.append(v_pre)
        else:
            s, i, v = cuba_step(x_t, i, v, alpha, beta, threshold, bias, spike_fn)
        spikes.append(s)
    return torch.stack(spikes), (torch.stack(volts) if record_v else None)
