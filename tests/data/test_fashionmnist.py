"""FashionMNIST from small IDX gzip files the test writes: images and labels read back exactly."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from snnx.config import RunConfig
from snnx.data.datasets import load_data, load_split


def _write_split(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


def _fashion(folder: Path, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    splits = {
        "train": (rng.integers(0, 256, (7, 28, 28)), rng.permutation(10)[:7]),
        "t10k": (rng.integers(0, 256, (5, 28, 28)), np.array([9, 0, 3, 3, 8])),
    }
    for prefix, (images, labels) in splits.items():
        _write_split(folder, prefix, images, labels)
    return splits


def test_fashionmnist_images_and_labels_read_back(tmp_path: Path) -> None:
    want = _fashion(tmp_path / "fashion", seed=1)
    for train, prefix in ((True, "train"), (False, "t10k")):
        got = load_split("fashionmnist", train, tmp_path / "fashion")
        images, labels = want[prefix]
        assert got.images.shape == (len(labels), 1, 28, 28) and got.images.dtype == torch.uint8
        assert np.array_equal(got.images[:, 0].numpy(), images)
        assert got.labels.tolist() == labels.tolist()
        assert got.name == f"fashionmnist-{'train' if train else 'test'}"


def test_dataset_key_of_the_config_selects_fashionmnist_and_folders_do_not_mix(
    tmp_path: Path,
) -> None:
    """Two folders with different files under the same names: each read gets its own files."""
    a = _fashion(tmp_path / "a", seed=2)
    b = _fashion(tmp_path / "b", seed=3)
    cfg = RunConfig.from_dict({"data": {"dataset": "fashionmnist", "test_subset": 4}}).data
    got_a = load_data(cfg, False, tmp_path / "a")
    got_b = load_data(cfg, False, tmp_path / "b")
    assert got_a.name == "fashionmnist-test" and len(got_a) == 4
    assert np.array_equal(got_a.images[:, 0].numpy(), a["t10k"][0][:4])
    assert np.array_equal(got_b.images[:, 0].numpy(), b["t10k"][0][:4])
