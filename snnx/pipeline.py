"""``snnx run``: train -> export -> sim -> deploy -> report in one go, ending in one summary table.

Each stage is called through the same function its own command uses and talks to the next
only through the run folder, so ``snnx run`` proves the stages compose exactly as a user
running them one by one would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from snnx.config import resolve
from snnx.io import write_json


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, fn, *args, **kwargs):
        print(f"\n== {name} ==", flush=True)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - t0
        return out


def run_command(config: Path | None, out: Path, overrides: list[str], data_dir: Path | None,
                overwrite: bool = False) -> dict:
    from snnx.deploy.stage import deploy_command
    from snnx.export.stage import export_command
    from snnx.sim.stage import sim_command
    from snnx.train.stage import train_command
    from snnx.viz.report import report_command

    cfg = resolve(config, overrides)  # validate before any stage starts
    times = StageTimes()
    overrides = list(overrides)
    times.timed("train", train_command, config, out, overrides, data_dir, False, overwrite)
    times.timed("export", export_command, out, cfg.export.target, None, None, None, None, None)
    sim = times.timed("sim", sim_command, out, cfg.sim.backend, cfg.sim.samples, None, None, data_dir)
    dep = times.timed("deploy", deploy_command, out, cfg.deploy.target, False, None, data_dir)
    times.timed("report", report_command, out, data_dir)
    summary = summarize(sim, dep, times.seconds)
    write_json(Path(out) / "summary.json", summary)
    print_summary(summary, out)
    return summary


def summarize(sim, dep, seconds: dict[str, float]) -> dict:
    def get(obj, name, default=None):
        if isinstance(obj, dict):
            return obj.get(name, default)
        return getattr(obj, name, default)

    energy = get(dep, "energy", {}) or {}
    mapping = get(dep, "core_map", {}) or {}
    return {
        "float_accuracy": get(sim, "float_accuracy"),
        "fixed_accuracy": get(sim, "fixed_accuracy"),
        "agreement": get(sim, "agreement"),
        "samples": get(sim, "samples"),
        "backend": get(sim, "backend"),
        "lava_fast_identical": get(sim, "lava_fast_identical"),
        "energy_per_inference_uJ": get(energy, "energy_per_inference_uJ"),
        "synops_per_inference": get(energy, "synops_per_inference"),
        "cores": get(mapping, "total_cores"),
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
    print(f"open {Path(out) / 'report.html'} for plots and the spike viewer")
