"""Atomic file writing: a stage never leaves a half-written artifact behind.

Every artifact is written to a temporary file in the same folder and renamed over the
target (``os.replace`` is atomic on POSIX), so an interrupted or failed stage leaves the
previous version of the file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the artifact the mode an ordinary file would get
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    return write_atomic(path, lambda p: p.write_bytes(data))


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths appear in reports; convert them to plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_json(path: str | Path, data: Any) -> Path:
    """Strict JSON: a NaN or infinity (e.g. from an absurd energy constant) is refused, not
    written as ``NaN``/``Infinity``, which other JSON readers reject."""
    from snnx.errors import SnnxError

    try:
        text = json.dumps(data, indent=2, default=_json_default, allow_nan=False)
    except ValueError as exc:
        where = _first_non_finite(data)
        raise SnnxError(f"refusing to write {Path(path).name}: {where or 'a value'} is not a finite number "
                        f"({exc}); check the inputs that produced it") from None
    return write_text(path, text + "\n")


def _first_non_finite(data: Any, prefix: str = "") -> str | None:
    import math

    if isinstance(data, float) and not math.isfinite(data):
        return prefix or "the value"
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, (list, tuple)):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _first_non_finite(value, f"{prefix}.{key}" if prefix else str(key))
        if found:
            return found
    return None


def read_json(path: str | Path) -> Any:
    from snnx.errors import SnnxError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnnxError(f"{path} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnnxError(f"{path} is not valid JSON ({exc}); re-create it with the stage that writes it") from None
