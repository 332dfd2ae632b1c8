"""The fast simulator's compiled loops (snnx/sim/fast_kernel.c) against the one integer step.

The kernel replaces numpy's neuron loop and im2col only; each is checked here against the
definition it must equal: :func:`snnx.loihi.cuba.cuba_step` for the recurrence (spikes, u, v at
every step, across the wrap of u and the saturation of v, float32 and float64 state, every input
type the synapses produce) and numpy's strided view for im2col. Bit-exactness with Lava of the
whole simulator is tests/sim/test_fast_vs_lava.py and test_fast_netx.py, which run with it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnx import native
from snnx.loihi.cuba import CubaParams, cuba_step
from snnx.sim import kernel
from snnx.sim.fast import _Lif

if kernel.library() is None:
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but the fast simulator's C kernel did not build (no C compiler?)", pytrace=False)
    pytest.skip("no C compiler here: the numpy path runs instead (tested by the other sim tests)",
                allow_module_level=True)


def _reference(a: np.ndarray, p: CubaParams, start: int, steps: int):
    """cuba_step over steps start..steps-1 on a [steps_a, B, N] (zero input after steps_a)."""
    shape = a.shape[1:]
    u = np.zeros(shape, np.int32)
    v = np.zeros(shape, np.int32)
    s_all = np.zeros((steps, *shape), bool)
    u_all = np.zeros((steps, *shape), np.int64)
    v_all = np.zeros((steps, *shape), np.int64)
    for t in range(start, steps):
        k = t - start
        a_t = a[k].astype(np.int64) if k < a.shape[0] else np.zeros(shape, np.int64)
        s, u, v = cuba_step(a_t, u, v, p)
        s_all[t], u_all[t], v_all[t] = s, u, v
    return s_all, u_all, v_all


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    du=st.sampled_from([-1, 0, 1, 2048, 3071, 4094, 4095]),
    dv=st.sampled_from([0, 1, 1024, 3072, 4095, 4096]),
    vth=st.sampled_from([0, 1, 25, 1000, 2**17 - 1]),
    kind=st.sampled_from(["f32", "f64", "u8", "bool"]),
    scale=st.sampled_from([1, 100, 10_000, 2**20]),
    bias=st.booleans(),
    start=st.integers(0, 3),
    threads=st.sampled_from([1, 2]),
)
def test_kernel_equals_the_integer_step(seed, du, dv, vth, kind, scale, bias, start, threads):
    """Random inputs, including ones big enough that u wraps and v saturates (scale 2**20: the
    float64 state with wrap and clip), compared at every step with the integer reference."""
    rng = np.random.default_rng(seed)
    steps, steps_a, samples, n = 9, 6, 3, 700  # n > 512: a sample spans two blocks
    if kind == "bool":
        a = rng.random((steps_a, samples, n)) < 0.4
    elif kind == "u8":
        a = rng.integers(0, 256, (steps_a, samples, n)).astype(np.uint8)
    else:
        a = rng.integers(-scale, scale + 1, (steps_a, samples, n)).astype(np.float32 if kind == "f32" else np.float64)
    b = rng.integers(-4096, 4096, n) if bias else None
    p = CubaParams(du, dv, vth, b)
    peak = 1.0 if kind == "bool" else float(np.abs(a.astype(np.float64)).max())
    lif = _Lif(p, (n,), max(peak, 1.0), steps)
    if not lif.exact_float:
        return  # the int32 reference path runs for these; nothing compiled to check
    if not kernel.applies(lif.dtype, a):
        pytest.fail(f"the kernel should take {np.dtype(lif.dtype).name} state with {a.dtype} input")
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        s, u, v = lif.run(a, start, steps, record_state=True)
    finally:
        torch.set_num_threads(old)
    s_ref, u_ref, v_ref = _reference(a, p, start, steps)
    assert np.array_equal(s, s_ref)
    assert np.array_equal(u, u_ref)
    assert np.array_equal(v, v_ref)


def test_the_wrap_and_saturation_paths_are_exercised():
    """The property test above reaches float64 state with both the wrap of u and the clip of v."""
    lif = _Lif(CubaParams(4095, 0, 2**17 - 1), (4,), 2.0**20, 9)
    assert lif.exact_float and lif.needs_wrap and lif.needs_clip and lif.dtype == np.float64


@pytest.mark.parametrize(
    "c,h,w,k,stride,pad,dil",
    [(3, 66, 200, 3, (2, 2), (0, 0), (1, 1)), (5, 9, 11, 3, (1, 2), (1, 2), (1, 1)),
     (4, 12, 12, 5, (2, 1), (2, 0), (2, 1)), (1, 7, 7, 1, (1, 1), (0, 0), (1, 1))],
)
def test_im2col_matches_numpys_strided_view(c, h, w, k, stride, pad, dil):
    rng = np.random.default_rng(0)
    x = rng.random((3, h, w, c)) < 0.5
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dil
    ho = (h + 2 * ph - dh * (k - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (k - 1) - 1) // sw + 1
    xp = np.pad(x.view(np.uint8), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    sm, sy, sx, sc = xp.strides
    view = np.lib.stride_tricks.as_strided(xp, (3, ho, wo, k, k, c), (sm, sy * sh, sx * sw, sy * dh, sx * dw, sc))
    want = np.ascontiguousarray(view).reshape(3 * ho * wo, -1)
    got = kernel.im2col(x, (k, k), stride, pad, dil, (ho, wo))
    assert got is not None and np.array_equal(got, want)


def test_a_failed_build_is_not_retried(tmp_path, monkeypatch):
    """A source that does not compile gives None, leaves a marker, and the next process (here: a
    cleared cache of loaded libraries) does not call the compiler again."""
    monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path))
    bad = tmp_path / "broken.c"
    bad.write_text("this is not C\n")
    assert native.load(bad, ["-O0", "-fPIC"], openmp=False) is None
    assert list((tmp_path / "kernels").glob("broken_*.failed"))
    native._loaded.clear()
    calls = []
    monkeypatch.setattr(native, "_compile", lambda *a: calls.append(a) or False)
    assert native.load(bad, ["-O0", "-fPIC"], openmp=False) is None
    assert calls == []
