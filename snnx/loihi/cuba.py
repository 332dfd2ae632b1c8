"""The one integer CUBA LIF step: Lava's PyLifModelBitAcc, operation for operation (docs/design.md §6.3).

Every integer simulation in snnx calls this: the fast simulator's exact fallback
(:mod:`snnx.sim.fast`), the plain integer reference (:mod:`snnx.export.intref`) and the
membrane traces (:mod:`snnx.sim.trace` via :func:`pre_reset_voltage`). The fast simulator's
float64 path is the same arithmetic, used only where bounds prove it equal.

``du = -1`` (netx ``iDecay = 0``) is accepted: Lava's decay constant ``du + 1`` is then 0, so
the current does not decay, which this arithmetic gives with no special case; so does
``dv = 4096`` (netx ``vDecay = 4096``: v keeps nothing, v = u + bias) and netx's integrator for a
dense layer without neurons (du = -1, dv = 4096, a threshold v never reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnx.loihi.limits import ACT_SHIFT, BIAS_EXP, DECAY_SHIFT, U_MAX, V_MAX, VTH_SHIFT
from snnx.loihi.net import LoihiLayer

DECAY_UNITY = 1 << DECAY_SHIFT


@dataclass(frozen=True)
class CubaParams:
    """One CUBA population: decays, threshold and per-neuron bias mantissa (bias_exp = 6)."""

    du: int
    dv: int
    vth: int
    bias: np.ndarray | None = None  # bias_mant, broadcastable to the neuron shape


def cuba_params(layer: LoihiLayer) -> CubaParams:
    return CubaParams(du=int(layer.du), dv=int(layer.dv), vth=int(layer.vth), bias=layer.bias)


def decay(x: np.ndarray, multiplier: int) -> np.ndarray:
    """``sign(x * m) * (|x * m| >> 12)`` in int64, as Lava decays u and v."""
    prod = np.asarray(x).astype(np.int64) * int(multiplier)
    return np.sign(prod) * np.right_shift(np.abs(prod), DECAY_SHIFT)


def pre_reset_voltage(
    v_prev: np.ndarray, u: np.ndarray, dv: int, bias: np.ndarray | None
) -> np.ndarray:
    """``sat(dec(v_prev, 4096 - dv) + u + (bias << 6))``: the membrane before the spike reset.

    int32 arithmetic as Lava (``u`` is already wrapped to 24 bits, so it cannot overflow).
    """
    y = decay(v_prev, DECAY_UNITY - int(dv)).astype(np.int32)
    y = y + np.asarray(u, dtype=np.int32)
    if bias is not None:
        y = y + np.left_shift(np.asarray(bias, dtype=np.int32), BIAS_EXP)
    return np.clip(y, -V_MAX, V_MAX).astype(np.int32)


def cuba_step(
    a_in: np.ndarray, u: np.ndarray, v: np.ndarray, p: CubaParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of Lava's PyLifModelBitAcc, operation for operation (int32 state).

    ::

        dec(x, m) = sign(x * m) * (|x * m| >> 12)                  (int64 product)
        x  = int32(dec(u, 4096 - (du + 1))) + (int32(a_in) << 6)   (int32, wraps mod 2**32)
        u  = x - 2**24 if x > 2**23  else  x + 2**24 if x <= -2**23  else  x
        y  = int32(dec(v, 4096 - dv)) + u + (bias << 6)            (int32)
        v  = clip(y, -(2**23 - 1), 2**23 - 1)
        s  = v > (vth << 6);   v[s] = 0                            (u is not reset)

    Returns (spikes bool, u int32, v int32); inputs are not modified.
    """
    a = np.asarray(a_in).astype(np.int32)
    with np.errstate(over="ignore"):
        x = decay(u, DECAY_UNITY - (int(p.du) + 1)).astype(np.int32)
        x += np.left_shift(a, ACT_SHIFT)
    u_new = np.where(x > U_MAX, x - 2 * U_MAX, x)
    u_new = np.where(u_new <= -U_MAX, x + 2 * U_MAX, u_new).astype(np.int32)
    v_new = pre_reset_voltage(v, u_new, p.dv, p.bias)
    s = v_new > np.left_shift(np.int32(p.vth), VTH_SHIFT)
    v_new[s] = 0
    return s, u_new, v_new
