"""The one home of the tests' shared data and run folders.

* Data: ``synthetic_data`` (session) / ``synthetic_mnist`` (per test) write small MNIST-format
  IDX files; ``mnist_dir`` is the real MNIST folder (``$SNNX_DATA_DIR``).
* Runs: ``synthetic_run`` (session) is trained, exported and simulated on synthetic data and
  needs nothing outside the repository; ``tiny_run`` (session) is the same recipe on real MNIST,
  for tests that check accuracy or real digits. Both are built once, by :func:`build_run`,
  and must not be modified by a test: copy them first.
* Untrained networks: the ``nets`` fixture (configs, QAT models, input spikes) and ``make_run``
  (a run folder with a checkpoint of such a model, no training).

Real MNIST: every test that uses ``mnist_dir`` (directly or through ``tiny_run``) is marked
``mnist``. Without the data it is skipped with the reason, except under ``CI=true``, where a
missing data set fails the test: CI must never report green because its inputs were absent.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from snnx.data.datasets import FILES

# The one tiny-run recipe: ~10 s of training on 3,000 images, 784-100-10, Poisson rate code over
# 25 steps, no energy term: pinned, so the tests do not move when the defaults do (the defaults'
# own run is tested in tests/test_defaults.py).
CLASSIC = ["data.encoding=rate", "data.timesteps=25", "model.hidden=[100]", "train.energy_weight=0"]
RUN_OVERRIDES = ["data.train_subset=3000", "data.test_subset=500", "train.epochs=1", *CLASSIC]


# ----------------------------------------------------------------------------- data


def write_idx(folder: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """Write synthetic MNIST-format ``*-ubyte.gz`` files (class k = a bright bar at row 2k+3)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 255
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return folder


def _real_mnist_dir() -> Path | None:
    cand = os.environ.get("SNNX_DATA_DIR")
    if cand and all((Path(cand) / f).exists() for f in FILES):
        return Path(cand)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs real MNIST, so ``-m "not mnist"`` selects the rest."""
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("mnist") is None or _real_mnist_dir() is not None:
        return
    reason = "real MNIST not found: set SNNX_DATA_DIR to a folder with the four *-ubyte.gz files"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the real MNIST files (the ``mnist`` marker handles their absence)."""
    d = _real_mnist_dir()
    assert d is not None  # pytest_runtest_setup skipped or failed the test already
    return d


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 training and 100 test images of the synthetic bars (read-only: shared by the session)."""
    return write_idx(tmp_path_factory.mktemp("synthetic-mnist"), n_train=600, n_test=100)


@pytest.fixture()
def synthetic_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path / "cache"))
    return write_idx(tmp_path / "mnist")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the decompressed-dataset cache out of the user's home during tests."""
    if "SNNX_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "snnx-cache"))


# ----------------------------------------------------------------------------- trained runs


def build_run(
    folder: Path, data_dir: Path, extra: list[str] = (), sim_samples: int | None = None
) -> Path:
    """Train (one short epoch), export and optionally simulate a run, through the CLI."""
    from snnx.cli import main

    if (folder / "model.net").exists():
        return folder
    sets = [a for s in [*RUN_OVERRIDES, *extra] for a in ("--set", s)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "-o", str(folder), "--data-dir", str(data_dir), *sets]) == 0
        assert main(["export", str(folder), "--target", "loihi"]) == 0
        if sim_samples is not None:
            assert (
                main(
                    ["sim", str(folder), "--samples", str(sim_samples), "--data-dir", str(data_dir)]
                )
                == 0
            )
    return folder


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory, synthetic_data: Path) -> Path:
    """Trained (784-32-10, two epochs), exported and simulated on all 100 synthetic test images."""
    return build_run(
        tmp_path_factory.getbasetemp() / "synthetic-run",
        synthetic_data,
        ["model.hidden=[32]", "train.epochs=2"],
        sim_samples=100,
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """Trained (784-100-10, ~80 % after one short epoch) and exported on real MNIST."""
    return build_run(tmp_path_factory.getbasetemp() / "tiny-run", mnist_dir)


# ----------------------------------------------------------------------------- untrained networks


def make_config(kind: str = "fc", alpha: float = 0.0, **model: object):
    from snnx.config import RunConfig

    # the classic recipe (CLASSIC): rate code over 25 steps, 784-100-10 unless ``model`` says
    return RunConfig.from_dict({"data": {"encoding": "rate", "timesteps": 25}, "train": {"energy_weight": 0.0},
                                "model": {"kind": kind, "hidden": [100], "neuron": {"alpha": alpha}, **model}})


def make_model(config, seed: int = 0, gain: float = 3.0, bias_std: float = 0.05, qat: bool = True):
    """An untrained model whose layers spike at useful rates (weights x gain, random biases)."""
    import torch

    from snnx.train.models import build_model, spec_from_config

    torch.manual_seed(seed)
    model = build_model(spec_from_config(config.model, (1, 28, 28), 10, qat=qat))
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(gain)
            if layer.synapse.bias is not None:
                layer.synapse.bias.normal_(0.0, bias_std)
    return model.eval()


def save_run(run: Path, config, model) -> Path:
    """A run folder holding ``checkpoint.json`` and ``config.yaml`` of ``model`` (no training)."""
    from snnx.train.checkpoint import Checkpoint

    run.mkdir(parents=True, exist_ok=True)
    Checkpoint(model.spec, model.state_dict(), config).save(run / "checkpoint.json")
    config.save(run / "config.yaml")
    return run


def rate_spikes(steps: int, batch: int, seed: int = 0, p: float = 0.25):
    """Random binary input spikes [T, B, 1, 28, 28] with a per-sample rate (like rate-coded digits)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rate = torch.rand(1, batch, 1, 28, 28, generator=g) * 2 * p
    return (torch.rand(steps, batch, 1, 28, 28, generator=g) < rate).float()


@pytest.fixture(scope="session")
def nets() -> SimpleNamespace:
    """``nets.config(kind, alpha, **model)``, ``nets.model(config, seed=, gain=, bias_std=, qat=)``,
    ``nets.spikes(steps, batch, seed=)``, ``nets.save(run, config, model)``."""
    return SimpleNamespace(config=make_config, model=make_model, spikes=rate_spikes, save=save_run)


@pytest.fixture()
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(name, kind=..., alpha=..., seed=..., gain=...)`` -> a run folder with checkpoint.json."""

    def make(
        name: str = "run",
        kind: str = "fc",
        alpha: float = 0.0,
        seed: int = 0,
        gain: float = 3.0,
        bias_std: float = 0.05,
        qat: bool = True,
        **model: object,
    ) -> Path:
        config = make_config(kind, alpha, **model)
        return save_run(tmp_path / name, config, make_model(config, seed, gain, bias_std, qat))

    return make
