"""The run folder: the one place that knows where every artifact lives and how to read it back.

Stages talk only through files (train -> export -> sim -> deploy -> report), so the paths and
the readers are a contract. :class:`RunFolder` names every artifact and loads each one as a
typed value, refusing a missing, foreign or stale file with one line that names the file and
the command that rebuilds it. Every JSON artifact carries a ``schema`` key
(``"snnx.<kind>/<version>"``, see :data:`SCHEMAS`): a reader that meets another kind or version
says so instead of guessing keys.

:meth:`RunFolder.input_encoding` is the one truth for how samples become input spikes: after
``snnx export`` it is model.net's input spec (so ``snnx export RUN --timesteps 12`` makes
every later stage use 12 steps); before export, the training config's.

Importable without torch: the torch-side readers (checkpoint, float model) import lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnx.artifacts import (
    CORE_MAP_JSON,
    ENERGY_JSON,
    MANIFEST_JSON,
    SCHEMAS,
    check_schema,
    read_artifact,
    run_of,
)
from snnx.errors import SnnxError


@dataclass(frozen=True)
class InputEncoding:
    """How images become input spikes: the arguments of :func:`snnx.data.encoders.encode`.

    ``source`` says where it was read ("model.net" after export, else "config.yaml" or
    "checkpoint.json"), so a report can say which truth it used.
    """

    encoding: str
    timesteps: int
    gain: float = 1.0
    latency_tau: float = 5.0
    source: str = "model.net"

    @classmethod
    def of_input_spec(cls, spec: Any) -> InputEncoding:
        """From model.net's :class:`~snnx.loihi.net.InputSpec`."""
        p = spec.params or {}
        return cls(
            str(spec.encoding),
            int(spec.timesteps or 0),
            float(p.get("gain", 1.0)),
            float(p.get("latency_tau", 5.0)),
            "model.net",
        )

    @classmethod
    def of_data_config(cls, data: Any, source: str = "config.yaml") -> InputEncoding:
        """From a training config's ``data`` section (before a run is exported)."""
        return cls(
            str(data.encoding),
            int(data.timesteps),
            float(data.gain),
            float(data.latency_tau),
            source,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "timesteps": self.timesteps,
            "gain": self.gain,
            "latency_tau": self.latency_tau,
        }


def _number(data: dict[str, Any], key: str, path: Path, kind: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SnnxError(
            f"{path}: {key} is {value!r}, not a number; rebuild it with "
            f"`{SCHEMAS[kind][1].format(run=run_of(path))}`"
        )
    return float(value)


@dataclass(frozen=True)
class EnergyLayer:
    """One synapse layer of energy.json: its name and energy per inference by component (pJ)."""

    name: str
    energy_pJ: dict[str, float]


@dataclass(frozen=True)
class EnergyReport:
    """energy.json (``snnx deploy``): the figures a report shows, and the whole document."""

    energy_per_inference_uJ: float
    synops_per_inference: float
    spikes_per_inference: float
    latency_us: float
    cores: int
    timesteps: int
    samples: int
    layers: tuple[EnergyLayer, ...]
    document: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> EnergyReport:
        data = check_schema("energy", data, path)
        num = lambda key: _number(data, key, path, "energy")  # noqa: E731
        rows = data.get("layers")
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and isinstance(r.get("energy_pJ"), dict) for r in rows
        ):
            raise SnnxError(
                f"{path}: layers must be a list of {{name, energy_pJ: {{...}}}}; rebuild it with "
                f"`snnx deploy {run_of(path)}`"
            )
        layers = tuple(
            EnergyLayer(
                str(r.get("name", i + 1)),
                {k: _number(r["energy_pJ"], k, path, "energy") for k in r["energy_pJ"]},
            )
            for i, r in enumerate(rows)
        )
        return cls(
            num("energy_per_inference_uJ"),
            num("synops_per_inference"),
            num("spikes_per_inference"),
            num("latency_us"),
            int(num("cores")),
            int(num("timesteps")),
            int(num("samples")),
            layers,
            data,
        )


@dataclass(frozen=True)
class CoreMap:
    """core_map.json (``snnx deploy``): per-layer resources and the total number of cores."""

    total_cores: int
    chips: int
    layers: tuple[dict[str, Any], ...]
    document: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> CoreMap:
        data = check_schema("core_map", data, path)
        rows = data.get("layers")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SnnxError(
                f"{path}: layers must be a list of objects; rebuild it with `snnx deploy {run_of(path)}`"
            )
        return cls(
            int(_number(data, "total_cores", path, "core_map")),
            int(_number(data, "chips", path, "core_map")),
            tuple(rows),
            data,
        )


@dataclass(frozen=True)
class RunFolder:
    """A run folder's artifact paths and typed loaders (the only code that spells file names)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # ------------------------------------------------------------------ paths
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.json"  # + checkpoint.safetensors (snnx.train.checkpoint)

    @property
    def last(self) -> Path:
        return self.root / "last.json"

    @property
    def has_checkpoint(self) -> bool:
        """A checkpoint (safetensors + JSON, or a legacy .pt) is stored in the run."""
        from snnx.train.checkpoint import exists

        return exists(self.checkpoint)

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    def lock(self, command: str):
        """Context manager: hold the run's write lock (snnx.io.run_lock; a second writer is refused)."""
        from snnx.io import run_lock

        return run_lock(self.root, command)

    def check_fresh(self, name: str) -> None:
        """Refuse artifact ``name`` if modified since written or made from inputs that changed since."""
        from snnx.provenance import check_fresh

        check_fresh(self.root, name)

    def check_consistent(self) -> None:
        """model.net, sim.json and every bundle current and unmodified (readers of the whole run)."""
        from snnx.provenance import check_run

        check_run(self.root)

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def nir(self) -> Path:
        return self.root / "model.nir"

    @property
    def net(self) -> Path:
        return self.root / "model.net"

    @property
    def quant(self) -> Path:
        return self.root / "quant.json"

    @property
    def sim(self) -> Path:
        return self.root / "sim.json"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def compare(self) -> Path:
        return self.root / "compare.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def bundle(self, target: str = "loihi2") -> Path:
        return self.root / "deploy" / target

    def energy(self, target: str = "loihi2") -> Path:
        return self.bundle(target) / ENERGY_JSON

    def core_map(self, target: str = "loihi2") -> Path:
        return self.bundle(target) / CORE_MAP_JSON

    def manifest(self, target: str = "loihi2") -> Path:
        return self.bundle(target) / MANIFEST_JSON

    # ------------------------------------------------------------------ loaders
    def require(self, path: Path, command: str) -> Path:
        """``path`` if it exists, else one line saying which command makes it."""
        if not Path(path).is_file():
            raise SnnxError(f"{path} not found; run `{command}` first")
        return Path(path)

    def load_config(self) -> Any:
        """config.yaml as a :class:`~snnx.config.RunConfig`, or None (a run made from a NIR file)."""
        from snnx.config import RunConfig

        return RunConfig.load(self.config) if self.config.is_file() else None

    def load_net(self) -> Any:
        """model.net as a :class:`~snnx.loihi.net.LoihiNet`."""
        from snnx.loihi.netx import read_netx

        return read_netx(self.require(self.net, f"snnx export {self.root}"))

    def load_sim(self) -> Any:
        """sim.json as a :class:`~snnx.sim.result.SimResult`."""
        from snnx.sim.result import SimResult

        return SimResult.load(self.require(self.sim, f"snnx sim {self.root}"))

    def load_quant(self) -> Any:
        """quant.json as a :class:`~snnx.export.quantize.QuantReport`."""
        from snnx.export.quantize import QuantReport

        return QuantReport.from_dict(read_artifact("quant", self.quant), self.quant)

    def load_energy(self, target: str = "loihi2") -> EnergyReport:
        return EnergyReport.from_dict(
            read_artifact("energy", self.energy(target)), self.energy(target)
        )

    def load_core_map(self, target: str = "loihi2") -> CoreMap:
        return CoreMap.from_dict(
            read_artifact("core_map", self.core_map(target)), self.core_map(target)
        )

    def load_summary(self) -> dict[str, Any]:
        return read_artifact("summary", self.summary)

    def input_encoding(self, net: Any = None, config: Any = None) -> InputEncoding:
        """The one truth for encoding and time steps: model.net's input spec once exported.

        ``net`` / ``config`` may be passed when the caller has loaded them already; without
        model.net the training config (config.yaml, else the checkpoint's copy) is used.
        """
        if net is None and self.net.is_file():
            net = self.load_net()
        if net is not None:
            return InputEncoding.of_input_spec(net.input)
        if config is None:
            config = self.load_config()
        if config is not None:
            return InputEncoding.of_data_config(config.data)
        if self.has_checkpoint:
            from snnx.train.checkpoint import Checkpoint

            return InputEncoding.of_data_config(
                Checkpoint.load(self.checkpoint).config.data, "checkpoint.json"
            )
        raise SnnxError(
            f"{self.root} has neither model.net nor config.yaml; run `snnx train -o {self.root}` first"
        )
