"""DIR/frontier.json and DIR/frontier.png: the whole study as one typed document and its figure.

Both are rebuilt from the study's storage after every trial by whichever process finished it, so
with several workers the files always show the study as the storage holds it (each written
atomically; the last writer has seen every trial before it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnx.artifacts import read_artifact, stamp
from snnx.frontier.space import Space
from snnx.io import write_json
from snnx.loihi.energy_profile import PUBLISHED_MNIST

JSON_NAME, PNG_NAME = "frontier.json", "frontier.png"
DIRECTIONS = ("maximize", "minimize")  # fixed_accuracy, energy_per_inference_uJ


def trial_record(t: Any, space: Space, pareto: set[int]) -> dict[str, Any]:
    """One trial as frontier.json lists it (its settings decoded to config values)."""
    by_key = {p.key: p for p in space.params}
    settings = t.user_attrs.get("settings") or {
        k: (by_key[k].decode(v) if k in by_key else v) for k, v in t.params.items()
    }
    complete = t.state.name == "COMPLETE"
    return {
        "number": t.number,
        "state": t.state.name,
        "settings": settings,
        "fixed_accuracy": t.values[0] if complete else None,
        "energy_per_inference_uJ": t.values[1] if complete else None,
        "synops_per_inference": t.user_attrs.get("synops_per_inference"),
        "float_accuracy": t.user_attrs.get("float_accuracy"),
        "samples": t.user_attrs.get("samples"),
        "cores": t.user_attrs.get("cores"),
        "seconds": t.user_attrs.get("seconds"),
        "run": t.user_attrs.get("run"),
        "worker": t.user_attrs.get("worker"),
        "retry_of": t.system_attrs.get("failed_trial"),
        "same_as": t.user_attrs.get("same_as"),
        "error": t.user_attrs.get("error"),
        "pareto": t.number in pareto,
    }


def frontier_document(study: Any, space: Space, storage: str, target: int) -> dict[str, Any]:
    pareto = {t.number for t in study.best_trials}
    trials = [trial_record(t, space, pareto) for t in study.get_trials(deepcopy=False)]
    return stamp("frontier", {
        "study": study.study_name,
        "storage": safe_url(storage),
        "objectives": {"fixed_accuracy": DIRECTIONS[0], "energy_per_inference_uJ": DIRECTIONS[1]},
        "sampler": "optuna NSGAIISampler",
        "target_trials": int(target),
        "complete": sum(t["state"] == "COMPLETE" for t in trials),
        "space": space.describe(),
        "pareto": sorted(pareto),
        "trials": trials,
        "published": PUBLISHED_MNIST,
    })


def write_frontier(out: Path, study: Any, space: Space, storage: str, target: int) -> tuple[Path, Path]:
    """Write frontier.json and frontier.png into ``out``; returns their paths."""
    doc = frontier_document(study, space, storage, target)
    json_path = write_json(Path(out) / JSON_NAME, doc)
    png_path = plot_frontier(doc, Path(out) / PNG_NAME)
    return json_path, png_path


def plot_frontier(doc: dict[str, Any], path: Path) -> Path:
    """The frontier figure of a frontier.json document."""
    from snnx.viz.figures import plot_accuracy_energy

    # a repeat (same_as) is the same point as the trial it repeats: drawn once, labelled once
    done = [t for t in doc["trials"] if t["state"] == "COMPLETE" and t.get("same_as") is None]
    points = [{**t, "label": f"#{t['number']}"} for t in done]
    pareto = [i for i, t in enumerate(done) if t["pareto"]]
    title = (f"snnx frontier: {len(done)} trained settings, {len(pareto)} on the Pareto set "
             f"(study {doc['study']})")
    return plot_accuracy_energy(points, doc["published"], path, pareto, title)


def load_frontier(path: Path) -> dict[str, Any]:
    """A frontier.json, schema-checked."""
    return read_artifact("frontier", Path(path), rebuild="snnx frontier -o DIR --trials N")


def safe_url(url: str) -> str:
    """The storage URL without a password (it goes into frontier.json and messages)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
