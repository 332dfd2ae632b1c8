"""One briefly trained and exported MNIST run, built once per test session.

Shared by tests/viz and tests/sim/test_predict.py (imported as ``viz.tiny_run``: tests/ is on
sys.path through tests/conftest.py). The folder lives in pytest's session base temp dir, so
whichever test needs it first builds it and the others reuse it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

OVERRIDES = ["data.train_subset=3000", "data.test_subset=500", "train.epochs=1"]


def build_tiny_run(base: Path, data_dir: Path) -> Path:
    """Train (~10 s) and export a 784-100-10 run into ``base/tiny-run`` unless already there."""
    from snnx.export.stage import export_command
    from snnx.train.stage import train_command

    run = base / "tiny-run"
    if (run / "model.net").exists():
        return run
    with contextlib.redirect_stdout(io.StringIO()):
        train_command(None, run, list(OVERRIDES), data_dir)
        export_command(run, "loihi", None, None, None, None, None)
    return run
