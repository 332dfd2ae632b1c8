import gzip
import shutil
from pathlib import Path

import pytest
import torch

from snnx.data.datasets import load_split
from snnx.data.encoders import encode
from snnx.errors import SnnxError


def test_loose_gz_files_are_read(synthetic_mnist: Path) -> None:
    train = load_split("mnist", True, synthetic_mnist)
    test = load_split("mnist", False, synthetic_mnist, subset=10)
    assert train.images.shape == (64, 1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 10 and test.labels.dtype == torch.int64


def test_torchvision_layout_and_env_lookup(synthetic_mnist: Path, tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "tv" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in synthetic_mnist.iterdir():
        with gzip.open(f) as src:
            (raw / f.name[:-3]).write_bytes(src.read())
    monkeypatch.setenv("SNNX_DATA_DIR", str(tmp_path / "tv"))
    a = load_split("mnist", True)  # found through SNNX_DATA_DIR
    b = load_split("mnist", True, synthetic_mnist)  # explicit folder wins
    assert torch.equal(a.images, b.images)


def test_missing_data_names_the_folders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SNNX_DATA_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.chdir(tmp_path)
    # no network here: the download fails and the message lists every folder tried
    monkeypatch.setattr("torchvision.datasets.MNIST.mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(SnnxError) as err:
        load_split("mnist", True, tmp_path / "explicit")
    msg = str(err.value)
    assert "explicit" in msg and "nothing-here" in msg and "--data-dir" in msg and "\n" not in msg


def test_corrupt_file_is_reported(synthetic_mnist: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(synthetic_mnist, bad)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"this is not gzip")
    with pytest.raises(SnnxError, match="not a readable gzip"):
        load_split("mnist", True, bad)


def test_encoders_are_seeded_and_shaped() -> None:
    x = torch.rand(3, 1, 28, 28)
    for enc in ("rate", "latency", "direct"):
        a, b = encode(x, enc, 10, seed=1), encode(x, enc, 10, seed=1)
        assert a.shape == (10, 3, 1, 28, 28) and torch.equal(a, b)
    r1, r2 = encode(x, "rate", 10, seed=1), encode(x, "rate", 10, seed=2)
    assert not torch.equal(r1, r2)
    assert set(r1.unique().tolist()) <= {0.0, 1.0}
    # rate: spike probability equals intensity
    assert abs(encode(torch.full((1, 1, 50, 50), 0.3), "rate", 200, seed=0).mean().item() - 0.3) < 0.01
    # latency: at most one spike per pixel, brighter pixels fire earlier
    lat = encode(torch.tensor([[[[1.0, 0.5, 0.0]]]]), "latency", 10)
    assert lat.sum(0).flatten().tolist() == [1.0, 1.0, 0.0]
    assert lat[:, 0, 0, 0, 0].argmax() < lat[:, 0, 0, 0, 1].argmax()
