"""``snnx train``: resolve the config, then train into the run folder."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from snnx.config import RunConfig, resolve
from snnx.errors import SnnxError
from snnx.io import run_lock
from snnx.run import RunFolder
from snnx.train.trainer import TrainResult, train

# Everything snnx writes into a run folder: what `train --overwrite` removes. Files of the
# user's own (notes, data) are left alone.
RUN_ARTIFACTS = ("config.yaml", "checkpoint.json", "checkpoint.safetensors", "checkpoint.pt", "last.json",
                 "last.safetensors", "last.pt", "metrics.csv", "model.nir", "model.net", "quant.json", "sim.json",
                 "spikes.npz", "compare.json", "report.html", "summary.json", "plots", "deploy")


def existing_artifacts(out: Path) -> list[str]:
    """The snnx artifacts already in ``out`` (empty for a new or empty folder)."""
    return [name for name in RUN_ARTIFACTS if (Path(out) / name).exists()]


def remove_artifacts(out: Path) -> None:
    for name in RUN_ARTIFACTS:
        path = Path(out) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def train_command(config: Path | None, out: Path, overrides: list[str], data_dir: Path | None,
                  resume: bool = False, overwrite: bool = False) -> TrainResult:
    """With ``--resume`` the run's own config.yaml is used (plus any overrides, e.g. more epochs).

    A folder that already holds a run is refused unless ``--resume`` (continue it) or
    ``--overwrite`` (start over: every snnx artifact in it is removed first, after the config
    and data have been checked), so a new model never silently mixes with an old model.net.
    """
    out = Path(out)
    if resume and overwrite:
        raise SnnxError("--resume and --overwrite contradict each other; give one of them")
    if out.exists() and not out.is_dir():
        raise SnnxError(f"run folder {out} is a file; give a folder with -o")
    if resume:
        saved = RunFolder(out).config
        if not saved.exists():
            raise SnnxError(f"--resume: {saved} not found; start a new run without --resume")
        cfg = RunConfig.load(saved, overrides)
    else:
        cfg = resolve(config, overrides)
        found = existing_artifacts(out)
        if found and not overwrite:
            raise SnnxError(f"{out} already holds a run ({', '.join(found[:4])}); continue it with --resume, "
                            f"replace it with --overwrite, or choose a new folder with -o")
    with ExitStack() as stack:
        def prepare() -> None:  # called once data and model have loaded, before the first write
            out.mkdir(parents=True, exist_ok=True)
            stack.enter_context(run_lock(out, "train"))  # re-entrant: the CLI may hold it already
            if overwrite:
                remove_artifacts(out)

        result = train(cfg, out, data_dir, resume=resume, before_write=prepare)
    if result.rank == 0:  # under torchrun one process reports
        print(f"best test accuracy {100 * result.best_test_acc:.2f}% after {result.epochs_done} epoch(s); "
              f"run folder {out}")
    return result
