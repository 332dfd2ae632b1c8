"""``snnx predict``: classify one image file with the float model and the fixed-point network.

Image preparation (reading, inverting, centring, scaling the file) is
:mod:`snnx.data.images`; its rules are in that module's docstring.

The same input spikes (the run's encoding, ``--seed``) go to the float model
(checkpoint.json) and to the fast bit-accurate simulator on model.net. When model.net is
missing, the float result is printed with a note saying to run ``snnx export`` first; when
checkpoint.json is missing (a run made with ``snnx export --from-nir``), the fixed-point one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from snnx.data.images import PreparedImage, image_side, prepare_image
from snnx.run import RunFolder
from snnx.sim.reference import encode_images
from snnx.sim.trace import (
    RunModels,
    Trace,
    fixed_trace,
    float_trace,
    load_run_models,
)


def _counts_result(trace: Trace | None) -> tuple[int | None, list[int] | None]:
    if trace is None:
        return None, None
    counts = trace.counts[0]
    return int(np.argmax(counts)), [int(c) for c in counts]


def predict_command(run: Path, image: Path, as_json: bool, plot: Path | None, seed: int) -> dict:
    """Classify ``image``; print a table (or one JSON object) and optionally save a plot."""
    from snnx.provenance import check_fresh

    if Path(run).is_dir():
        check_fresh(Path(run), "model.net")  # never show a float model beside an older model.net
    models = load_run_models(run)
    prepared = prepare_image(image, image_side(models.input_shape))
    x = encode_images(models.encoding(), torch.from_numpy(prepared.pixels).reshape(1, *models.input_shape), seed)
    float_run = float_trace(models.model, x, record_v=False) if models.model is not None else None
    fixed_run = None
    if models.net is not None:
        x_net = x.reshape(x.shape[0], 1, *models.net.input.shape)
        fixed_run = fixed_trace(models.net, x_net, record_v=False)
    result = _result(models, image, prepared, seed, float_run, fixed_run)
    if plot is not None:
        from snnx.viz.figures import plot_prediction

        plot_prediction(prepared.pixels, float_run, fixed_run, plot)
        result["plot"] = str(plot)
    if as_json:
        print(json.dumps(result))
    else:
        print(format_result(result))
    return result


def _result(models: RunModels, image: Path, prepared: PreparedImage, seed: int,
            float_run: Trace | None, fixed_run: Trace | None) -> dict:
    fp_pred, fp_counts = _counts_result(float_run)
    fx_pred, fx_counts = _counts_result(fixed_run)
    notes = list(models.notes)
    if models.model is None:
        notes.append(f"float: not available, {RunFolder(models.run).checkpoint} is missing")
    for name, counts in (("float", fp_counts), ("fixed point", fx_counts)):
        if counts is not None and max(counts) == 0:
            notes.append(f"{name}: no output spikes at all, so the prediction (class 0) is a tie")
    enc = models.encoding()
    return {
        "image": str(image), "seed": seed, "encoding": enc.encoding, "timesteps": enc.timesteps,
        "float_prediction": fp_pred, "fixed_prediction": fx_pred,
        "float_counts": fp_counts, "fixed_counts": fx_counts,
        "agree": None if fp_pred is None or fx_pred is None else fp_pred == fx_pred,
        "preprocessing": prepared.describe(), "notes": notes,
    }


def format_result(r: dict) -> str:
    """A small table: predictions and per-class output spike counts."""
    classes = len(r["float_counts"] or r["fixed_counts"])
    lines = [f"{r['image']}: {r['encoding']} encoding, {r['timesteps']} steps, seed {r['seed']}"
             + (", inverted (light background)" if r["preprocessing"]["inverted"] else "")]
    header = "model        prediction  " + " ".join(f"{c:>4d}" for c in range(classes))
    lines += [header, "-" * len(header)]
    for name, key in (("float", "float"), ("fixed point", "fixed")):
        counts = r[f"{key}_counts"]
        if counts is None:
            lines.append(f"{name:<12} {'n/a':>10}")
        else:
            lines.append(f"{name:<12} {r[f'{key}_prediction']:>10d}  " + " ".join(f"{c:>4d}" for c in counts))
    lines += [f"note: {n}" for n in r["notes"]]
    if r.get("plot"):
        lines.append(f"plot: {r['plot']}")
    return "\n".join(lines)
