"""Shared fixtures: real MNIST when available (CI points SNNX_DATA_DIR at it), synthetic IDX files."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from snnx.data.datasets import FILES


def _real_mnist_dir() -> Path | None:
    for cand in (os.environ.get("SNNX_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"):
        if cand and all((Path(cand) / f).exists() for f in FILES):
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the real MNIST files; tests that need real accuracy skip without it."""
    d = _real_mnist_dir()
    if d is None:
        pytest.skip("real MNIST not available (set SNNX_DATA_DIR)")
    return d


def write_idx(folder: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """Write synthetic MNIST-format *-ubyte.gz files (class k = a bright block at row 2k)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 3: 2 * k + 6, 4:24] = 255
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return folder


@pytest.fixture()
def synthetic_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path / "cache"))
    return write_idx(tmp_path / "mnist")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the decompressed-dataset cache out of the user's home during tests."""
    if "SNNX_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "snnx-cache"))
