"""One function per figure; each takes plain arrays and writes one PNG atomically.

The figures only draw: gathering the data (running models, reading JSON) is done by
``snnx.viz.plots``, so each figure can be made from any source (predict, report, a notebook).
Float results are drawn in blue, fixed-point results in orange throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from snnx.io import write_atomic  # noqa: E402
from snnx.sim.trace import Trace  # noqa: E402

FLOAT_COLOR, FIXED_COLOR = "tab:blue", "tab:orange"
DPI = 100


def save(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically and free it."""
    fig.tight_layout()
    write_atomic(path, lambda p: fig.savefig(p, dpi=DPI, format="png"))
    plt.close(fig)
    return Path(path)


def raster(ax: plt.Axes, spikes: np.ndarray, color: str, title: str, marker: str = "|") -> None:
    """Spike raster of one layer: ``spikes`` [steps, neurons], a mark per spike (1-based steps)."""
    t, n = np.nonzero(spikes)
    size = float(np.clip((120 / max(spikes.shape[1], 1)) ** 2, 4, 40))  # rows stay visible for 10 or 3000 neurons
    ax.scatter(t + 1, n, s=size, marker=marker, color=color, linewidths=0.8)
    ax.set(xlim=(0.5, spikes.shape[0] + 0.5), ylim=(-0.5, spikes.shape[1] - 0.5), title=title,
           xlabel="time step", ylabel="neuron")


def raster_image(ax: plt.Axes, spikes: np.ndarray, title: str) -> None:
    """A raster as an image (black = spike): readable for hundreds of inputs, where marks blur."""
    ax.imshow(spikes.T, aspect="auto", origin="lower", cmap="gray_r", vmin=0, vmax=max(1.0, float(spikes.max())),
              interpolation="nearest", extent=(0.5, spikes.shape[0] + 0.5, -0.5, spikes.shape[1] - 0.5))
    ax.set(title=title, xlabel="time step", ylabel="input")


def plot_input_raster(inputs: np.ndarray, path: str | Path, title: str = "Input encoding") -> Path:
    """Encoded input of one sample [T, n_in]: which pixel spiked when (or the analog drive)."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    binary = bool(np.all((inputs == 0) | (inputs == 1)))
    raster_image(ax, inputs, f"{title}: {int(inputs.sum())} spikes" if binary else f"{title} (analog values)")
    return save(fig, path)


def plot_layer_rasters(float_run: Trace | None, fixed_run: Trace | None, sample: int,
                       path: str | Path) -> Path:
    """Hidden and output rasters of one sample; float (|) and fixed point (x) overlaid."""
    runs = [(r, c, m, lbl) for r, c, m, lbl in ((float_run, FLOAT_COLOR, "|", "float"),
                                                  (fixed_run, FIXED_COLOR, "x", "fixed point")) if r is not None]
    layers = len(runs[0][0].layers)
    fig, axes = plt.subplots(layers, 1, figsize=(8, 2.6 * layers), squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        for run, color, marker, label in runs:
            layer = run.layers[i]
            raster(ax, layer.spikes[sample], color, layer.name, marker)
            ax.scatter([], [], marker=marker, color=color, label=f"{label} ({int(layer.spikes[sample].sum())} spikes)")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1, 0].axvline(runs[0][0].latency + 0.5, color="gray", lw=0.8, ls=":")
    axes[-1, 0].set_ylabel("class")
    return save(fig, path)


def pick_neurons(run: Trace, sample: int, per_layer: int = 2) -> list[list[int]]:
    """The most active neurons of each layer (output layer: the top classes), for traces."""
    picks = []
    for layer in run.layers:
        activity = layer.spikes[sample].sum(0) + (1e-6 * layer.v[sample].max(0) if layer.v is not None else 0)
        picks.append([int(i) for i in np.argsort(-activity, kind="stable")[:per_layer]])
    return picks


def plot_membranes(float_run: Trace | None, fixed_run: Trace | None, sample: int,
                   path: str | Path, neurons: list[list[int]] | None = None) -> Path:
    """Membrane potential (before reset) against time with the threshold; float and fixed overlaid."""
    ref = float_run or fixed_run
    neurons = neurons or pick_neurons(ref, sample)
    cells = [(i, n) for i, layer_neurons in enumerate(neurons) for n in layer_neurons]
    fig, axes = plt.subplots(len(cells), 1, figsize=(8, 2.0 * len(cells)), squeeze=False, sharex=True)
    for ax, (i, n) in zip(axes[:, 0], cells, strict=True):
        for run, color, style, label in ((float_run, FLOAT_COLOR, "-", "float"),
                                         (fixed_run, FIXED_COLOR, "--", "fixed point")):
            if run is None or run.layers[i].v is None:
                continue
            layer = run.layers[i]
            steps = np.arange(1, layer.v.shape[1] + 1)
            ax.plot(steps, layer.v[sample, :, n], style, color=color, lw=1.2, label=f"{label} v")
            ax.axhline(layer.threshold, color=color, lw=0.8, ls=":", label=f"{label} threshold")
            t = np.nonzero(layer.spikes[sample, :, n])[0]
            ax.plot(t + 1, np.full(len(t), layer.threshold), "v", color=color, ms=4)
        ax.set(title=f"layer {ref.layers[i].name}, neuron {n}", ylabel="v")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("time step (triangles: spikes)")
    return save(fig, path)


def plot_weight_histograms(names: Sequence[str], float_weights: Sequence[np.ndarray],
                           quantized: Sequence[np.ndarray] | None, path: str | Path) -> Path:
    """Per layer: the trained float weights vs the deployed ones (integer / scale)."""
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for i, ax in enumerate(axes[0]):
        w = np.ravel(float_weights[i])
        bins = _bins(w, None if quantized is None else np.ravel(quantized[i]))
        ax.hist(w, bins=bins, color=FLOAT_COLOR, alpha=0.6, label="float")
        if quantized is not None:
            ax.hist(np.ravel(quantized[i]), bins=bins, histtype="step", color=FIXED_COLOR, lw=1.4,
                    label="quantized (int / scale)")
        ax.set(title=f"layer {names[i]}", xlabel="weight", ylabel="count", yscale="log")
        ax.legend(fontsize=7)
    return save(fig, path)


def _bins(w: np.ndarray, q: np.ndarray | None, target: int = 60) -> np.ndarray | int:
    """Bin edges on the quantization grid (whole grid steps per bin, edges between grid points),
    so the quantized histogram shows no aliasing stripes; plain bins for float only."""
    lo, hi = float(w.min()), float(w.max())
    if q is not None:
        levels = np.unique(q)
        if len(levels) > 1:
            step = float(np.diff(levels).min())
            width = step * max(1, int(np.ceil((hi - lo) / step / target)))
            start = levels[0] - step / 2 - width * np.ceil((levels[0] - lo) / width)
            return np.arange(start, max(hi, levels[-1]) + width, width)
    return np.linspace(lo, hi, target + 1) if hi > lo else 30


def plot_layer_spikes(names: Sequence[str], float_counts: Sequence[float] | None,
                      fixed_counts: Sequence[float] | None, path: str | Path, samples: int) -> Path:
    """Average spikes per sample in each layer, float vs fixed point."""
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names)), 3.5))
    x = np.arange(len(names))
    bars = [(c, col, lbl) for c, col, lbl in ((float_counts, FLOAT_COLOR, "float"),
                                               (fixed_counts, FIXED_COLOR, "fixed point")) if c is not None]
    width = 0.8 / len(bars)
    for j, (counts, color, label) in enumerate(bars):
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, counts, width, color=color, label=label)
        for p, c in zip(pos, counts, strict=True):
            ax.annotate(f"{c:.0f}", (p, c), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, fontsize=8)
    ax.set(ylabel="spikes per sample", title=f"Spikes per layer (mean over {samples} test images)")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_energy(names: Sequence[str], parts: dict[str, Sequence[float]], path: str | Path) -> Path:
    """Energy per layer, stacked by component (synaptic ops, neuron updates, spikes...)."""
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names)), 3.5))
    bottom = np.zeros(len(names))
    for label, values in parts.items():
        values = np.asarray(values, dtype=float)
        ax.bar(np.arange(len(names)), values, 0.6, bottom=bottom, label=label)
        bottom += values
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set(ylabel="energy per inference (µJ)", title="Energy per layer")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_confusion(labels: np.ndarray, predictions: dict[str, np.ndarray], path: str | Path,
                   classes: int = 10) -> Path:
    """Confusion matrices (true class x predicted class), one per model, with accuracy."""
    fig, axes = plt.subplots(1, len(predictions), figsize=(4.6 * len(predictions), 4.2), squeeze=False)
    for ax, (name, pred) in zip(axes[0], predictions.items(), strict=True):
        m = np.zeros((classes, classes), dtype=int)
        np.add.at(m, (labels, pred), 1)
        ax.imshow(m, cmap="Blues")
        for (r, c), v in np.ndenumerate(m):
            if v:
                ax.text(c, r, str(v), ha="center", va="center", fontsize=6,
                        color="white" if v > m.max() / 2 else "black")
        acc = 100 * float((labels == pred).mean())
        ax.set(title=f"{name}: {acc:.2f} % of {len(labels)}", xlabel="predicted", ylabel="true",
               xticks=range(classes), yticks=range(classes))
    return save(fig, path)


def plot_prediction(pixels: np.ndarray, float_run: Trace | None, fixed_run: Trace | None,
                    path: str | Path) -> Path:
    """``snnx predict --plot``: the prepared image, its input raster and the output spikes."""
    ref = float_run or fixed_run
    fig = plt.figure(figsize=(11, 3.8))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 2.2, 2.2])
    ax_img, ax_in, ax_out = (fig.add_subplot(grid[0, i]) for i in range(3))
    ax_img.imshow(pixels, cmap="gray", vmin=0, vmax=1)
    ax_img.set(title="model input", xticks=[], yticks=[])
    raster_image(ax_in, ref.inputs[0], f"input spikes ({int(ref.inputs[0].sum())})")
    for run, color, marker, label in ((float_run, FLOAT_COLOR, "|", "float"),
                                      (fixed_run, FIXED_COLOR, "x", "fixed point")):
        if run is None:
            continue
        raster(ax_out, run.layers[-1].spikes[0], color, "output spikes", marker)
        ax_out.scatter([], [], marker=marker, color=color, label=f"{label}: class {int(run.predictions[0])}")
    ax_out.axvline(ref.latency + 0.5, color="gray", lw=0.8, ls=":")
    ax_out.set(ylabel="class", yticks=range(ref.layers[-1].spikes.shape[2]))
    ax_out.legend(loc="upper left", fontsize=8)
    return save(fig, path)


def plot_accuracy_energy(points: Sequence[dict], published: Sequence[dict], path: str | Path,
                         pareto: Sequence[int] = (), title: str = "Accuracy against energy per inference",
                         label_points: bool = False) -> Path:
    """Deployed accuracy (%) against uJ per inference (log x): our points, their Pareto set, and the
    published chips (stars, labelled). ``points``: dicts with ``energy_per_inference_uJ``,
    ``fixed_accuracy`` and a ``label``; ``pareto``: indices into ``points``."""
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    front = set(int(i) for i in pareto)
    xs = [float(p["energy_per_inference_uJ"]) for p in points]
    ys = [100 * float(p["fixed_accuracy"]) for p in points]
    rest = [i for i in range(len(points)) if i not in front]
    if rest:
        ax.scatter([xs[i] for i in rest], [ys[i] for i in rest], s=28, color="tab:gray", alpha=0.7,
                   label="snnx trials" if front else "snnx")
    if front:
        order = sorted(front, key=lambda i: xs[i])
        ax.plot([xs[i] for i in order], [ys[i] for i in order], "-o", color=FIXED_COLOR, ms=6, lw=1.2,
                label="snnx Pareto set" if rest else "snnx")
    if label_points or front:
        for i in (range(len(points)) if label_points else front):
            if points[i].get("label"):
                ax.annotate(str(points[i]["label"]), (xs[i], ys[i]), textcoords="offset points",
                            xytext=(5, -10), fontsize=7, color=FIXED_COLOR)
    pub = [(float(p["energy_per_inference_uJ"]), 100 * float(p["accuracy"]), str(p["what"]))
           for p in published if p.get("accuracy") is not None]
    lefts = 0
    for x, y, what in pub:
        ax.scatter([x], [y], marker="*", s=120, color="tab:red", zorder=3)
        # a label that would run into a neighbour's (just right of it, about as high) goes left
        left = any(x < x2 <= 1.5 * x and abs(y - y2) < 3 for x2, y2, _ in pub)
        lefts += left
        ax.annotate(what, (x, y), textcoords="offset points", xytext=(-6 if left else 6, 4), fontsize=7,
                    color="tab:red", ha="right" if left else "left")
    ax.scatter([], [], marker="*", s=80, color="tab:red", label="published (Renner et al. 2024, Table 1)")
    ax.set_xscale("log")
    every = xs + [x for x, _, _ in pub]
    if every:
        ax.set_xlim(min(every) / (5.0 if lefts else 1.6), max(every) * 1.6)  # room for a label on the left
    ax.set(xlabel="energy per inference (µJ, log scale)", ylabel="deployed accuracy (%)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)
