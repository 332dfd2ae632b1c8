"""The search space of ``snnx frontier``: config keys (as ``--set`` names them) and their ranges.

A space file is YAML::

    fixed:                      # applied to every trial (any config key)
      train.epochs: 2
      data.train_subset: 5000
    space:                      # searched: a list = choices; {int: [lo, hi]} / {float: [lo, hi]}
      data.encoding: [rate, latency]
      data.timesteps: {int: [8, 25]}
      model.hidden: [[64], [100], [200]]
      train.lr: {float: [1.0e-3, 5.0e-3], log: true}
    seed: 0                     # the sampler's seed (reproducible proposals in one process)
    population: 6               # NSGA-II population size (default: trials // 2, 2..50)

Every key is checked against :mod:`snnx.config` by building the config with the fixed settings
and each choice (and both ends of each range), so a typo or a value the config refuses is one
line naming the space file and the key, before any trial starts. Choices are stored in the
Optuna study as JSON strings (Optuna's categorical values must be scalars; ``[64]`` is a list).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from snnx import limits
from snnx.config import RunConfig, apply_overrides
from snnx.errors import SnnxError

DEFAULT_SPACE = Path(__file__).parent / "default.yaml"
KEYS = ("fixed", "space", "seed", "population")
# a frontier prices the deployed network: these stages are not the trial's to choose
# (sim.samples stays the user's: null, the default, is the whole test set; the smoke space uses 200)
FORCED = {"sim.backend": "fast", "deploy.target": "loihi2", "export.target": "loihi"}


@dataclass(frozen=True)
class Param:
    """One searched key: ``choices`` (any YAML values) or a numeric range ``low``..``high``."""

    key: str
    kind: str  # "choice", "int" or "float"
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Any) -> Any:
        """The value of this key for an Optuna trial (the sampler decides)."""
        if self.kind == "choice":
            return json.loads(trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices]))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1),
                                     log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def decode(self, stored: Any) -> Any:
        """A value as the study stores it (choices as JSON text) -> the config value."""
        return json.loads(stored) if self.kind == "choice" else stored

    def samples(self) -> list[Any]:
        """Values that must all be valid configs: every choice, both ends of a range."""
        if self.kind == "choice":
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]

    def describe(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        bounds = [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]
        out: dict[str, Any] = {self.kind: bounds, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class Space:
    """A validated search space: searched params, fixed settings, sampler seed and population."""

    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    population: int | None = None
    path: str = ""

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """``--set`` strings of one trial: the forced stages, the fixed settings, the searched values."""
        merged = {**self.fixed, **FORCED, **values}
        return [f"{k}={json.dumps(v)}" for k, v in merged.items()]  # JSON is YAML

    def population_size(self, trials: int) -> int:
        return self.population or max(2, min(50, trials // 2))

    def describe(self) -> dict[str, Any]:
        return {"file": self.path, "fixed": self.fixed, "seed": self.seed, "population": self.population,
                "space": {p.key: p.describe() for p in self.params}}


def load_space(path: str | Path | None) -> Space:
    """Read and check a space file (``None``: the default space shipped with snnx)."""
    path = Path(path) if path is not None else DEFAULT_SPACE
    where = f"space file {path}"
    try:
        if path.is_dir():
            raise SnnxError(f"{where} is a folder; give a YAML file")
        if path.stat().st_size > limits.MAX_JSON_BYTES:
            raise SnnxError(f"{where} is larger than {limits.MAX_JSON_BYTES >> 20} MB")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnnxError(f"{where} not found") from None
    except UnicodeDecodeError:
        raise SnnxError(f"{where} is not UTF-8 text; save it as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise SnnxError(f"{where} is not valid YAML{'' if line is None else f' (line {line + 1})'}") from None
    return parse_space(raw, where)


def parse_space(raw: Any, where: str = "space") -> Space:
    """A :class:`Space` from the YAML document; every key checked against the config."""
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict) or not raw["space"]:
        raise SnnxError(f"{where}: expected a mapping with a non-empty 'space:' of config keys "
                        "(e.g. space: {data.timesteps: {int: [8, 25]}})")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise SnnxError(f"{where}: unknown top-level key {unknown[0]!r}; valid: {', '.join(KEYS)}")
    fixed = raw.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise SnnxError(f"{where}: 'fixed:' must map config keys to values")
    seed, population = raw.get("seed", 0), raw.get("population")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SnnxError(f"{where}: seed must be an integer in [0, 2**32), got {seed!r}")
    if population is not None and (isinstance(population, bool) or not isinstance(population, int)
                                   or population < 2):
        raise SnnxError(f"{where}: population must be an integer >= 2, got {population!r}")
    params = tuple(_param(str(k), v, where) for k, v in raw["space"].items())
    clash = sorted(set(fixed) & {p.key for p in params})
    if clash:
        raise SnnxError(f"{where}: {clash[0]} is both fixed and searched; keep one")
    forced = sorted(set(FORCED) & ({p.key for p in params} | set(fixed)))
    if forced:
        raise SnnxError(f"{where}: {forced[0]} is set by snnx frontier itself (fast bit-exact simulation, "
                        "priced for loihi2); remove it")
    space = Space(params, dict(fixed), seed, population, where.removeprefix("space file "))
    _check(space, {}, where, "fixed settings")
    for p in params:
        for value in p.samples():
            _check(space, {p.key: value}, where, f"{p.key} = {value!r}")
    return space


def _param(key: str, spec: Any, where: str) -> Param:
    if isinstance(spec, list):
        if not spec:
            raise SnnxError(f"{where}: {key} has no choices")
        return Param(key, "choice", tuple(spec))
    if isinstance(spec, dict):
        kinds = [k for k in ("int", "float") if k in spec]
        extra = sorted(set(spec) - {"int", "float", "log", "step"})
        bounds = spec.get(kinds[0]) if len(kinds) == 1 else None
        if len(kinds) == 1 and not extra and isinstance(bounds, list) and len(bounds) == 2:
            kind = kinds[0]
            try:
                lo, hi = (float(b) for b in bounds)  # PyYAML reads 1e-3 as text
                step = None if spec.get("step") is None else float(spec["step"])
            except (TypeError, ValueError):
                lo = hi = math.nan
                step = None
            log = spec.get("log", False)
            ok = math.isfinite(lo) and math.isfinite(hi) and lo <= hi and isinstance(log, bool)
            ok = ok and (kind == "float" or (lo == int(lo) and hi == int(hi)))
            ok = ok and not (log and lo <= 0) and not (log and step is not None)
            if ok:
                return Param(key, kind, low=lo, high=hi, log=log, step=step)
    raise SnnxError(f"{where}: {key} must be a list of choices, {{int: [low, high]}} or "
                    f"{{float: [low, high]}} (optional log: true, step: s; low <= high), got {spec!r}")


def _check(space: Space, values: dict[str, Any], where: str, what: str) -> None:
    """Build the trial's config (refused with the config's own message if a key or value is bad)."""
    try:
        RunConfig.from_dict(apply_overrides({}, space.overrides(values)))
    except SnnxError as exc:
        raise SnnxError(f"{where}: {what}: {exc}") from None
