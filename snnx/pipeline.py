"""``snnx run``: train -> export -> sim -> deploy -> report in one go, ending in one summary table.

Each stage is called through the public API function its own command uses (snnx.api) and
talks to the next only through the run folder, so ``snnx run`` proves the stages compose exactly
as a user running them one by one would; the summary is read back from the stages' files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnx.artifacts import stamp
from snnx.config import resolve
from snnx.io import write_json
from snnx.run import RunFolder


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, fn, *args, **kwargs):
        print(f"\n== {name} ==", flush=True)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - t0
        return out


def run_pipeline(
    out: str | Path,
    *,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    report: bool = True,
) -> dict:
    """train -> export -> simulate -> deploy -> report into ``out``; returns summary.json's content.

    ``report=False`` leaves out report.html (``snnx frontier``'s trials: `snnx report RUN` makes it later).

    Public as ``snnx.run_pipeline``. It lives here, above :mod:`snnx.api`, because it calls the
    four stage functions of the API (an orchestrator, not a fifth stage).
    """
    from snnx import api

    out = Path(out)
    config = Path(config) if config is not None else None
    data_dir = Path(data_dir) if data_dir is not None else None
    overrides = list(overrides)
    cfg = resolve(config, overrides)  # validate before any stage starts
    times = StageTimes()
    times.timed("train", api.train, out, config=config, overrides=overrides, data_dir=data_dir,
                overwrite=overwrite)
    times.timed("export", api.export, out, target=cfg.export.target)
    times.timed("sim", api.simulate, out, backend=cfg.sim.backend, samples=cfg.sim.samples, data_dir=data_dir)
    times.timed("deploy", api.deploy, out, target=cfg.deploy.target, data_dir=data_dir)
    if report:
        times.timed("report", api.report, out, data_dir=data_dir)
    folder = RunFolder(out)
    summary = summarize(folder, cfg.deploy.target, times.seconds)
    write_json(folder.summary, stamp("summary", summary))
    print_summary(summary, out)
    return summary


def summarize(folder: RunFolder, target: str, seconds: dict[str, float]) -> dict:
    """summary.json's content, read back from the stages' own files (sim.json and the bundle)."""
    sim = folder.load_sim()
    energy = folder.load_energy(target) if folder.energy(target).is_file() else None
    cmap = folder.load_core_map(target) if folder.core_map(target).is_file() else None
    return {
        "float_accuracy": sim.float_accuracy,
        "fixed_accuracy": sim.fixed_accuracy,
        "agreement": sim.agreement,
        "samples": sim.samples,
        "backend": sim.backend,
        "lava_fast_identical": sim.lava_fast_identical,
        "energy_per_inference_uJ": energy.energy_per_inference_uJ if energy else None,
        "synops_per_inference": energy.synops_per_inference if energy else None,
        "cores": cmap.total_cores if cmap else None,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }


def _fmt(value, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{100 * value:.2f} %"
    if kind == "int":
        return f"{value:,.0f}"
    return f"{value:.3g}"


def print_summary(s: dict, out: Path) -> None:
    rows = [
        ("float accuracy", _fmt(s["float_accuracy"], "pct")),
        (f"fixed-point accuracy ({s['backend']} sim, {s['samples']} test images)", _fmt(s["fixed_accuracy"], "pct")),
        ("float/fixed agreement", _fmt(s["agreement"], "pct")),
    ] + ([("Lava and fast simulator identical", "yes" if s["lava_fast_identical"] else "NO")]
         if s["lava_fast_identical"] is not None else []) + [
        ("energy per inference (uJ)", _fmt(s["energy_per_inference_uJ"], "g")),
        ("synaptic ops per inference", _fmt(s["synops_per_inference"], "int")),
        ("Loihi 2 cores", _fmt(s["cores"], "int")),
    ] + [(f"time: {k} (s)", f"{v:.1f}") for k, v in s["seconds"].items()]
    width = max(len(r[0]) for r in rows)
    print(f"\nsnnx run summary ({out})")
    print("-" * (width + 16))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")
    print("-" * (width + 16))
    if (Path(out) / "report.html").is_file():
        print(f"open {Path(out) / 'report.html'} for plots and the spike viewer")
