"""The compiled CPU kernel of the fused CUBA BPTT (``cuba_kernel.c``), loaded with ctypes.

Why: on a CPU the eager recurrence costs ~5 tensor ops per step and layer, each a pass over the
whole [B, N] state, while the arithmetic per neuron and step is a handful of flops; one C loop
over time per block of neurons keeps the state in L1 and does the same float32 operations in
the same order (docs/design.md §13). Built once per source version with the system C compiler
(``cc``, ``gcc`` or ``clang``; ~1 s) into ``$SNNX_CACHE_DIR/kernels`` (default
``~/.cache/snnx``); without a compiler, or with ``SNNX_KERNEL=0``, training uses the eager path
(same spikes, slower). The GIL is released in the C calls. Threads: where torch runs on GNU
OpenMP (its wheels for Linux bundle ``torch/lib/libgomp*.so``) the file is built with
``-fopenmp`` and linked to that runtime, so the neurons are split over torch's own intra-op
threads (``torch.get_num_threads()``); a second pool of threads would compete for the cores with
torch's OpenMP threads, which spin for a while after every matmul. Elsewhere the neurons are
split over as many Python threads.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from snnx import native

SOURCE = Path(__file__).with_name("cuba_kernel.c")
FLAGS = ["-O3", "-fPIC", "-ffp-contract=off", "-fno-math-errno", "-std=c99"]
SURROGATES = {"atan": 0, "fast_sigmoid": 1}
BLOCK = 512  # neurons per block, as cuba_kernel.c
_MIN_PER_THREAD = 16384  # elements; below this one thread is faster than handing out work

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _build() -> ctypes.CDLL | None:
    lib = native.load(SOURCE, FLAGS, openmp=os.environ.get("SNNX_KERNEL_OPENMP", "1") != "0")
    if lib is None:
        return None
    i64, f32, ptr, i32 = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int
    lib.cuba_forward.argtypes = [ptr, i64, i64, ptr, f32, f32, f32, i64, i64, i64, i64, i64, ptr]
    lib.cuba_forward.restype = None
    lib.cuba_backward.argtypes = [ptr, i64, i64, ptr, ptr, f32, f32, f32, i32, f32, f32, f32, i64, i64, i64, i64,
                                  ptr, i32, ptr, ptr, ptr]
    lib.cuba_backward.restype = None
    lib.cuba_openmp.argtypes = []
    lib.cuba_openmp.restype = i32
    lib.cuba_forward_omp.argtypes = [ptr, i64, i64, ptr, f32, f32, f32, i64, i64, i64, ptr, i32]
    lib.cuba_forward_omp.restype = None
    lib.cuba_backward_omp.argtypes = [ptr, i64, i64, ptr, ptr, f32, f32, f32, i32, f32, f32, f32, i64, i64, ptr,
                                      i32, ptr, ptr, i32]
    lib.cuba_backward_omp.restype = i32
    lib.snnx_openmp = bool(lib.cuba_openmp())
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded kernel, building it on first use; None when it cannot be used here."""
    global _lib, _tried
    if os.environ.get("SNNX_KERNEL", "1") == "0":
        return None
    with _lock:
        if not _tried:
            _tried = True
            try:
                _lib = _build()
            except OSError:
                _lib = None
        return _lib


def applies(x: torch.Tensor, threshold: torch.Tensor, spike_fn) -> bool:
    """Whether the kernel can run this layer: float32 on the CPU, one threshold, a known surrogate."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and threshold.numel() == 1
            and getattr(spike_fn, "snnx_surrogate", None) is not None and library() is not None)


def _workers(n: int) -> int:
    return max(1, min(torch.get_num_threads(), n // _MIN_PER_THREAD))


def openmp() -> bool:
    """Whether the kernel runs on torch's OpenMP threads (see the module docstring)."""
    lib = library()
    return lib is not None and lib.snnx_openmp


def _split(n: int, fn) -> None:
    """Run fn(e0, e1) over [0, n) on up to torch.get_num_threads() Python threads."""
    global _pool, _pool_size
    workers = _workers(n)
    if workers == 1:
        fn(0, n)
        return
    with _lock:
        if _pool is None or _pool_size != workers:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="snnx-cuba")
            _pool_size = workers
        pool = _pool
    edges = [n * k // workers for k in range(workers + 1)]
    futures = [pool.submit(fn, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    for f in futures:
        f.result()


def _input(x: torch.Tensor, n_in: int, constant: bool, steps: int) -> tuple[torch.Tensor, int, int]:
    """x contiguous, its time stride (0 when constant) and the number of steps that get input."""
    x = x.contiguous()
    return x, 0 if constant else int(x[0].numel()), min(n_in, steps)


def forward(x: torch.Tensor, n_in: int, constant: bool, bias: torch.Tensor, threshold: float, alpha: float,
            beta: float, steps: int, hold: int) -> torch.Tensor:
    """Spikes [hold + steps, *state] from x [n_in, *state] (or [1, *state] repeated n_in steps)."""
    lib = library()
    x, xs, n = _input(x, n_in, constant, steps)
    state = x.shape[1:]
    e = int(x[0].numel())
    out = x.new_empty(hold + steps, *state)
    if lib.snnx_openmp:
        lib.cuba_forward_omp(x.data_ptr(), xs, n, bias.data_ptr(), threshold, alpha, beta, steps, hold, e,
                             out.data_ptr(), _workers(e))
        return out
    _split(e, lambda a, b: lib.cuba_forward(x.data_ptr(), xs, n, bias.data_ptr(), threshold, alpha, beta, steps,
                                            hold, e, a, b, out.data_ptr()))
    return out


def bias_per_element(bias: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The bias broadcast to one step of state, contiguous (what the kernel reads)."""
    return torch.as_tensor(bias, dtype=x.dtype).expand(x.shape[1:]).contiguous()


def backward(x: torch.Tensor, n_in: int, constant: bool, bias: torch.Tensor, grad_s: torch.Tensor, threshold: float,
             alpha: float, beta: float, spike_fn, steps: int, sum_x: bool
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g_x [steps, *state] or its sum over steps [1, *state], sum_t G [*state], sum_t a [*state])."""
    lib = library()
    name, p = spike_fn.snnx_surrogate
    kind = SURROGATES[name]
    c, half = (torch.pi / 2 * p, p / 2) if kind == 0 else (0.0, 0.0)
    x, xs, n = _input(x, n_in, constant, steps)
    grad_s = grad_s.contiguous()
    state = x.shape[1:]
    e = int(x[0].numel())
    g_x = x.new_empty(1 if sum_x else steps, *state)
    gv_sum = x.new_empty(state)
    a_sum = x.new_empty(state)
    if lib.snnx_openmp:
        if lib.cuba_backward_omp(x.data_ptr(), xs, n, bias.data_ptr(), grad_s.data_ptr(), threshold, alpha, beta,
                                 kind, p, c, half, steps, e, g_x.data_ptr(), int(sum_x), gv_sum.data_ptr(),
                                 a_sum.data_ptr(), _workers(e)):
            raise MemoryError("snnx kernel: no memory for the backward pass's membranes")
        return g_x, gv_sum, a_sum

    def run(a: int, b: int) -> None:
        work = torch.empty(steps * BLOCK, dtype=torch.float32)
        lib.cuba_backward(x.data_ptr(), xs, n, bias.data_ptr(), grad_s.data_ptr(), threshold, alpha, beta, kind, p,
                          c, half, steps, e, a, b, g_x.data_ptr(), int(sum_x), gv_sum.data_ptr(), a_sum.data_ptr(),
                          work.data_ptr())

    _split(e, run)
    return g_x, gv_sum, a_sum
