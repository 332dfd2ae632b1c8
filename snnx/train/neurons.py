"""The float CUBA LIF neuron, in Loihi's update order (docs/design.md §4).

Per step, per neuron::

    i = alpha * i + x          # synaptic current (x = delayed synapse output W·s)
    v = beta * v + i + b       # membrane, bias b added every step (Loihi adds it to v)
    s = v > theta              # strict >, surrogate gradient in backward
    v = 0 where s              # reset to zero in the same step; i is not reset

This equals ``snntorch.Synaptic``/``snntorch.Leaky`` with ``reset_mechanism="zero"`` and
``reset_delay=False`` (tests check it); the step is written as a pure function so that
training and the float reference share it, and the loop over time is done once per layer
instead of once per module call, which is what makes training fast.

Training goes through :class:`CubaBPTT`: the same recurrence, but forward runs without an
autograd graph and backward is the hand-written BPTT recursion (one fused op per step) with
the surrogate derivative taken from snntorch's own spike function, a few steps per call.
Per step that is ~5 tensor ops instead of ~20 autograd nodes; gradients equal the plain
autograd loop's (tests compare them). On a CPU the compiled kernel of :mod:`snnx.train.kernel`
runs both passes in one loop over time per block of neurons, with the same float32 operations
(docs/design.md §13).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from snntorch import surrogate

from snnx.train import kernel

SpikeFn = Callable[[torch.Tensor], torch.Tensor]
BPTT_CHUNK = 4  # steps per surrogate-derivative call in CubaBPTT.backward (keeps data in cache)


def make_spike_fn(name: str = "atan", slope: float = 2.0) -> SpikeFn:
    """snntorch surrogate: Heaviside(v - theta > 0) forward, smooth gradient backward."""
    if name == "atan":
        fn, param = surrogate.atan(alpha=slope), float(slope)
    elif name == "fast_sigmoid":
        fn, param = surrogate.fast_sigmoid(slope=25.0 * slope / 2.0), 25.0 * slope / 2.0
    else:
        raise ValueError(f"unknown surrogate {name!r}")
    fn.snnx_surrogate = (name, param)  # lets the compiled kernel (snnx.train.kernel) take its derivative
    return fn


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


class CubaBPTT(torch.autograd.Function):
    """The CUBA LIF over all steps with a hand-written backward pass (BPTT).

    With a_t = dL/ds_t * surrogate'(v_pre_t - theta), the gradient of the pre-reset membrane is
    G_t = a_t + beta (1 - s_t) G_{t+1} (the reset is not differentiated, as in snntorch), the
    current's is H_t = G_t + alpha H_{t+1}, and dL/dx_t = H_t, dL/db = sum G, dL/dtheta = -sum a.
    The output has ``hold`` zero steps in front (see :func:`cuba_sequence`), written in place.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, bias: torch.Tensor, threshold: torch.Tensor, alpha: float,
                beta: float, spike_fn: SpikeFn, steps: int, hold: int, repeat: int = 0) -> torch.Tensor:
        ctx.alpha, ctx.beta, ctx.spike_fn, ctx.hold, ctx.n_in = alpha, beta, spike_fn, hold, x.shape[0]
        ctx.steps = steps
        ctx.repeat = repeat
        ctx.compiled = kernel.applies(x, threshold, spike_fn) and bias.dim() <= x.dim() - 1
        if ctx.compiled:  # saves the input, not the membranes: backward recomputes them
            bias_e = kernel.bias_per_element(bias.detach(), x)
            ctx.th = float(threshold)
            out = kernel.forward(x.detach(), repeat or x.shape[0], bool(repeat), bias_e, ctx.th, alpha, beta,
                                 steps, hold)
            ctx.save_for_backward(x, bias_e, bias, threshold)
            return out
        if repeat:  # one step of current, the same at each of the first ``repeat`` steps
            x = x.expand(repeat, *x.shape[1:])
        with torch.no_grad():
            out = x.new_empty(hold + steps, *x.shape[1:])
            out[:hold] = 0.0
            spikes = out[hold:]
            v_pre = x.new_empty(steps, *x.shape[1:])
            i = torch.zeros_like(x[0])
            v = torch.zeros_like(x[0])
            for t in range(steps):
                x_t = x[t] if t < x.shape[0] else None
                if alpha != 0.0:
                    i = i.mul_(alpha).add_(x_t) if x_t is not None else i.mul_(alpha)
                else:
                    i = x_t if x_t is not None else torch.zeros_like(v)
                vp = torch.add(v.mul_(beta), i, out=v_pre[t]).add_(bias)  # cuba_step's rounding
                s = vp > threshold  # the surrogate's forward, Heaviside(v - theta), in one op
                spikes[t] = s
                v = vp.masked_fill(s, 0.0)
        ctx.save_for_backward(v_pre, out, bias, threshold)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        if ctx.compiled:
            return CubaBPTT._backward_compiled(ctx, grad_out)
        v_pre, out, bias, threshold = ctx.saved_tensors
        spikes = out[ctx.hold:]
        grad_s = grad_out[ctx.hold:]
        th = threshold.detach()
        a = torch.empty_like(v_pre)
        g_v = torch.empty_like(v_pre)
        g = torch.zeros_like(v_pre[0])
        n = v_pre.shape[0]
        for end in range(n, 0, -BPTT_CHUNK):  # chunks of steps, newest first, cache-sized
            start = max(0, end - BPTT_CHUNK)
            with torch.enable_grad():  # snntorch's own surrogate derivative
                vp = v_pre[start:end].detach().requires_grad_()
                (a[start:end],) = torch.autograd.grad(ctx.spike_fn(vp - th), vp, grad_s[start:end])
            keep = (1.0 - spikes[start:end]).mul_(ctx.beta)
            for t in range(end - 1, start - 1, -1):
                g = torch.addcmul(a[t], keep[t - start], g, out=g_v[t])
        g_x = g_v
        if ctx.alpha != 0.0:
            g_x = torch.empty_like(g_v)
            h = torch.zeros_like(a[0])
            for t in range(a.shape[0] - 1, -1, -1):
                h = torch.add(g_v[t], h, alpha=ctx.alpha, out=g_x[t])
        g_b = g_v.sum_to_size(bias.shape) if ctx.needs_input_grad[1] else None
        g_th = -a.sum_to_size(threshold.shape) if ctx.needs_input_grad[2] else None
        g_x = g_x[: ctx.repeat].sum(0, keepdim=True) if ctx.repeat else g_x[: ctx.n_in]
        return g_x, g_b, g_th, None, None, None, None, None, None

    @staticmethod
    def _backward_compiled(ctx, grad_out: torch.Tensor):
        x, bias_e, bias, threshold = ctx.saved_tensors
        # steps after the input ended get no gradient to x; a repeated input gets the sum over its steps
        n_x = ctx.repeat or ctx.n_in
        g_x, gv_sum, a_sum = kernel.backward(x.detach(), n_x, bool(ctx.repeat), bias_e, grad_out[ctx.hold:], ctx.th,
                                             ctx.alpha, ctx.beta, ctx.spike_fn, ctx.steps, bool(ctx.repeat))
        if not ctx.repeat:
            g_x = g_x[:n_x]
        g_b = gv_sum.sum_to_size(bias.shape) if ctx.needs_input_grad[1] else None
        g_th = -a_sum.sum().reshape(threshold.shape) if ctx.needs_input_grad[2] else None
        return g_x, g_b, g_th, None, None, None, None, None, None


class CubaDense(torch.autograd.Function):
    """:class:`CubaBPTT` on the compiled kernel, fused with the small dense synapse its spikes feed.

    Returns the spikes [hold + steps, B, ...] (with ``keep_spikes``; else only the current) and the
    next layer's current c[t] = W s_t for the first ``steps`` - 1 steps (the next layer runs one step
    less: one step of synapse delay), [steps - 1, B, M].
    The kernel forms c, dL/ds_t = g_s[t] + W^T g_c[t] and dL/dW = sum_t g_c[t]^T s_t per block of
    neurons, from spikes it recomputes, instead of three matmuls over a stored [T, B, N] spike tensor
    and its gradient (docs/design.md §13). Without ``keep_spikes`` the spike tensor (4 bytes per
    neuron and step) is not even written: training reads only the output layer's spikes.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, bias: torch.Tensor, threshold: torch.Tensor, weight: torch.Tensor,
                alpha: float, beta: float, spike_fn: SpikeFn, steps: int, hold: int, repeat: int,
                keep_spikes: bool) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        ctx.set_materialize_grads(False)
        ctx.keep_spikes = keep_spikes
        ctx.alpha, ctx.beta, ctx.spike_fn, ctx.steps, ctx.hold = alpha, beta, spike_fn, steps, hold
        ctx.repeat, ctx.n_in, ctx.th = repeat, x.shape[0], float(threshold)
        bias_e = kernel.bias_per_element(bias.detach(), x)
        spikes, cur = kernel.dense_forward(x.detach(), repeat or x.shape[0], bool(repeat), bias_e, ctx.th, alpha,
                                           beta, steps, hold, weight, steps - 1, keep_spikes)
        ctx.save_for_backward(x, bias_e, bias, threshold, weight)
        return (spikes, cur) if keep_spikes else cur

    @staticmethod
    def backward(ctx, *grads: torch.Tensor | None):
        grad_spikes, grad_cur = grads if ctx.keep_spikes else (None, grads[0])
        x, bias_e, bias, threshold, weight = ctx.saved_tensors
        n_x = ctx.repeat or ctx.n_in
        if grad_cur is None:
            grad_cur = x.new_zeros(ctx.steps - 1, x.shape[1], weight.shape[0])
        g_s = None if grad_spikes is None else grad_spikes[ctx.hold:]
        g_x, gv_sum, a_sum, g_w = kernel.dense_backward(x.detach(), n_x, bool(ctx.repeat), bias_e, g_s, ctx.th,
                                                        ctx.alpha, ctx.beta, ctx.spike_fn, ctx.steps,
                                                        bool(ctx.repeat), weight, grad_cur)
        if not ctx.repeat:
            g_x = g_x[:n_x]
        g_b = gv_sum.sum_to_size(bias.shape) if ctx.needs_input_grad[1] else None
        g_th = -a_sum.sum().reshape(threshold.shape) if ctx.needs_input_grad[2] else None
        g_w = g_w if ctx.needs_input_grad[3] else None
        return g_x, g_b, g_th, g_w, None, None, None, None, None, None, None


def cuba_dense_sequence(x: torch.Tensor, alpha: float | torch.Tensor, beta: float | torch.Tensor,
                        threshold: float | torch.Tensor, bias: torch.Tensor | float, spike_fn: SpikeFn,
                        weight: torch.Tensor, steps: int, hold: int = 0, repeat: int = 0, keep_spikes: bool = True
                        ) -> tuple[torch.Tensor | None, torch.Tensor] | None:
    """:func:`cuba_sequence` (fused, no membranes) and the current its spikes send through the dense
    ``weight`` [M, N] to the next layer, [steps - 1, B, M] (see :class:`CubaDense`); the spikes are
    None without ``keep_spikes``. None where the compiled kernel cannot run it (then use
    :func:`cuba_sequence` and the synapse)."""
    th_t = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
    bias_t = torch.as_tensor(bias, dtype=x.dtype, device=x.device)
    if not (isinstance(alpha, float) and isinstance(beta, float) and steps >= 2 and kernel.applies(x, th_t, spike_fn)
            and bias_t.dim() <= x.dim() - 1 and weight.dtype == x.dtype and weight.device == x.device
            and weight.dim() == 2 and weight.shape[1] == x[0, 0].numel() and weight.shape[0] <= kernel.MAX_FED):
        return None
    out = CubaDense.apply(x, bias_t, th_t, weight, alpha, beta, spike_fn, steps, hold, repeat, keep_spikes)
    return out if keep_spikes else (None, out)


def cuba_sequence(
    x: torch.Tensor,
    alpha: float | torch.Tensor,
    beta: float | torch.Tensor,
    threshold: float | torch.Tensor,
    bias: torch.Tensor | float,
    spike_fn: SpikeFn,
    record_v: bool = False,
    fused: bool = True,
    steps: int | None = None,
    hold: int = 0,
    repeat: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``cuba_step`` over the leading time axis of ``x`` [n, B, ...] from zero state.

    Runs ``steps`` steps (default n; input after step n is zero) and returns spikes
    [hold + steps, B, ...] whose first ``hold`` steps are zero (a layer at rest until its
    input arrives) and, if asked, the membrane *before* reset at every step (what a
    membrane-trace plot or a membrane loss wants). ``fused`` uses :class:`CubaBPTT` when it
    applies (deterministic spikes, float decays, no membrane record). ``repeat`` > 0: ``x`` is one
    step [1, B, ...] of current that every one of the first ``repeat`` steps receives (a direct-coded
    image through the first synapse), so neither the current nor its gradient is stored per step.
    """
    if repeat:
        if not (fused and not record_v and isinstance(alpha, float) and isinstance(beta, float)):
            x = x.expand(repeat, *x.shape[1:])
            repeat = 0
        elif steps is None:
            steps = repeat
    steps = x.shape[0] if steps is None else steps
    if fused and not record_v and isinstance(alpha, float) and isinstance(beta, float):
        bias_t = torch.as_tensor(bias, dtype=x.dtype, device=x.device)
        th_t = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
        return CubaBPTT.apply(x, bias_t, th_t, alpha, beta, spike_fn, steps, hold, repeat), None
    if x.shape[0] < steps:
        x = torch.cat([x, x.new_zeros(steps - x.shape[0], *x.shape[1:])])
    i = torch.zeros_like(x[0])
    v = torch.zeros_like(x[0])
    spikes, volts = [torch.zeros_like(x[0])] * hold, [torch.zeros_like(x[0])] * hold
    # unbind once: indexing x[t] in a loop makes autograd allocate a full-size gradient per step
    for x_t in x[:steps].unbind(0):
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
