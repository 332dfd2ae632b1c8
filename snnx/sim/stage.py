"""``snnx sim RUN``: the fixed-point network (fast simulator, Lava, or both) against the float model.

Both models see the same encoded inputs: the first N test images, encoded in fixed batches
with seeds derived from the run's ``train.seed`` and the batch index, or a user's spike file
(``--input``). The fixed-point result is what Loihi computes (docs/design.md §6); the report goes to
RUN/sim.json (:class:`~snnx.sim.result.SimResult`) and a table on stdout. Nothing is written
until everything has been computed, and then atomically.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path

import numpy as np
import torch

from snnx import provenance
from snnx.data.encoders import is_binary
from snnx.errors import SnnxError
from snnx.io import atomic_path, publish_files, staging_dir
from snnx.loihi.naming import layer_name
from snnx.loihi.net import LoihiNet
from snnx.run import InputEncoding, RunFolder
from snnx.sim.activity import ActivityAccumulator
from snnx.sim.engine import open_engine
from snnx.sim.fast import FastSimulator, predictions, readout_counts
from snnx.sim.reference import FloatReference, encoded_batches, fixed_inputs
from snnx.sim.result import BACKENDS, SimResult
from snnx.train.checkpoint import exists as checkpoint_exists
from snnx.validate import open_npy

INPUT_BATCH = 500


@dataclass
class Batch:
    index: slice
    fixed: np.ndarray  # [B, T, *net input shape], bool or uint8
    float_input: torch.Tensor | None  # [T, B, ...] for the float model
    labels: np.ndarray | None


@dataclass
class Inputs:
    """Where the samples come from: the dataset (encoded here) or a user's spike file."""

    count: int
    timesteps: int
    encoding: str
    dataset: str | None
    source: str | None  # the --input file
    graded: bool  # integer-valued (not 0/1) input spikes
    batches: Iterator[Batch]


def sim_command(
    run: Path,
    backend: str | None,
    samples: int | None,
    input_path: Path | None,
    save_spikes: Path | None,
    data_dir: Path | None,
    labels_path: Path | None = None,
) -> SimResult:
    """Simulate, compare, print a table, write RUN/sim.json (and the spikes, if asked).

    ``labels_path`` (with ``input_path``): one class per sample, so a user's own spikes get an accuracy.
    """
    t_start = time.perf_counter()
    folder = RunFolder(run)
    run, net_path = folder.root, folder.net
    provenance.check_fresh(run, "model.net")  # refuse a model.net older than the checkpoint
    net = folder.load_net()
    config = folder.load_config()
    backend = backend or (config.sim.backend if config else "fast")
    if backend not in BACKENDS:
        raise SnnxError(f"--backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if samples is None and input_path is None and config is not None:
        samples = config.sim.samples
    if save_spikes is not None and Path(save_spikes).suffix != ".npz":
        raise SnnxError(f"--save-spikes {save_spikes}: the file name must end in .npz")
    reference = FloatReference(folder.checkpoint) if checkpoint_exists(folder.checkpoint) else None
    if labels_path is not None and input_path is None:
        raise SnnxError("--labels goes with --input (the dataset brings its own labels)")
    inputs = _open_inputs(net, config, reference, samples, input_path, data_dir, labels_path)

    fixed = _FixedRuns(
        net, net_path, inputs.timesteps, inputs.graded, backend, keep_spikes=save_spikes is not None
    )
    float_counts, float_spikes, labels = [], np.zeros(net.num_synapse_layers), []
    for batch in inputs.batches:
        if reference is not None:
            fb = reference.run(batch.float_input)
            float_counts.append(fb.counts)
            if len(fb.spikes) == len(float_spikes):
                float_spikes += np.asarray(fb.spikes)
        if batch.labels is not None:
            labels.append(batch.labels)
        fixed.add(batch)
    outcome = fixed.finish()

    n = inputs.count
    fixed_pred = predictions(outcome.counts)
    float_pred = predictions(np.concatenate(float_counts)) if float_counts else None
    y = np.concatenate(labels) if labels else None
    activity = [_as_dict(a) for a in outcome.activity]
    names = [layer_name(layer, i) for i, layer in enumerate(net.synapse_layers)]
    result = SimResult(
        backend=backend,
        samples=n,
        float_accuracy=_accuracy(float_pred, y),
        fixed_accuracy=_accuracy(fixed_pred, y),
        agreement=float(np.mean(float_pred == fixed_pred)) if float_pred is not None else None,
        spikes_per_sample=[
            {
                "name": name,
                "float": float(float_spikes[i] / n) if reference is not None else None,
                "fixed": float(activity[i].get("spikes", 0.0)) if i < len(activity) else None,
            }
            for i, name in enumerate(names)
        ],
        layers=activity,
        timesteps=inputs.timesteps,
        steps=inputs.timesteps + net.num_synapse_layers,
        encoding=inputs.encoding,
        dataset=inputs.dataset,
        seconds=0.0,
        backend_seconds=float(sum(outcome.seconds.values())),
        backend_seconds_by={k: float(v) for k, v in outcome.seconds.items()},
        lava_fast_identical=outcome.identical,
        first_difference=outcome.first_difference,
        input=inputs.source,
        fixed_accuracy_from_rest=_accuracy(predictions(outcome.alone_counts), y)
        if outcome.alone_counts is not None else None,
        leaked_samples=outcome.leaked,
    )
    if save_spikes is not None:
        _write_spikes(Path(save_spikes), outcome.spikes)
    result = replace(result, seconds=float(time.perf_counter() - t_start))
    inputs = {"model.net": provenance.digest(net_path), **provenance.checkpoint_inputs(run)}
    with staging_dir(run, "sim") as staging:  # sim.json and its provenance in one step
        result.save(staging / folder.sim.name)
        provenance.record(staging, run, [folder.sim.name], inputs, "sim")
        publish_files(staging, run)
    print(format_table(result, run))
    return result


# ----------------------------------------------------------------------------- inputs


def _open_inputs(
    net: LoihiNet,
    config,
    reference: FloatReference | None,
    samples: int | None,
    input_path: Path | None,
    data_dir: Path | None,
    labels_path: Path | None = None,
) -> Inputs:
    if samples is not None and samples < 1:
        raise SnnxError(f"--samples {samples}: need at least 1 sample")
    if input_path is not None:
        return _file_inputs(net, Path(input_path), samples, labels_path)
    if config is None and reference is not None:
        config = reference.config
    # model.net's input spec is the one truth for the encoding (snnx export --timesteps changes it)
    enc = InputEncoding.of_input_spec(net.input)
    encoding, timesteps = enc.encoding, enc.timesteps
    if encoding == "spikes" or not timesteps:
        raise SnnxError(
            "model.net does not say how images become spikes (it was written by another tool); pass "
            "--input spikes.npy [samples, T, *input shape], or re-export with --timesteps N"
        )
    from snnx.data.datasets import load_split, load_test

    if config is not None:  # the whole test set, whatever subset training used
        images = load_test(config.data, data_dir)  # SHD: binned as the run was
        dataset, seed = config.data.dataset, config.train.seed
    else:
        images = load_split("mnist", False, data_dir)
        dataset, seed = "mnist", 0
    from snnx.data.encoders import encoded_shape  # rows: one image row per input step

    if int(np.prod(encoded_shape(net.input.encoding, images.image_shape))) != int(np.prod(net.input.shape)):
        raise SnnxError(
            f"{dataset} images have shape {list(images.image_shape)} but model.net expects {list(net.input.shape)}"
        )
    n = len(images) if samples is None else samples
    if n > len(images):
        raise SnnxError(f"--samples {samples} is more than the {len(images)} {dataset} test images")

    def batches() -> Iterator[Batch]:
        for b in encoded_batches(images, n, enc, seed):
            yield Batch(b.index, fixed_inputs(net, b.spikes), b.spikes, b.labels)

    return Inputs(n, timesteps, encoding, dataset, None, not is_binary(encoding), batches())


def _read_labels(path: Path, n: int, total: int, classes: int, spikes: Path) -> np.ndarray:
    """One integer class per sample of the --input file (validated: it is a user's file); the first ``n``."""
    try:
        y = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SnnxError(f"--labels {path} not found") from None
    except (OSError, ValueError) as exc:
        raise SnnxError(f"--labels {path} is not a .npy array ({str(exc).splitlines()[0][:80]})") from None
    if y.ndim != 1 or y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        raise SnnxError(f"--labels {path} must be a 1-D array of integer classes, got shape {list(y.shape)} "
                        f"dtype {y.dtype}")
    if len(y) != total:
        raise SnnxError(f"--labels {path} has {len(y)} labels but --input {spikes} has {total} samples; "
                        "give one label per sample, in the same order")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        bad = int(y.min() if y.min() < 0 else y.max())
        raise SnnxError(f"--labels {path} holds class {bad}, but model.net has {classes} output neurons "
                        f"(classes 0..{classes - 1})")
    return y[:n].astype(np.int64)


def _file_inputs(net: LoihiNet, path: Path, samples: int | None, labels_path: Path | None = None) -> Inputs:
    x = open_npy(path, "--input")  # header checked against the limits, nothing loaded yet
    want = tuple(net.input.shape)
    if x.ndim != 2 + len(want) or tuple(x.shape[2:]) != want or x.shape[1] < 1:
        raise SnnxError(
            f"--input {path} has shape {list(x.shape)}; expected [samples, T, {', '.join(map(str, want))}]"
        )
    n = x.shape[0] if samples is None else samples
    if n > x.shape[0]:
        raise SnnxError(f"--samples {samples} is more than the {x.shape[0]} samples in {path}")
    graded = False
    for lo in range(0, n, INPUT_BATCH):  # validate before simulating anything
        chunk = np.asarray(x[lo : lo + INPUT_BATCH])
        if chunk.dtype.kind not in "biuf" or (
            chunk.dtype.kind == "f" and not np.all(chunk == np.round(chunk))
        ):
            raise SnnxError(
                f"--input {path} must hold integer spikes (0/1 or graded 0..255), got dtype {chunk.dtype}"
            )
        if chunk.size and (chunk.min() < 0 or chunk.max() > 255):
            raise SnnxError(f"--input {path} holds values outside [0, 255]")
        graded = graded or bool(chunk.size and chunk.max() > 1)
    classes = int(np.prod(net.output_shape))
    labels = (_read_labels(Path(labels_path), n, int(x.shape[0]), classes, path)
              if labels_path is not None else None)

    def batches() -> Iterator[Batch]:
        for lo in range(0, n, INPUT_BATCH):
            chunk = np.asarray(x[lo : min(n, lo + INPUT_BATCH)])
            fixed = chunk.astype(np.uint8) if graded else chunk > 0
            float_input = torch.from_numpy(fixed.astype(np.float32)).transpose(0, 1)
            y = labels[lo : lo + len(chunk)] if labels is not None else None
            yield Batch(slice(lo, lo + len(chunk)), fixed, float_input, y)

    encoding = "graded spikes" if graded else "spikes"
    return Inputs(n, int(x.shape[1]), encoding, None, str(path), graded, batches())


# ----------------------------------------------------------------------------- fixed point


@dataclass
class FixedOutcome:
    counts: np.ndarray
    activity: list
    seconds: dict[str, float]
    spikes: list[np.ndarray] | None
    identical: bool | None
    first_difference: dict | None
    alone_counts: np.ndarray | None = None  # dense_rec nets: readout counts of each sample from rest
    leaked: int | None = None  # dense_rec nets: samples whose streamed spikes differ from those from rest


class _FixedRuns:
    """The fixed-point engine(s) of ``--backend`` and the accounting of their spikes.

    Engines only run (:mod:`snnx.sim.engine`); here a streamed engine (fast) gets each batch as
    it is encoded, a whole one (Lava) all samples at the end. With "both", Lava is the reference
    (its spikes are counted) and the fast run is checked against it. A network with dense_rec
    layers is a stream whose recurrent state crosses netx's reset (docs/design.md §12): its
    samples also run one by one from rest (the fast simulator, ``independent``), on the same
    inputs as the counted engine, so the report shows the deployed stream and any leak into it.
    """

    def __init__(
        self,
        net: LoihiNet,
        net_path: Path,
        timesteps: int,
        graded: bool,
        backend: str,
        keep_spikes: bool,
    ) -> None:
        names = ("fast", "lava") if backend == "both" else (backend,)
        self.net, self.keep = net, keep_spikes
        self.engines = [open_engine(name, net, net_path, timesteps, graded) for name in names]
        self.reference = self.engines[-1]  # whose spikes are counted
        self.compare = len(self.engines) > 1
        self.seconds = {engine.name: 0.0 for engine in self.engines}
        self.spikes: dict[str, list[list[np.ndarray]]] = {e.name: [] for e in self.engines}
        self.pending: list[np.ndarray] = []
        self.activity = ActivityAccumulator(net)
        self.counts: list[np.ndarray] = []
        self.alone = (FastSimulator(net, timesteps, graded=graded, independent=True)
                      if any(layer.is_recurrent for layer in net.synapse_layers) else None)
        self.alone_counts: list[np.ndarray] = []
        self.leaked = 0

    def add(self, batch: Batch) -> None:
        if any(engine.whole for engine in self.engines):
            self.pending.append(batch.fixed)
        for engine in self.engines:
            if not engine.whole:
                self._run(engine, batch.fixed)

    def _run(self, engine, x: np.ndarray) -> None:
        # The counted fast engine also gives its membranes (NeuroBench's MembraneUpdates), in pieces
        # of bounded memory: one pass, in input order, so a streamed (dense_rec) network's state
        # runs on exactly once. Other engines give no membranes and run the batch whole.
        membranes = engine is self.reference and engine.name == "fast"
        step = self._membrane_rows(x) if membranes else max(1, len(x))
        t0 = time.perf_counter()
        runs = [engine.run(x[lo : lo + step], record_state=True) if membranes else engine.run(x[lo : lo + step])
                for lo in range(0, len(x), step)]
        self.seconds[engine.name] += time.perf_counter() - t0
        spikes = runs[0].spikes if len(runs) == 1 else [np.concatenate(p) for p in zip(*(r.spikes for r in runs), strict=True)]
        if engine is self.reference:
            chunk = min(step, INPUT_BATCH)  # == step when membranes: one run per chunk
            for lo in range(0, len(x), chunk):
                v = runs[lo // step].v if membranes else None
                self.activity.add(x[lo : lo + chunk], [sp[lo : lo + chunk] for sp in spikes], v)
            self.counts.append(readout_counts(spikes[-1], runs[0].latency))
            if self.alone is not None:
                self._from_rest(x, spikes)
        if self.keep or self.compare:
            self.spikes[engine.name].append([np.ascontiguousarray(sp) for sp in spikes])

    def _from_rest(self, x: np.ndarray, streamed: list[np.ndarray]) -> None:
        """Each sample of ``x`` alone (untimed, not counted): its readout and whether the stream differs."""
        for lo in range(0, len(x), INPUT_BATCH):
            run = self.alone.run(x[lo : lo + INPUT_BATCH])
            self.alone_counts.append(readout_counts(run.spikes[-1], run.latency))
            differ = np.zeros(len(run.spikes[0]), dtype=bool)
            for a, b in zip(run.spikes, streamed, strict=True):
                d = a != b[lo : lo + INPUT_BATCH]
                differ |= d.reshape(len(d), -1).any(axis=1)
            self.leaked += int(differ.sum())

    def _membrane_rows(self, x: np.ndarray) -> int:
        per_sample = 16 * (x.shape[1] + self.net.num_synapse_layers) * sum(
            int(np.prod(layer.shape)) for layer in self.net.synapse_layers)
        return max(1, min(INPUT_BATCH, (64 << 20) // max(per_sample, 1)))

    def finish(self) -> FixedOutcome:
        if self.pending:
            x = np.concatenate(self.pending)
            for engine in self.engines:
                if engine.whole:
                    self._run(engine, x)
        spikes = {
            name: [np.concatenate(parts) for parts in zip(*runs, strict=True)]
            for name, runs in self.spikes.items()
            if runs
        }
        identical = first = None
        if self.compare:
            first = first_difference(spikes["fast"], spikes["lava"], self.net)
            identical = first is None
        return FixedOutcome(
            np.concatenate(self.counts),
            self.activity.result(),
            self.seconds,
            spikes.get(self.reference.name) if self.keep else None,
            identical,
            first,
            np.concatenate(self.alone_counts) if self.alone_counts else None,
            self.leaked if self.alone is not None else None,
        )


def first_difference(fast: list[np.ndarray], lava: list[np.ndarray], net: LoihiNet) -> dict | None:
    """The earliest layer, then earliest step, where the two backends' spikes differ."""
    for i, (a, b) in enumerate(zip(fast, lava, strict=True)):
        diff = a != b
        if diff.any():
            per_step = diff.reshape(diff.shape[0], diff.shape[1], -1).any(axis=2)
            step = int(np.argmax(per_step.any(axis=0)))
            sample = int(np.argmax(per_step[:, step]))
            return {
                "layer": i + 1,
                "name": layer_name(net.synapse_layers[i], i),
                "step": step,
                "sample": sample,
            }
    return None


# ----------------------------------------------------------------------------- output


def _write_spikes(path: Path, spikes: list[np.ndarray] | None) -> None:
    if spikes is None:
        return
    arrays = {f"layer_{i + 1}": np.asarray(s, dtype=bool) for i, s in enumerate(spikes)}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def _as_dict(activity) -> dict:
    if is_dataclass(activity):
        return asdict(activity)
    if hasattr(activity, "to_dict"):
        return activity.to_dict()
    return dict(activity)


def _accuracy(pred: np.ndarray | None, labels: np.ndarray | None) -> float | None:
    if pred is None or labels is None:
        return None
    return float(np.mean(pred == labels))


def format_table(r: SimResult, run: Path) -> str:
    """The human summary printed by ``snnx sim``."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.2f} %"

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:,.1f}"

    src = r.input or f"{r.dataset} test set"
    lines = [
        f"snnx sim {run}: {r.samples} samples from {src}, {r.encoding}, T = {r.timesteps} "
        f"({r.steps} steps), backend {r.backend}",
        "",
        f"{'':28s}{'float':>12s}{'fixed point':>14s}",
        f"{'accuracy':28s}{pct(r.float_accuracy):>12s}{pct(r.fixed_accuracy):>14s}",
        f"{'agreement (same prediction)':28s}{pct(r.agreement):>26s}",
    ]
    if r.leaked_samples is not None:
        lines += [
            f"{'  each sample from rest':28s}{'':>12s}{pct(r.fixed_accuracy_from_rest):>14s}",
            f"recurrent state crossing netx's reset between samples changed {r.leaked_samples} of {r.samples} "
            "samples (the fixed point above is the deployed stream; docs/design.md §12)",
        ]
        if r.leaked_samples:
            lines.append(f"  to stop the leak: snnx export {run} --stream-clock 32 (clock neurons silence the "
                         "layer's last step)")
    for entry in r.spikes_per_sample:
        label = f"spikes/sample {entry['name']}"
        lines.append(f"{label:28s}{num(entry['float']):>12s}{num(entry['fixed']):>14s}")
    if r.backend == "both":
        if r.lava_fast_identical:
            lines.append("Lava and the fast simulator: identical spikes on every layer and step")
        else:
            d = r.first_difference or {}
            lines.append(
                f"Lava and the fast simulator DIFFER: first at layer {d.get('name')} step {d.get('step')} "
                f"(sample {d.get('sample')})"
            )
    by = ", ".join(
        f"{k} {v:.2f} s ({r.samples / v:,.0f} samples/s)" if v > 0 else f"{k} {v:.2f} s"
        for k, v in r.backend_seconds_by.items()
    )
    lines += [
        "",
        f"time: {r.seconds:.1f} s in all; fixed-point simulation: {by}",
        f"wrote {run / 'sim.json'}",
    ]
    return "\n".join(lines)
