"""Atomic file writing: a stage never leaves a half-written artifact behind.

Every artifact is written to a temporary file in the same folder and renamed over the
target (``os.replace`` is atomic on POSIX), so an interrupted or failed stage leaves the
previous version of the file intact.
"""

from __future__ import annotations

import contextlib
import hashlib
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


# ----------------------------------------------------------------------------- run folders
#
# A stage that writes several files publishes them as one step: they are written into a
# staging folder inside the run folder, and one rename of that folder commits them (see
# publish_files / publish_dir). A lock file keeps a second snnx command from writing the
# same run folder at the same time; whoever takes the lock first finishes an interrupted
# commit and removes temporary files that a killed command left behind.

LOCK = ".snnx.lock"
STAGING = ".staging-"
COMMIT = ".commit-"
_held: dict[str, int] = {}  # lock path -> depth (the lock is re-entrant within a process)


@contextlib.contextmanager
def run_lock(folder: str | Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock while ``command`` writes it; refuse in one line if another holds it.

    ``flock`` locks vanish with their process, so a killed command never leaves a stale lock.
    """
    import fcntl

    from snnx.errors import SnnxError

    folder = Path(folder)
    key = str(folder.resolve() / LOCK)
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another snnx command"
            raise SnnxError(f"{folder} is being written by {other}; wait until it finishes, "
                            "or use another run folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`snnx {command}` (pid {os.getpid()})".encode(), 0)
        _held[key] = 1
        try:
            recover(folder)
            yield
        finally:
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def recover(folder: str | Path) -> list[str]:
    """Finish a commit a killed command left half done; remove its temporary files.

    Call only while holding the folder's lock (a running command's temp files look the same).
    """
    import shutil

    folder = Path(folder)
    done: list[str] = []
    if not folder.is_dir():
        return done
    for sub in [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for entry in list(sub.iterdir()):
            name = entry.name
            if name.startswith(COMMIT) and entry.is_dir():
                _move_all(entry, sub)
                done.append(f"finished {name}")
            elif name.startswith(STAGING) or (name.startswith(".") and name.endswith(".tmp")) \
                    or (name.startswith(".") and ".old-" in name):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                done.append(f"removed {name}")
    return done


@contextlib.contextmanager
def staging_dir(folder: str | Path, what: str) -> Iterator[Path]:
    """A fresh folder inside ``folder`` to write a stage's files into; removed if the stage fails."""
    import shutil

    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{STAGING}{what}-", dir=folder))
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        if created and not any(folder.iterdir()):
            folder.rmdir()  # a failed stage leaves no empty run folder behind


def publish_files(staging: Path, folder: Path) -> None:
    """Commit every file in ``staging`` into ``folder`` in one step.

    The staging folder is renamed to ``.commit-*`` (atomic: the commit point); its files are
    then moved over their targets. A command killed during the moves leaves the ``.commit-*``
    folder, and the next command that locks the run finishes the moves (:func:`recover`), so
    readers never keep a mix of old and new files.
    """
    commit = folder / f"{COMMIT}{staging.name[len(STAGING):]}"
    _publishable(staging)
    os.rename(staging, commit)
    _move_all(commit, folder)


def _move_all(commit: Path, folder: Path) -> None:
    for entry in sorted(commit.iterdir()):
        os.replace(entry, folder / entry.name)
    commit.rmdir()


def publish_dir(staging: Path, final: Path) -> None:
    """Put the folder ``staging`` at ``final`` in one step (atomic exchange with the old one)."""
    import shutil

    _publishable(staging)
    if not final.exists():
        os.rename(staging, final)
        return
    if _exchange(staging, final):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the old folder
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")  # no renameat2: two renames
    os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Linux renameat2(RENAME_EXCHANGE): swap two paths atomically; False where unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publishable(folder: Path) -> None:
    """mkdtemp/mkstemp make private 0700/0600 entries; published ones get the usual modes."""
    mask = _umask()
    os.chmod(folder, 0o777 & ~mask)
    for p in folder.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (checkpoints, bundle manifests, provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
