"""Session fixture: one trained, exported tiny run shared by the viz and predict tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from viz.tiny_run import build_tiny_run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    return build_tiny_run(tmp_path_factory.getbasetemp(), mnist_dir)
