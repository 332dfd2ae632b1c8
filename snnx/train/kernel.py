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
MAX_FED = 64  # the largest dense synapse (outputs) whose current the kernel forms from the spikes itself
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
                                  ptr, i32, i64, ptr, ptr, ptr]
    lib.cuba_backward.restype = None
    lib.cuba_openmp.argtypes = []
    lib.cuba_openmp.restype = i32
    lib.cuba_forward_omp.argtypes = [ptr, i64, i64, ptr, f32, f32, f32, i64, i64, i64, ptr, i32]
    lib.cuba_forward_omp.restype = None
    lib.cuba_backward_omp.argtypes = [ptr, i64, i64, ptr, ptr, f32, f32, f32, i32, f32, f32, f32, i64, i64, ptr,
                                      i32, i64, ptr, ptr, i32]
    lib.cuba_backward_omp.restype = i32
    lib.cuba_dense_forward.argtypes = [ptr, i64, i64, ptr, f32, f32, f32, i64, i64, i64, i64, ptr, ptr, i64, i64,
                                       ptr, i64, i64, ptr]
    lib.cuba_dense_forward.restype = None
    lib.cuba_dense_forward_omp.argtypes = [ptr, i64, i64, ptr, f32, f32, f32, i64, i64, i64, i64, ptr, ptr, i64,
                                           i64, ptr, i32]
    lib.cuba_dense_forward_omp.restype = i32
    lib.cuba_dense_backward.argtypes = [ptr, i64, i64, ptr, ptr, f32, f32, f32, i32, f32, f32, f32, i64, i64, i64,
                                        ptr, i64, i64, ptr, ptr, i32, i64, ptr, ptr, ptr, i64, i64, ptr]
    lib.cuba_dense_backward.restype = None
    lib.cuba_dense_backward_omp.argtypes = [ptr, i64, i64, ptr, ptr, f32, f32, f32, i32, f32, f32, f32, i64, i64,
                                            i64, ptr, i64, i64, ptr, ptr, i32, i64, ptr, ptr, ptr, i32]
    lib.cuba_dense_backward_omp.restype = i32
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


def _ranges(n: int, workers: int, unit: int = 1) -> list[tuple[int, int]]:
    """[0, n) in ``workers`` contiguous pieces of whole ``unit``s, as the kernel's OpenMP split."""
    units = -(-n // unit)
    edges = [min(n, units * k // workers * unit) for k in range(workers + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _run_split(pieces: list[tuple[int, int]], fn) -> None:
    """fn(a, b) for each piece, on the Python threads of :func:`_split`."""
    global _pool, _pool_size
    if len(pieces) == 1:
        fn(*pieces[0])
        return
    with _lock:
        if _pool is None or _pool_size != len(pieces):
            _pool = ThreadPoolExecutor(len(pieces), thread_name_prefix="snnx-cuba")
            _pool_size = len(pieces)
        pool = _pool
    for f in [pool.submit(fn, a, b) for a, b in pieces]:
        f.result()


def _split(n: int, fn) -> None:
    """Run fn(e0, e1) over [0, n) on up to torch.get_num_threads() Python threads."""
    _run_split(_ranges(n, _workers(n)), fn)


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


def _surrogate(spike_fn) -> tuple[int, float, float, float]:
    """(kind, parameter, c, half) of the kernel's SURROGATE_GRAD for snntorch's spike function."""
    name, p = spike_fn.snnx_surrogate
    kind = SURROGATES[name]
    c, half = (torch.pi / 2 * p, p / 2) if kind == 0 else (0.0, 0.0)
    return kind, p, c, half


def backward(x: torch.Tensor, n_in: int, constant: bool, bias: torch.Tensor, grad_s: torch.Tensor, threshold: float,
             alpha: float, beta: float, spike_fn, steps: int, sum_x: bool
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g_x [steps, *state], or with ``sum_x`` its sum over the first min(n_in, steps) steps [1, *state],
    sum_t G [*state], sum_t a [*state])."""
    lib = library()
    kind, p, c, half = _surrogate(spike_fn)
    x, xs, n = _input(x, n_in, constant, steps)
    grad_s = grad_s.contiguous()
    state = x.shape[1:]
    e = int(x[0].numel())
    g_x = x.new_empty(1 if sum_x else steps, *state)
    gv_sum = x.new_empty(state)
    a_sum = x.new_empty(state)
    if lib.snnx_openmp:
        if lib.cuba_backward_omp(x.data_ptr(), xs, n, bias.data_ptr(), grad_s.data_ptr(), threshold, alpha, beta,
                                 kind, p, c, half, steps, e, g_x.data_ptr(), int(sum_x), n, gv_sum.data_ptr(),
                                 a_sum.data_ptr(), _workers(e)):
            raise MemoryError("snnx kernel: no memory for the backward pass's membranes")
        return g_x, gv_sum, a_sum

    def run(a: int, b: int) -> None:
        work = torch.empty(steps * BLOCK, dtype=torch.float32)
        lib.cuba_backward(x.data_ptr(), xs, n, bias.data_ptr(), grad_s.data_ptr(), threshold, alpha, beta, kind, p,
                          c, half, steps, e, a, b, g_x.data_ptr(), int(sum_x), n, gv_sum.data_ptr(),
                          a_sum.data_ptr(), work.data_ptr())

    _split(e, run)
    return g_x, gv_sum, a_sum


LANES = 16  # as cuba_kernel.c: the partial sums of a fed current, and the backward's split of the neurons


def dense_forward(x: torch.Tensor, n_in: int, constant: bool, bias: torch.Tensor, threshold: float, alpha: float,
                  beta: float, steps: int, hold: int, w: torch.Tensor, steps_c: int, keep_spikes: bool = True
                  ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Spikes [hold + steps, B, N] from x [n_in, B, N] (as :func:`forward`; None without ``keep_spikes``)
    and the current they send through the dense weight w [M, N]: c[t] = s_t w^T for the layer's first
    ``steps_c`` steps, [steps_c, B, M]."""
    lib = library()
    x, xs, n = _input(x, n_in, constant, steps)
    batch, neurons = x.shape[1], int(x[0, 0].numel())
    m = w.shape[0]
    w = w.detach().contiguous()
    out = x.new_empty(hold + steps, *x.shape[1:]) if keep_spikes else None
    out_ptr = 0 if out is None else out.data_ptr()
    c = x.new_empty(steps_c, batch, m)
    workers = _workers(batch * neurons)
    if lib.snnx_openmp:
        if lib.cuba_dense_forward_omp(x.data_ptr(), xs, n, bias.data_ptr(), threshold, alpha, beta, steps, hold,
                                      batch, neurons, out_ptr, w.data_ptr(), m, steps_c, c.data_ptr(),
                                      workers):
            raise MemoryError("snnx kernel: no memory for the fed current's partial sums")
        return out, c

    def run(a: int, b: int) -> None:
        acc = torch.empty(max(steps_c, 1) * m * LANES, dtype=torch.float32)
        lib.cuba_dense_forward(x.data_ptr(), xs, n, bias.data_ptr(), threshold, alpha, beta, steps, hold, batch,
                               neurons, out_ptr, w.data_ptr(), m, steps_c, c.data_ptr(), a, b, acc.data_ptr())

    _run_split(_ranges(batch, min(workers, batch)), run)
    return out, c


def dense_backward(x: torch.Tensor, n_in: int, constant: bool, bias: torch.Tensor, grad_s: torch.Tensor | None,
                   threshold: float, alpha: float, beta: float, spike_fn, steps: int, sum_x: bool, w: torch.Tensor,
                   g_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`backward` of :func:`dense_forward`: the gradient of the spikes is ``grad_s`` (or none) plus
    g_c w per step; returns (g_x, sum_t G, sum_t a, g_w [M, N])."""
    lib = library()
    kind, p, c, half = _surrogate(spike_fn)
    x, xs, n = _input(x, n_in, constant, steps)
    batch, neurons = x.shape[1], int(x[0, 0].numel())
    m = w.shape[0]
    w = w.detach().contiguous()
    g_c = g_c.contiguous()
    state = x.shape[1:]
    g_x = x.new_empty(1 if sum_x else steps, *state)
    gv_sum = x.new_empty(state)
    a_sum = x.new_empty(state)
    g_w = x.new_empty(m, neurons)
    grad_s = None if grad_s is None else grad_s.contiguous()
    gs_ptr = 0 if grad_s is None else grad_s.data_ptr()
    workers = _workers(batch * neurons)
    args = (x.data_ptr(), xs, n, bias.data_ptr(), gs_ptr, threshold, alpha, beta, kind, p, c, half, steps, batch,
            neurons, w.data_ptr(), m, g_c.shape[0], g_c.data_ptr(), g_x.data_ptr(), int(sum_x), n,
            gv_sum.data_ptr(), a_sum.data_ptr(), g_w.data_ptr())
    if lib.snnx_openmp:
        if lib.cuba_dense_backward_omp(*args, workers):
            raise MemoryError("snnx kernel: no memory for the backward pass's membranes")
        return g_x, gv_sum, a_sum, g_w

    def run(a: int, b: int) -> None:
        work = torch.empty((steps + 2 * m) * LANES, dtype=torch.float32)
        lib.cuba_dense_backward(*args, a, b, work.data_ptr())

    _run_split(_ranges(neurons, workers, LANES), run)
    return g_x, gv_sum, a_sum, g_w
