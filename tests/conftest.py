"""Shared fixtures: real MNIST when available (CI points SNNX_DATA_DIR at it), synthetic IDX files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from synthetic import write_idx

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


@pytest.fixture()
def synthetic_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path / "cache"))
    return write_idx(tmp_path / "mnist")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the decompressed-dataset cache out of the user's home during tests."""
    if "SNNX_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "snnx-cache"))
