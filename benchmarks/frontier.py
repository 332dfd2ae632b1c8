"""The accuracy-energy frontier on full MNIST: ``snnx frontier`` with examples/frontier.yaml.

Every trial trains a 784-H-10 network (12 epochs on all 60,000 training images), exports it,
simulates all 10,000 test images bit-exactly (fast simulator) and prices it with the
loihi1-davies2018 profile; NSGA-II proposes encoding, time steps, hidden size and the weight of
the chip-priced loss. A proposal that repeats a finished trial's settings takes its figures.
The study lives in OUT/frontier.db, so an interrupted benchmark resumes when run again, and a
second process (or machine, with --storage) running the same command joins it.

    SNNX_DATA_DIR=path/to/mnist OMP_NUM_THREADS=1 uv run python benchmarks/frontier.py --trials 40 &
    SNNX_DATA_DIR=path/to/mnist OMP_NUM_THREADS=1 uv run python benchmarks/frontier.py --trials 40

Prints the trials (Pareto set marked, with the published points each one dominates) and writes
benchmarks/results/frontier.json and frontier.png (copies of OUT's).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import snnx  # noqa: E402
from snnx.frontier.results import load_frontier  # noqa: E402
from snnx.loihi.energy_profile import PUBLISHED_MNIST  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def dominated_points(t: dict) -> list[str]:
    """Published points this trial matches or beats on both axes."""
    return [p["what"] for p in PUBLISHED_MNIST
            if t["fixed_accuracy"] >= p["accuracy"] and t["energy_per_inference_uJ"] <= p["energy_per_inference_uJ"]]


def table(doc: dict) -> str:
    done = sorted((t for t in doc["trials"] if t["state"] == "COMPLETE"), key=lambda t: t["energy_per_inference_uJ"])
    keys = list(doc["space"]["space"])
    head = ["#", "Pareto", *keys, "fixed acc", "uJ/inf", "synops", "s", "same as", "dominates"]
    rows = [[str(t["number"]), "*" if t["pareto"] else "", *(json.dumps(t["settings"][k]) for k in keys),
             f"{100 * t['fixed_accuracy']:.2f} %", f"{t['energy_per_inference_uJ']:.3f}",
             f"{t['synops_per_inference']:,.0f}", f"{t['seconds']:.0f}",
             "-" if t.get("same_as") is None else f"#{t['same_as']}", ", ".join(dominated_points(t)) or "-"]
            for t in done]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), "-" * (sum(widths) + 2 * len(widths)), *map(line, rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "frontier")
    ap.add_argument("--space", type=Path, default=ROOT / "examples" / "frontier.yaml")
    ap.add_argument("--storage", help="Optuna storage URL shared with other workers")
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    report = snnx.frontier(args.out, space=args.space, trials=args.trials, storage=args.storage,
                           data_dir=args.data_dir)
    doc = load_frontier(report.json)
    print()
    print(table(doc))
    RESULTS.mkdir(parents=True, exist_ok=True)
    rel = lambda p: str(Path(p).resolve().relative_to(ROOT)) if Path(p).resolve().is_relative_to(ROOT) else Path(p).name  # noqa: E731
    doc["storage"] = f"sqlite:///{rel(args.out)}/frontier.db" if args.storage is None else "(given with --storage)"
    doc["space"]["file"] = rel(doc["space"]["file"])
    out = {**doc, "machine": {"platform": platform.platform(), "processor": platform.processor(),
                              "python": platform.python_version()},
           "command": f"benchmarks/frontier.py --trials {args.trials}"}
    (RESULTS / "frontier.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(report.png, RESULTS / "frontier.png")
    print(f"\nwrote {RESULTS / 'frontier.json'} and {RESULTS / 'frontier.png'}")


if __name__ == "__main__":
    main()
