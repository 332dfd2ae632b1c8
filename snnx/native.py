"""Builds and loads snnx's small C kernels with the system C compiler and ctypes.

Why C and not another dependency: the kernels are a few dozen lines each (the fused BPTT of
training, :mod:`snnx.train.kernel`; the simulator's neuron recurrence, :mod:`snnx.sim.kernel`),
one loop over time per block of neurons that keeps the state in L1, and ctypes is in the
standard library. Each is built once per source version, flags and OpenMP runtime (``cc``,
``gcc`` or ``clang``; about a second) into ``$SNNX_CACHE_DIR/kernels`` (default
``~/.cache/snnx``). Without a compiler the callers fall back to their numpy/torch paths (same
results, slower). A build that failed leaves a ``.failed`` marker, so later processes do not
retry it; delete the folder to retry.

OpenMP: where torch runs on GNU OpenMP (its Linux wheels bundle ``torch/lib/libgomp*.so``), a
kernel is built with ``-fopenmp`` and linked to that very runtime, so its threads are torch's
intra-op threads (the ones that just ran the GEMMs), not a second pool competing for the cores.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_loaded: dict[tuple[str, bool], ctypes.CDLL | None] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("SNNX_CACHE_DIR", Path.home() / ".cache" / "snnx")) / "kernels"


def compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def torch_openmp() -> str | None:
    """torch's bundled GNU OpenMP runtime (already loaded with torch), if it has one."""
    import torch  # lazy: snnx.native itself needs no torch

    found = sorted(glob.glob(str(Path(torch.__file__).parent / "lib" / "libgomp*.so*")))
    return found[0] if found else None


def _compile(cc: str, source: Path, flags: list[str], gomp: str | None, target: Path) -> bool:
    """Build ``target``; with ``gomp``: compile with -fopenmp and link to torch's runtime (its
    soname is libgomp.so.1, so the process keeps the one copy torch loaded)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    obj = tmp[:-3] + ".o"
    try:
        if gomp:
            subprocess.run([cc, *flags, "-fopenmp", "-c", str(source), "-o", obj], check=True,
                           capture_output=True, timeout=120)
            subprocess.run([cc, "-shared", obj, gomp, "-o", tmp], check=True, capture_output=True, timeout=120)
        else:
            subprocess.run([cc, *flags, "-shared", str(source), "-o", tmp], check=True, capture_output=True,
                           timeout=120)
        os.replace(tmp, target)  # atomic: concurrent processes each build, one file wins
        return True
    except (OSError, subprocess.SubprocessError):
        Path(tmp).unlink(missing_ok=True)
        return False
    finally:
        Path(obj).unlink(missing_ok=True)


def _build(source: Path, flags: list[str], openmp: bool) -> ctypes.CDLL | None:
    cc = compiler()
    if cc is None:
        return None
    gomp = torch_openmp() if openmp else None
    for runtime in ([gomp, None] if gomp else [None]):  # without OpenMP when that build fails
        key = hashlib.sha256(source.read_bytes() + " ".join(flags).encode() + str(runtime).encode()).hexdigest()[:16]
        target = cache_dir() / f"{source.stem}_{key}.so"
        failed = target.with_suffix(".failed")
        if target.is_file():
            break
        if failed.is_file():
            continue
        if _compile(cc, source, flags, runtime, target):
            break
        try:
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.touch()
        except OSError:
            pass
    else:
        return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:
        return None


def load(source: Path, flags: list[str], openmp: bool = True) -> ctypes.CDLL | None:
    """The compiled ``source`` (cached per process), or None where it cannot be built here."""
    key = (str(source), openmp)
    with _lock:
        if key not in _loaded:
            _loaded[key] = _build(source, flags, openmp)
        return _loaded[key]
