"""The fast simulator's compiled loops (``fast_kernel.c``): the neuron recurrence and im2col.

Why: numpy runs the CUBA recurrence as ~10 passes over a block's state per step; the C loop
does one pass per step with u and v in L1, vectorised, on torch's OpenMP threads
(:mod:`snnx.native`): on lava-dl's PilotNet LIF the neurons were over half the time. It is the
same float arithmetic as ``snnx.sim.fast._Lif._run_float``, used under the same proof of
exactness, so the spikes are the same; ``SNNX_KERNEL=0`` or no C compiler: the numpy path.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import torch

from snnx import native

SOURCE = Path(__file__).with_name("fast_kernel.c")
FLAGS = ["-O3", "-fPIC", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-std=c99"]
_FUNCS = {
    (np.float32, np.float32): "lif_f32_f32",
    (np.float32, np.uint8): "lif_f32_u8",
    (np.float32, np.float64): "lif_f32_f64",
    (np.float64, np.float32): "lif_f64_f32",
    (np.float64, np.float64): "lif_f64_f64",
    (np.float64, np.uint8): "lif_f64_u8",
}


def library() -> ctypes.CDLL | None:
    if os.environ.get("SNNX_KERNEL", "1") == "0":
        return None
    lib = native.load(SOURCE, FLAGS, openmp=os.environ.get("SNNX_KERNEL_OPENMP", "1") != "0")
    if lib is not None and not hasattr(lib, "snnx_ready"):
        i64, f64, ptr, i32 = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p, ctypes.c_int
        for name in _FUNCS.values():
            fn = getattr(lib, name)
            fn.argtypes = [ptr, i64, i64, i64, ptr, i64, i64, f64, f64, f64, i32, i32, ptr, ptr, ptr, i32]
            fn.restype = None
        lib.lif_openmp.restype = i32
        lib.im2col_u8.argtypes = [ptr, *[i64] * 14, ptr, i32]
        lib.im2col_u8.restype = None
        lib.snnx_ready = True
    return lib


def applies(state_dtype: type, a: np.ndarray) -> bool:
    """Whether the kernel runs this state type on inputs of a's type."""
    key = (np.dtype(state_dtype).type, np.uint8 if a.dtype == np.bool_ else a.dtype.type)
    return key in _FUNCS and library() is not None


def run(
    a: np.ndarray, per_sample: int, bias: np.ndarray | None, start: int, steps: int,
    cu: float, cv: float, vth: float, wrap: bool, clip: bool, dtype: type, record_state: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``a`` [steps_a, B, *shape] -> spikes [steps, B, *shape] bool (and u, v int64)."""
    lib = library()
    block = a.shape[1:]
    samples = int(a.shape[1]) if a.ndim > 1 else 1
    a = np.ascontiguousarray(a.view(np.uint8) if a.dtype == np.bool_ else a)
    key = (np.dtype(dtype).type, a.dtype.type)
    fn = getattr(lib, _FUNCS[key])
    spikes = np.empty((steps, *block), dtype=np.bool_)
    us = np.empty((steps, *block), dtype=np.int64) if record_state else None
    vs = np.empty((steps, *block), dtype=np.int64) if record_state else None
    b = None if bias is None else np.ascontiguousarray(bias.reshape(-1), dtype=dtype)
    if b is not None and b.size != per_sample:
        raise ValueError(f"bias has {b.size} entries, a sample has {per_sample} neurons")
    threads = _threads(lib)

    def ptr(x: np.ndarray | None) -> int | None:
        return None if x is None else x.ctypes.data

    fn(ptr(a), a.shape[0], samples, per_sample, ptr(b), start, steps, cu, cv, vth, int(wrap), int(clip),
       ptr(spikes), ptr(us), ptr(vs), threads)
    return spikes, us, vs


def _threads(lib: ctypes.CDLL) -> int:
    return torch.get_num_threads() if lib.lif_openmp() else 1


def im2col(
    x: np.ndarray, kernel_hw: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
    dilation: tuple[int, int], out_hw: tuple[int, int],
) -> np.ndarray | None:
    """Binary channels-last x [M, H, W, C] -> [M * Ho * Wo, kh * kw * C] uint8 (None: no kernel)."""
    lib = library()
    if lib is None:
        return None
    x = np.ascontiguousarray(x.view(np.uint8) if x.dtype == np.bool_ else x.astype(np.uint8, copy=False))
    m, h, w, c = x.shape
    (kh, kw), (ho, wo) = kernel_hw, out_hw
    cols = np.empty((m * ho * wo, kh * kw * c), dtype=np.uint8)
    lib.im2col_u8(x.ctypes.data, m, h, w, c, kh, kw, *stride, *padding, *dilation, ho, wo, cols.ctypes.data,
                  _threads(lib))
    return cols
