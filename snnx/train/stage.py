"""``snnx train``: resolve the config, then train into the run folder."""

from __future__ import annotations

from pathlib import Path

from snnx.config import RunConfig, resolve
from snnx.errors import SnnxError
from snnx.run import RunFolder
from snnx.train.trainer import TrainResult, train


def train_command(config: Path | None, out: Path, overrides: list[str], data_dir: Path | None,
                  resume: bool = False) -> TrainResult:
    """With ``--resume`` the run's own config.yaml is used (plus any overrides, e.g. more epochs)."""
    if resume:
        saved = RunFolder(out).config
        if not saved.exists():
            raise SnnxError(f"--resume: {saved} not found; start a new run without --resume")
        cfg = RunConfig.load(saved, overrides)
    else:
        cfg = resolve(config, overrides)
    result = train(cfg, out, data_dir, resume=resume)
    print(f"best test accuracy {100 * result.best_test_acc:.2f}% after {result.epochs_done} epoch(s); "
          f"run folder {out}")
    return result
