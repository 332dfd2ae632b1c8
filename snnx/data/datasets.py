"""MNIST and FashionMNIST through torchvision, SHD through tonic (:mod:`snnx.data.shd`), from a
local folder or a download.

Look-up order (docs/design.md §9): an explicit folder (``--data-dir`` / ``data.dir``), then
``$SNNX_DATA_DIR``, then ``./data``. A folder may hold the four standard ``*-ubyte.gz``
files directly or torchvision's ``<Name>/raw`` layout. Files found directly are linked into
a small cache in torchvision's layout so torchvision checks their MD5 sums and reads them.
The whole split is kept as one uint8 tensor: indexing a tensor is much faster than a
DataLoader over PIL images, and MNIST fits in memory many times over.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import datasets as tvd

from snnx.errors import SnnxError
from snnx.io import write_bytes

DATASETS: dict[str, type] = {"mnist": tvd.MNIST, "fashionmnist": tvd.FashionMNIST}
EVENT_DATASETS = ("shd",)  # already spikes: binned by snnx.data.shd into T rows of channels
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass
class ImageSet:
    """Images as uint8 [N, 1, H, W] and labels as int64 [N] (SHD: [N, 1, T, 700] binned spikes)."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str = ""
    classes: int = 10

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return self.classes

    def subset(self, n: int | None) -> ImageSet:
        """The first ``n`` images (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return ImageSet(self.images[:n], self.labels[:n], self.name, self.classes)

    def floats(self, index: slice | torch.Tensor) -> torch.Tensor:
        """Images at ``index`` as float in [0, 1]."""
        return self.images[index].float().div_(255.0)


def candidate_dirs(explicit: str | Path | None) -> list[Path]:
    """Folders searched for the dataset, in order."""
    dirs = []
    if explicit:
        dirs.append(Path(explicit))
    env = os.environ.get("SNNX_DATA_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(Path("data"))
    return dirs


def _cache_root() -> Path:
    return Path(os.environ.get("SNNX_CACHE_DIR", Path.home() / ".cache" / "snnx"))


def _torchvision_root(folder: Path, cls: type) -> Path | None:
    """A root that torchvision can read for ``cls``, or None when the folder lacks the files.

    Loose ``*-ubyte.gz`` files are decompressed once into a cache in torchvision's layout
    (their gzip bytes need not match torchvision's MD5 list; the IDX headers are checked
    when torchvision parses them, and the sizes after loading).
    """
    name = cls.__name__
    if all((folder / name / "raw" / f[:-3]).exists() for f in FILES):
        return folder
    if all((folder / name / "raw" / f).exists() for f in FILES):
        folder = folder / name / "raw"
    if all((folder / f).exists() for f in FILES):
        key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
        root = _cache_root() / name.lower() / key
        raw = root / name / "raw"
        for f in FILES:
            target = raw / f[:-3]
            if not target.exists():
                _gunzip(folder / f, target)
        return root
    return None


def _gunzip(src: Path, dst: Path) -> None:
    try:
        with gzip.open(src, "rb") as fin:
            data = fin.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        raise SnnxError(f"{src} is not a readable gzip file; replace it with the original download") from None
    write_bytes(dst, data)


def load_split(dataset: str, train: bool, data_dir: str | Path | None = None, subset: int | None = None,
               timesteps: int | None = None, bin_ms: float | None = None) -> ImageSet:
    """Load one split of ``dataset`` ("mnist", "fashionmnist" or "shd") as tensors; ``timesteps``
    and ``bin_ms`` say how SHD's events are binned (``data.timesteps``, ``data.bin_ms``)."""
    tried = candidate_dirs(data_dir)
    if dataset.lower() in EVENT_DATASETS:
        from snnx.data.shd import CLASSES, load_shd

        images, labels = load_shd(train, tried, _cache_root(), timesteps, bin_ms, subset)
        return ImageSet(images, labels, f"shd-{'train' if train else 'test'}", classes=CLASSES).subset(subset)
    cls = DATASETS.get(dataset.lower())
    if cls is None:
        raise SnnxError(f"unknown dataset {dataset!r}; choose one of: {', '.join([*DATASETS, *EVENT_DATASETS])}")
    for folder in tried:
        root = _torchvision_root(folder, cls) if folder.is_dir() else None
        if root is not None:
            ds = _open(cls, root, train, folder=folder)
            break
    else:
        target = tried[0]
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                ds = cls(root=str(target), train=train, download=True)
        except Exception:  # noqa: BLE001 - any network/IO failure means "not available"
            raise SnnxError(
                f"{cls.__name__} not found in {', '.join(str(d) for d in tried)} and could not be downloaded; "
                f"put the four *-ubyte.gz files in one of these folders or pass --data-dir / set SNNX_DATA_DIR"
            ) from None
    images = ds.data.unsqueeze(1).contiguous()
    labels = ds.targets.long()
    return ImageSet(images, labels, f"{dataset}-{'train' if train else 'test'}").subset(subset)


def _open(cls: type, root: Path, train: bool, folder: Path):
    try:
        ds = cls(root=str(root), train=train, download=False)
        if len(ds.targets) != len(ds.data) or len(ds.data) == 0 or tuple(ds.data.shape[1:]) != (28, 28):
            raise ValueError("unexpected size")
        return ds
    except Exception as exc:  # noqa: BLE001
        raise SnnxError(
            f"the {cls.__name__} files in {folder} are corrupt or incomplete ({type(exc).__name__}); "
            "replace them with the original *-ubyte.gz files"
        ) from None


def load_data(data_cfg, train: bool, data_dir: str | Path | None = None, subset: int | None = None) -> ImageSet:
    """Split from the ``data`` config section; ``data_dir`` (CLI) wins over ``data.dir``."""
    n = subset if subset is not None else (data_cfg.train_subset if train else data_cfg.test_subset)
    return load_split(data_cfg.dataset, train, data_dir or data_cfg.dir, n, data_cfg.timesteps,
                      data_cfg.bin_ms)


def load_test(data_cfg, data_dir: str | Path | None = None) -> ImageSet:
    """The whole test split of a run's dataset, binned as the run was (``snnx sim``, plots)."""
    return load_split(data_cfg.dataset, False, data_dir or data_cfg.dir, None, data_cfg.timesteps,
                      data_cfg.bin_ms)
