"""Fixtures for the exporter tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from export_helpers import make_config, make_model, save_run


@pytest.fixture()
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(name, kind=..., alpha=..., seed=..., gain=...)`` -> a run folder with checkpoint.json."""

    def make(name: str = "run", kind: str = "fc", alpha: float = 0.0, seed: int = 0, gain: float = 3.0,
             bias_std: float = 0.05, qat: bool = True, **model: object) -> Path:
        config = make_config(kind, alpha, **model)
        return save_run(tmp_path / name, config, make_model(config, seed, gain, bias_std, qat))

    return make
