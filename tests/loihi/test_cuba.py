"""The one integer CUBA step against a plain Python-int transcription of Lava's equations.

The reference below is written from Lava's PyLifModelBitAcc (lava/proc/lif/models.py,
``subthr_dynamics`` and ``spiking_activation``) with Python integers, which never overflow:
a one-time wrap of the current into (-2**23, 2**23], saturation of the voltage to
+-(2**23 - 1), a strict threshold ``v > vth << 6`` and a reset of v only.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnx.loihi.cuba import CubaParams, cuba_step, pre_reset_voltage

MAX = 2**23


def _dec(x: int, m: int) -> int:
    p = x * m
    return (1 if p > 0 else -1 if p < 0 else 0) * (abs(p) >> 12)


def lava_step(
    a: int, u: int, v: int, du: int, dv: int, vth: int, bias: int
) -> tuple[bool, int, int]:
    x = _dec(u, 4096 - (du + 1)) + (a << 6)
    if x > MAX:
        u = x - 2 * MAX
    elif x <= -MAX:
        u = x + 2 * MAX
    else:
        u = x
    v = max(-(MAX - 1), min(MAX - 1, _dec(v, 4096 - dv) + u + (bias << 6)))
    s = v > (vth << 6)
    return s, u, 0 if s else v


def _edgy(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi], often at or next to the ends and at zero."""
    edges = [e for e in (lo, lo + 1, lo + 2, hi - 2, hi - 1, hi, -1, 0, 1) if lo <= e <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


# the whole state range: u as Lava leaves it, v as saturated; inputs as far as int32 holds a << 6
U = _edgy(-MAX + 1, MAX)
V = _edgy(-(MAX - 1), MAX - 1)
A = _edgy(-(2**24), 2**24)
DU = _edgy(-1, 4095)  # -1: netx iDecay 0, no current decay
DV = _edgy(0, 4095)
VTH = _edgy(0, 2**17 - 1)
BIAS = _edgy(-(2**12), 2**12 - 1)


@settings(max_examples=600, deadline=None)
@given(a=A, u=U, v=V, du=DU, dv=DV, vth=VTH, bias=BIAS)
def test_cuba_step_is_lavas_equations(a, u, v, du, dv, vth, bias):
    s, u1, v1 = cuba_step(
        np.array([a]), np.array([u]), np.array([v]), CubaParams(du, dv, vth, np.array([bias]))
    )
    assert (bool(s[0]), int(u1[0]), int(v1[0])) == lava_step(a, u, v, du, dv, vth, bias)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), du=DU, dv=DV, vth=VTH)
def test_cuba_step_runs_elementwise_over_arrays_for_many_steps(seed, du, dv, vth):
    rng = np.random.default_rng(seed)
    n, steps = 16, 12
    bias = rng.integers(-(2**12), 2**12, n)
    a = rng.integers(-(2**17), 2**17, (steps, n))
    u = np.zeros(n, dtype=np.int32)
    v = np.zeros(n, dtype=np.int32)
    ref = [(0, 0)] * n
    p = CubaParams(du, dv, vth, bias)
    for t in range(steps):
        s, u, v = cuba_step(a[t], u, v, p)
        for i in range(n):
            si, ui, vi = lava_step(int(a[t, i]), *ref[i], du, dv, vth, int(bias[i]))
            ref[i] = (ui, vi)
            assert (bool(s[i]), int(u[i]), int(v[i])) == (si, ui, vi)


def test_u_at_plus_2_pow_23_is_kept_as_lava_keeps_it():
    """x = 2**23 is not > 2**23: Lava leaves it (an old copy of the step mapped it to -2**23)."""
    s, u, v = cuba_step(
        np.array([2**17]), np.array([0]), np.array([0]), CubaParams(0, 0, 2**17 - 1)
    )
    assert u.tolist() == [2**23] and s.tolist() == [True] and v.tolist() == [0]
    assert lava_step(2**17, 0, 0, 0, 0, 2**17 - 1, 0) == (True, 2**23, 0)


def test_du_minus_one_does_not_decay_the_current():
    _, u, _ = cuba_step(np.array([0]), np.array([-12345]), np.array([0]), CubaParams(-1, 0, 100))
    assert u.tolist() == [-12345]
    _, u, _ = cuba_step(np.array([0]), np.array([-12345]), np.array([0]), CubaParams(0, 0, 100))
    assert u.tolist() == [-12345 * 4095 // 4096 + 1]  # truncation toward zero


@settings(max_examples=200, deadline=None)
@given(u=U, v=V, dv=DV, bias=BIAS)
def test_pre_reset_voltage_is_the_steps_voltage_before_the_reset(u, v, dv, bias):
    """What traces recompute at a spike is exactly the step's v before its reset."""
    vth = 0
    s, u1, v1 = cuba_step(
        np.array([0]), np.array([u]), np.array([v]), CubaParams(4095, dv, vth, np.array([bias]))
    )
    pre = pre_reset_voltage(np.array([v]), u1, dv, np.array([bias]))
    want = max(-(MAX - 1), min(MAX - 1, _dec(v, 4096 - dv) + int(u1[0]) + (bias << 6)))
    assert int(pre[0]) == want
    assert int(v1[0]) == (0 if s[0] else want)


def test_cuba_step_by_hand():
    # dec truncates toward zero: -5 * 2048 / 4096 = -2.5 -> -2 (floor would give -3)
    p = CubaParams(du=2047, dv=1024, vth=6, bias=np.array([2]))
    s, u, v = cuba_step(np.array([3]), np.array([-5]), np.array([100]), p)
    assert u.tolist() == [-2 + (3 << 6)]  # 190
    # v = 100 * 3072 / 4096 = 75; + u + (2 << 6) = 393 > 6 << 6 = 384: spike and reset
    assert s.tolist() == [True] and v.tolist() == [0]
    s, u, v = cuba_step(
        np.array([0]), np.array([0]), np.array([0]), CubaParams(4095, 0, 0, np.array([0]))
    )
    assert s.tolist() == [False] and v.tolist() == [0]  # strict >: v = 0 does not pass vth = 0


def test_cuba_step_wraps_once_and_saturates():
    p = CubaParams(du=0, dv=0, vth=131071)
    u0 = 2**23 - 10
    s, u, v = cuba_step(np.array([2**12]), np.array([u0]), np.array([2**23 - 1]), p)
    x = ((u0 * 4095) >> 12) + (2**12 << 6)  # > 2**23
    assert u.tolist() == [x - 2**24]  # wrapped once into (-2**23, 2**23]
    assert v.tolist() == [2**23 - 1 + (x - 2**24)]  # dv = 0 keeps v exactly
    s, u, v = cuba_step(np.array([-(2**16)]), np.array([0]), np.array([-(2**23) + 5]), p)
    assert u.tolist() == [-(2**22)] and v.tolist() == [-(2**23 - 1)]
