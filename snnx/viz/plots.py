"""Gather a run's data (models, test images, metrics, sim/energy JSON) and draw every plot.

``make_plots`` writes ``RUN/plots/*.png`` and returns what the HTML report needs: the
figures with captions, the traces of a few test samples for the interactive view, and a
note for every section that cannot be made yet with the command that makes it.
Float and fixed point always see the same input spikes (one encoding per batch).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from snnx.errors import SnnxError
from snnx.run import CoreMap, EnergyReport, RunFolder
from snnx.sim.result import SimResult
from snnx.sim.trace import (
    RunModels,
    Trace,
    fixed_trace,
    float_trace,
    load_run_models,
)
from snnx.viz import figures

# the later stages' JSON outputs a report shows, relative to the run folder (names from RunFolder)
_NAMES = RunFolder(Path("."))
JSON_FILES = {key: str(path) for key, path in (("quant", _NAMES.quant), ("sim", _NAMES.sim),
                                               ("energy", _NAMES.energy()), ("core_map", _NAMES.core_map()))}
REPORT_SAMPLES = 1000  # test images for the confusion matrices and spike counts
TRACE_SAMPLES = 3  # test images kept in full (spikes and membranes) for the interactive view
BATCH = 250


@dataclass
class Figure:
    key: str
    title: str
    path: Path
    caption: str


@dataclass
class EvalSummary:
    """Predictions and mean spikes per layer per sample of one model on the report's images."""

    predictions: np.ndarray
    spikes_per_sample: np.ndarray
    layer_names: list[str]


@dataclass
class ReportData:
    run: Path
    models: RunModels
    labels: np.ndarray | None = None
    float_summary: EvalSummary | None = None
    fixed_summary: EvalSummary | None = None
    float_trace: Trace | None = None
    fixed_trace: Trace | None = None
    figures: list[Figure] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # figure key -> what to run to make it
    documents: dict[str, dict | None] = field(default_factory=dict)  # JSON_FILES key -> content
    sim: SimResult | None = None  # sim.json, typed (None: `snnx sim` has not run)
    energy: EnergyReport | None = None  # deploy/loihi2/energy.json, typed
    core_map: CoreMap | None = None


def read_stage_outputs(folder: RunFolder) -> dict:
    """The later stages' artifacts through the run folder's typed loaders; None for a stage that
    has not run (a corrupt or foreign file is an error naming the command that rebuilds it)."""
    def load(path: Path, loader):
        return loader() if path.exists() else None

    return {"quant": load(folder.quant, folder.load_quant), "sim": load(folder.sim, folder.load_sim),
            "energy": load(folder.energy(), folder.load_energy),
            "core_map": load(folder.core_map(), folder.load_core_map)}


def _summary(preds: list[np.ndarray], totals: np.ndarray | None, names: list[str], n: int) -> EvalSummary | None:
    return EvalSummary(np.concatenate(preds), totals / n, names) if preds else None


def run_test_set(d: ReportData, test, n: int) -> None:
    """Float and fixed point on the first ``n`` test images, encoded exactly as ``snnx sim``
    encodes them (same batches and seeds), so the report's numbers and sim.json's agree.

    Only predictions and spike totals are kept, except for the first TRACE_SAMPLES images,
    whose spikes and membranes the figures and the viewer show.
    """
    from snnx.sim.reference import encoded_batches

    models, enc = d.models, d.models.encoding()
    seed = models.checkpoint.config.train.seed if models.checkpoint is not None else 0
    preds: dict[str, list[np.ndarray]] = {"float": [], "fixed": []}
    totals: dict[str, np.ndarray] = {}
    names: dict[str, list[str]] = {}
    for batch in encoded_batches(test, n, enc, seed):
        spikes = batch.spikes.reshape(*batch.spikes.shape[:2], *models.input_shape)
        if batch.index.start == 0:
            first = spikes[:, :TRACE_SAMPLES]
            d.float_trace, d.fixed_trace = _float(models, first, True), _fixed(models, first, True)
        for lo in range(0, spikes.shape[1], BATCH):  # bounded memory for conv models
            x = spikes[:, lo: lo + BATCH]
            for key, run in (("float", _float(models, x)), ("fixed", _fixed(models, x))):
                if run is not None:
                    preds[key].append(run.predictions)
                    totals[key] = totals.get(key, 0) + np.array([layer.spikes.sum() for layer in run.layers])
                    names[key] = [layer.name for layer in run.layers]
    d.labels = test.labels[:n].numpy()
    d.float_summary = _summary(preds["float"], totals.get("float"), names.get("float", []), n)
    d.fixed_summary = _summary(preds["fixed"], totals.get("fixed"), names.get("fixed", []), n)


def _float(models: RunModels, x: torch.Tensor, record_v: bool = False) -> Trace | None:
    return None if models.model is None else float_trace(models.model, x, record_v)


def _fixed(models: RunModels, x: torch.Tensor, record_v: bool = False) -> Trace | None:
    if models.net is None:
        return None
    return fixed_trace(models.net, x.reshape(x.shape[0], x.shape[1], *models.net.input.shape), record_v)


def load_test_set(models: RunModels, data_dir: Path | None):
    """The run's test split (an ImageSet), checked against the model's input size."""
    from snnx.data.datasets import load_split, load_test

    if models.checkpoint is not None:
        data = models.checkpoint.config.data
        dataset, test = data.dataset, load_test(data, data_dir)  # SHD: binned as the run was
    else:
        dataset, test = "mnist", load_split("mnist", train=False, data_dir=data_dir)
    shape = models.input_shape
    from snnx.data.encoders import encoded_shape  # rows: one image row per input step

    encoding = models.encoding().encoding if hasattr(models, "encoding") else "rate"
    if int(np.prod(encoded_shape(encoding, test.image_shape))) != int(np.prod(shape)):
        raise SnnxError(f"the model takes input {shape} but {dataset} images are {test.image_shape}; "
                        "pass the dataset the run was trained on with --data-dir")
    return test


def weight_pairs(models: RunModels) -> tuple[list[str], list[np.ndarray], list[np.ndarray] | None]:
    """Trained float weights and deployed weights (integer / scale) per synapse layer."""
    model = models.model
    if model is None:  # a run from a foreign NIR graph: only the deployed weights exist
        layers = models.net.synapse_layers
        return [f"{i + 1}" for i in range(len(layers))], [ly.weight / ly.scale for ly in layers], None
    if not hasattr(model, "layers"):  # attention hybrid: every weight matrix, float only
        named = [(n, p.detach().numpy()) for n, p in model.named_parameters() if p.dim() >= 2]
        return [n for n, _ in named], [w for _, w in named], None
    names, weights = [], []
    for i, layer in enumerate(model.layers):
        w = layer.synapse.weight.detach()
        if layer.spec.skip == 1:  # the deployed layer is W + I (models.SpikingLayer.params)
            w = w + torch.eye(w.shape[0])
        names.append(f"{i + 1}: {layer.spec.kind}")
        weights.append(w.numpy())
    quantized = None
    if models.net is not None:
        quantized = [ly.weight / ly.scale for ly in models.net.synapse_layers]
    return names, weights, quantized


def energy_per_layer(energy: EnergyReport) -> tuple[list[str], dict[str, list[float]]] | None:
    """(layer names, {component: uJ per layer}) from energy.json's per-layer ``energy_pJ``."""
    if not energy.layers:
        return None
    parts = list(dict.fromkeys(k for layer in energy.layers for k in layer.energy_pJ))
    return ([layer.name for layer in energy.layers],
            {p: [1e-6 * layer.energy_pJ.get(p, 0.0) for layer in energy.layers] for p in parts})


def _own_point(d: ReportData) -> dict | None:
    """The run's deployed (accuracy, uJ) from energy.json, with the published points it lists."""
    from snnx.loihi.energy_profile import PUBLISHED_MNIST

    if d.energy is None:
        return None
    doc = d.energy.document
    acc = doc.get("accuracy")
    if not isinstance(acc, (int, float)):
        return None
    return {"fixed_accuracy": float(acc), "energy_per_inference_uJ": d.energy.energy_per_inference_uJ,
            "label": RunFolder(d.run).root.name, "published": doc.get("published_mnist") or PUBLISHED_MNIST}


def gather(run: Path, data_dir: Path | None, samples: int | None = None) -> ReportData:
    """Load everything a report shows and run the models on ``samples`` test images."""
    models = load_run_models(run)
    typed = read_stage_outputs(RunFolder(run))
    documents = {"quant": typed["quant"] and typed["quant"].to_dict(), "sim": typed["sim"] and typed["sim"].to_dict(),
                 "energy": typed["energy"] and typed["energy"].document,
                 "core_map": typed["core_map"] and typed["core_map"].document}
    d = ReportData(Path(run), models, documents=documents, sim=typed["sim"], energy=typed["energy"],
                   core_map=typed["core_map"])
    test = load_test_set(models, data_dir)
    run_test_set(d, test, min(len(test), samples or REPORT_SAMPLES))
    return d


def make_plots(run: Path, data_dir: Path | None = None, samples: int | None = None) -> ReportData:
    """Write every plot into RUN/plots/ and return them with the report's data."""
    d = gather(run, data_dir, samples)
    models, run = d.models, Path(run)
    out = RunFolder(run).plots
    fl, fx = d.float_trace, d.fixed_trace
    ref = fl or fx
    no_net = f"run `snnx export {run}` for the fixed-point half"
    fixed_note = "" if fx is not None else f" (float only: {no_net})"

    def add(key: str, title: str, caption: str, draw) -> None:
        d.figures.append(Figure(key, title, draw(out / f"{key}.png"), caption))

    add("input_raster", "Input encoding",
        f"Spikes of the {ref.inputs.shape[2]} inputs for test image 0 (label {d.labels[0]}), "
        f"{models.encoding().encoding} encoding, {ref.inputs.shape[1]} steps.",
        lambda p: figures.plot_input_raster(ref.inputs[0], p))
    add("rasters", "Hidden and output spikes",
        f"Every layer's spikes for test image 0: float (|) and fixed point (x) overlaid; the dotted line "
        f"ends the {ref.latency}-step pipeline latency, after which output spikes are counted{fixed_note}.",
        lambda p: figures.plot_layer_rasters(fl, fx, 0, p))
    if ref.layers[0].v is not None:
        add("membranes", "Membrane traces",
            "Membrane potential before reset of the two most active neurons per layer (output: top classes), "
            "float (solid) and fixed point (dashed, v_int / (64 scale)), with each model's threshold "
            f"(dotted){fixed_note}.",
            lambda p: figures.plot_membranes(fl, fx, 0, p))
    names, weights, quantized = weight_pairs(models)
    add("weights", "Weight histograms",
        "Trained float weights against the deployed integer weights divided by the layer's scale"
        + ("." if quantized is not None else f" (float only: {no_net})."),
        lambda p: figures.plot_weight_histograms(names, weights, quantized, p))
    metrics = RunFolder(run).metrics
    if metrics.exists():
        from snnx.viz.training import plot_training

        with metrics.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if rows:
            add("training", "Training curves", "Loss and train/test accuracy per epoch (metrics.csv).",
                lambda p: (plot_training(rows, p), p)[1])
    else:
        d.missing["training"] = f"metrics.csv not found: train with `snnx train -o {run}`"
    fs, xs = d.float_summary, d.fixed_summary
    n = len(d.labels)
    add("layer_spikes", "Spikes per layer",
        f"Mean spikes per test image in each layer over the first {n} test images{fixed_note}.",
        lambda p: figures.plot_layer_spikes((fs or xs).layer_names, None if fs is None else fs.spikes_per_sample,
                                            None if xs is None else xs.spikes_per_sample, p, n))
    per_layer = energy_per_layer(d.energy) if d.energy is not None else None
    if per_layer is not None:
        add("energy", "Energy per layer", "Energy per inference per layer from deploy/loihi2/energy.json.",
            lambda p: figures.plot_energy(*per_layer, p))
    else:
        d.missing["energy"] = (f"no per-layer energy: run `snnx deploy {run}`" if d.energy is None
                               else "deploy/loihi2/energy.json has no per-layer list")
    own = _own_point(d)
    if own is not None:
        add("accuracy_energy", "Accuracy against energy, with published chips",
            f"This run deployed ({100 * own['fixed_accuracy']:.2f} % at {own['energy_per_inference_uJ']:.3g} µJ per "
            "inference, deploy/loihi2/energy.json) beside the published MNIST points tabulated by Renner et al., "
            "Nat. Commun. 2024, Table 1 (stars); `snnx frontier` draws a search's trials on the same axes.",
            lambda p: figures.plot_accuracy_energy([own], own["published"], p, [0],
                                                   "This run and published MNIST chips"))
    else:
        d.missing["accuracy_energy"] = f"no deployed accuracy and energy: run `snnx sim {run}` and `snnx deploy {run}`"
    preds = {name: s.predictions for name, s in (("float", fs), ("fixed point", xs)) if s is not None}
    add("confusion", "Confusion matrix",
        f"True against predicted class on the first {n} test images{fixed_note}.",
        lambda p: figures.plot_confusion(d.labels, preds, p))
    return d
