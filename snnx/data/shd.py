"""Spiking Heidelberg Digits (Cramer et al. 2020) through tonic, binned into T steps of 700 inputs.

SHD is already spikes: each recording is a list of (time in s, cochlea channel 0..699) events
and a label 0..19 (ten English and ten German digits). tonic reads the HDF5 files
(``spikes/times``, ``spikes/units``, ``labels``, ``extra/...``; :class:`tonic.datasets.SHD`)
and bins the events (:class:`tonic.transforms.ToFrame`); docs/design.md §9 describes how the
bins become input steps:

* ``data.bin_ms`` unset: tonic's ``n_time_bins = T``, T bins spanning each recording from its
  first to its last event (every recording fills the T steps).
* ``data.bin_ms: w``: tonic's ``time_window``, bins of w ms from t = 0; the first T are kept
  (events after T*w ms are dropped), the same clock for every recording as a chip would run.

A bin is one binary spike per channel (any event in it), stored as an image of T rows of
700 pixels (0 or 255), so ``data.encoding: rows`` presents one bin per step through the
same code as row-MNIST (binary input: docs/design.md §12).

Look-up in each data folder (``--data-dir``, ``$SNNX_DATA_DIR``, ``./data``): the loose files
``shd_train.h5`` / ``shd_test.h5``, or tonic's own layout ``SHD/`` (``shd_*.h5`` with the
``.zip`` it downloaded). With neither, tonic downloads and verifies (MD5) the archive into the
first folder's ``SHD/``; offline, one line says where to put the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

import numpy as np
import tonic
import torch
from tonic.transforms import ToFrame

from snnx.errors import SnnxError
from snnx.io import write_bytes

CHANNELS = int(tonic.datasets.SHD.sensor_size[0])  # 700 cochlea channels
CLASSES = 20
FILES = {True: "shd_train.h5", False: "shd_test.h5"}
DEFAULT_STEPS = 100  # data.timesteps when a shd config does not say
CACHE_VERSION = 1  # bump when the binning changes: older cached bins are then ignored


class _FileSHD(tonic.datasets.SHD):
    """tonic's SHD reader on one extracted ``.h5`` file anywhere (tonic's own constructor also
    wants the downloaded ``.zip`` beside it in ``<root>/SHD``, and downloads when it is missing)."""

    def __init__(self, path: Path):
        tonic.dataset.Dataset.__init__(self, str(path.parent))
        self.location_on_system = str(path.parent)
        self.data_filename = path.name


def _urls() -> str:
    s = tonic.datasets.SHD
    return f"{s.base_url}{s.train_zip} and {s.base_url}{s.test_zip}"


def _find(folder: Path, train: bool) -> Path | None:
    """The split's .h5 file in ``folder``: loose, or in tonic's ``SHD/`` layout."""
    for cand in (folder / FILES[train], folder / "SHD" / FILES[train]):
        if cand.is_file():
            return cand
    return None


def _download(folder: Path, train: bool) -> Path | None:
    """tonic downloads the split's archive into ``folder/SHD``, checks its MD5 and extracts it."""
    made = [d for d in (folder / "SHD", folder) if not d.exists()]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            tonic.datasets.SHD(save_to=str(folder), train=train)
    except Exception:  # noqa: BLE001 - any network/IO failure means "not available"
        for d in made:  # leave no empty folder behind
            with contextlib.suppress(OSError):
                d.rmdir()
        return None
    return _find(folder, train)


def frames(events: np.ndarray, timesteps: int, bin_ms: float | None) -> np.ndarray:
    """tonic events of one recording -> [T, 700] uint8 0/1 (a spike where a bin has an event)."""
    out = np.zeros((timesteps, CHANNELS), np.uint8)
    if len(events) == 0:
        return out
    events = events[np.argsort(events["t"], kind="stable")]  # tonic's slicers search sorted times
    if bin_ms is None:
        to_frame = ToFrame(sensor_size=tonic.datasets.SHD.sensor_size, n_time_bins=timesteps)
    else:
        w = float(bin_ms) * 1000.0  # tonic's times are in microseconds
        to_frame = ToFrame(sensor_size=tonic.datasets.SHD.sensor_size, time_window=w,
                           start_time=0.0, end_time=timesteps * w)
    f = to_frame(events)[:, 0, :]  # [bins, polarity, channel] -> [bins, channel] counts
    n = min(timesteps, f.shape[0])
    out[:n] = f[:n] > 0
    return out


def _read(path: Path, timesteps: int, bin_ms: float | None, subset: int | None):
    try:
        ds = _FileSHD(path)
        n = len(ds) if subset is None else min(subset, len(ds))
        images = np.zeros((n, 1, timesteps, CHANNELS), np.uint8)
        labels = np.zeros(n, np.int64)
        for i in range(n):
            events, label = ds[i]
            if not np.isfinite(events["t"]).all() or (events["t"] < 0).any():
                raise ValueError(f"recording {i} has negative or non-finite spike times")
            if len(events) and (events["x"].min() < 0 or events["x"].max() >= CHANNELS):
                raise ValueError(f"recording {i} has channels outside 0..{CHANNELS - 1}")
            images[i, 0] = frames(events, timesteps, bin_ms) * 255
            labels[i] = int(label)
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise SnnxError(f"{path} is not a readable SHD file ({type(exc).__name__}: {exc}); replace it with "
                        f"the original {path.name} (from {_urls()})") from None
    if n == 0:
        raise SnnxError(f"{path} holds no recordings; replace it with the original {path.name}")
    if labels.min() < 0 or labels.max() >= CLASSES:
        raise SnnxError(f"{path} has labels outside 0..{CLASSES - 1}; replace it with the original {path.name}")
    return torch.from_numpy(images), torch.from_numpy(labels), n == len(ds)


def load_shd(train: bool, folders: list[Path], cache_root: Path, timesteps: int | None = None,
             bin_ms: float | None = None, subset: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SHD split as [N, 1, T, 700] 0/255 images and [N] labels (the first ``subset`` or more:
    snnx.data.datasets makes the ImageSet, so this module does not import it back)."""
    timesteps = DEFAULT_STEPS if timesteps is None else int(timesteps)
    if bin_ms is not None and not bin_ms > 0:
        raise SnnxError(f"data.bin_ms must be > 0 ms, got {bin_ms}")
    path = next((p for p in (_find(f, train) for f in folders if f.is_dir()) if p is not None), None)
    if path is None:
        path = _download(folders[0], train)
    if path is None:
        raise SnnxError(
            f"SHD file {FILES[train]} not found in {', '.join(str(d) for d in folders)} and could not be "
            f"downloaded; put shd_train.h5 and shd_test.h5 (unzipped from {_urls()}) in one of these "
            "folders or pass --data-dir / set SNNX_DATA_DIR"
        )
    cache = _cache_file(cache_root, path, timesteps, bin_ms)
    got = _read_cache(cache, timesteps)
    if got is None:
        *got, whole = _read(path, timesteps, bin_ms, subset)
        if whole:  # a cached split is always the whole file
            _write_cache(cache, *got)
    images, labels = got
    return images, labels


def _cache_file(cache_root: Path, path: Path, timesteps: int, bin_ms: float | None) -> Path:
    """Binning every recording through tonic takes ~10 ms each (a minute for the training split):
    the bits are kept in the data cache ($SNNX_CACHE_DIR), keyed by the file (path, size, mtime)
    and the binning."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{timesteps}|{bin_ms!r}|{CACHE_VERSION}"
    return cache_root / "shd" / f"{path.stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def _read_cache(cache: Path, timesteps: int):
    try:
        with np.load(cache, allow_pickle=False) as z:
            n = int(z["labels"].shape[0])
            bits = np.unpackbits(z["bits"], count=n * timesteps * CHANNELS)
            labels = z["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError, EOFError):  # missing or damaged: bin again
        return None
    if n == 0 or labels.min() < 0 or labels.max() >= CLASSES:
        return None
    images = (bits.reshape(n, 1, timesteps, CHANNELS) * np.uint8(255))
    return torch.from_numpy(images), torch.from_numpy(labels)


def _write_cache(cache: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, bits=np.packbits(images.numpy() > 0), labels=labels.numpy().astype(np.uint8))
    with contextlib.suppress(OSError):  # a read-only cache only costs the binning next time
        os.makedirs(cache.parent, exist_ok=True)
        write_bytes(cache, buf.getvalue())
