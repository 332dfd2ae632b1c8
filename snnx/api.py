"""The public Python API: one function per pipeline stage, keyword options, typed frozen results.

``snnx.train``, ``snnx.export``, ``snnx.simulate`` and ``snnx.deploy`` (and ``snnx.report``,
``snnx.predict``, ``snnx.compare``, ``snnx.run_pipeline``) are these functions; the ``snnx``
command line parses its arguments and calls exactly them, so a script and a shell session
produce the same run folder. Stages talk only through the run folder (:class:`snnx.run.RunFolder`):
each function takes the folder, reads what earlier stages wrote and writes its own artifacts.
Every function raises :class:`snnx.errors.SnnxError` (one line that says what to do) on bad input.

``snnx.run_pipeline`` (snnx/pipeline.py) and ``snnx.frontier`` (snnx/frontier/search.py) are public
too but live above this module, because they call its stage functions (imports stay acyclic).

Heavy imports (torch, lava) happen inside the functions, so ``import snnx`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snnx.run import InputEncoding, RunFolder

if TYPE_CHECKING:
    from snnx.deploy.stage import DeployReport
    from snnx.export.quantize import QuantReport
    from snnx.loihi.net import LoihiNet
    from snnx.sim.result import SimResult

PathLike = str | Path


@dataclass(frozen=True)
class TrainReport:
    """What :func:`train` produced: the run folder and the best test accuracy (a fraction)."""

    run: Path
    best_test_accuracy: float
    epochs: int
    seconds: float


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export` produced: the fixed-point network (as read back from model.net) and
    its input spec, the one truth later stages encode with."""

    run: Path
    net: LoihiNet
    input: InputEncoding
    quant: QuantReport  # quant.json: per-layer scales, weight exponents, errors

    @property
    def timesteps(self) -> int:
        return self.input.timesteps


def train(
    out: PathLike,
    *,
    config: PathLike | None = None,
    overrides: Sequence[str] = (),
    data_dir: PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainReport:
    """Train into the run folder ``out`` (config.yaml, checkpoint.{json,safetensors}, metrics.csv, plots/).

    ``config`` is a YAML file (every key has a default); ``overrides`` are ``KEY=VALUE`` strings
    parsed as YAML (``"train.epochs=3"``); ``resume`` continues from ``out/last.json``; a folder
    that already holds a run needs ``resume`` or ``overwrite`` (which removes its artifacts).
    """
    from snnx.train.stage import train_command

    res = train_command(_path(config), Path(out), list(overrides), _path(data_dir), resume, overwrite)
    return TrainReport(
        Path(out), float(res.best_test_acc), int(res.epochs_done), float(res.seconds)
    )


def export(
    run: PathLike | None = None,
    *,
    from_nir: PathLike | None = None,
    out: PathLike | None = None,
    target: str = "loihi",
    scale: str | None = None,
    percentile: float | None = None,
    timesteps: int | None = None,
    framework: str = "auto",
    stream_clock: int | None = None,
) -> ExportReport:
    """Export ``run``'s checkpoint (or the NIR graph ``from_nir``) to Loihi fixed point.

    Writes model.nir, model.net and quant.json into ``out`` (default: ``run``). ``timesteps``
    sets the input steps per sample in model.net, which every later stage then uses; a NIR
    graph from another tool (no snnx metadata) needs it to be simulated on a dataset.
    ``framework`` names the exporter that wrote ``from_nir`` (its units and conventions, see
    docs/interop.md); "auto" recognises it. ``stream_clock`` (default: config ``export.stream_clock``)
    adds that many clock neurons to each hidden dense_rec layer, so that a stream of samples leaks
    no recurrent state through netx's reset (snnx.loihi.stream_clock, docs/design.md §12).
    """
    from snnx.export.stage import export_command

    export_command(_path(run), target, _path(from_nir), _path(out), scale, percentile, timesteps, framework,
                   stream_clock)
    folder = RunFolder(Path(out if out is not None else run))
    net = folder.load_net()
    return ExportReport(folder.root, net, folder.input_encoding(net=net), folder.load_quant())


def simulate(
    run: PathLike,
    *,
    backend: str | None = None,
    samples: int | None = None,
    input: PathLike | None = None,
    save_spikes: PathLike | None = None,
    data_dir: PathLike | None = None,
    labels: PathLike | None = None,
) -> SimResult:
    """Bit-accurate fixed-point simulation of ``run``/model.net against the float model.

    ``backend`` is "fast", "lava" or "both" (default: config.yaml's, else "fast"); ``input`` is a
    spikes.npy [samples, T, *input shape] to use instead of the test set, ``labels`` a labels.npy
    [samples] for it (then the result has an accuracy). Writes sim.json.
    """
    from snnx.sim.stage import sim_command

    return sim_command(
        Path(run), backend, samples, _path(input), _path(save_spikes), _path(data_dir), _path(labels)
    )


def deploy(
    run: PathLike,
    *,
    target: str = "loihi2",
    run_hw: bool = False,
    profile: str | None = None,
    data_dir: PathLike | None = None,
) -> DeployReport:
    """Build ``run``/deploy/<target>/ (bundle, core map, energy report) from model.net and sim.json.

    ``target`` is "loihi2" or "nir"; ``run_hw`` runs the bundle on Loihi 2 (needs lava-loihi);
    ``profile`` is an energy profile name or JSON file.
    """
    from snnx.deploy.stage import deploy_command

    return deploy_command(Path(run), target, run_hw, profile, _path(data_dir))


def report(run: PathLike, *, data_dir: PathLike | None = None) -> Path:
    """Write ``run``/report.html (self-contained) and ``run``/plots/; returns the report's path."""
    from snnx.viz.report import report_command

    return report_command(Path(run), _path(data_dir))


def predict(
    run: PathLike,
    image: PathLike,
    *,
    as_json: bool = False,
    plot: PathLike | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Classify one image file with the float model and the fixed-point network; prints a table."""
    from snnx.sim.predict import predict_command

    return predict_command(Path(run), Path(image), as_json, _path(plot), seed)


def compare(run: PathLike, *, data_dir: PathLike | None = None) -> dict[str, Any]:
    """Train the same architecture as an ANN and compare accuracy and energy with the SNN."""
    from snnx.deploy.compare import compare_command

    return compare_command(Path(run), _path(data_dir))


def _path(p: PathLike | None) -> Path | None:
    return None if p is None else Path(p)
