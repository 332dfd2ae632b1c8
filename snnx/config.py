"""The run configuration: dataclasses with defaults, YAML load/dump, ``--set`` overrides.

Every key has a default, so an empty config is a valid run. Unknown keys and values of
the wrong type or outside their choices raise a one-line :class:`SnnxError`, because a
silently ignored typo in a config wastes a training run.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from snnx import limits
from snnx.errors import SnnxError
from snnx.io import write_text


def _choices(*values: str, default: str) -> Any:
    return field(default=default, metadata={"choices": values})


@dataclass
class DataConfig:
    dataset: str = _choices("mnist", "fashionmnist", "shd", default="mnist")  # shd: Spiking Heidelberg Digits
    dir: str | None = None
    # defaults: graded (8-bit) pixels for 4 steps: the cheapest code on the chip that keeps accuracy
    # (docs/design.md §13; README "Measured results")
    encoding: str = _choices("rate", "latency", "direct", "rows", "pairs", default="direct")  # rows: one image row per step; pairs: two pixels per step
    timesteps: int = 4
    train_subset: int | None = None
    test_subset: int | None = None
    gain: float = 1.0  # rate coding: spike probability per step = gain * pixel intensity
    latency_tau: float = 5.0  # latency coding: RC time constant in steps (snntorch.spikegen.latency)
    augment_shift: int = 0  # training only: shift each image by up to this many pixels
    bin_ms: float | None = None  # shd: bin width in ms from t = 0 (unset: data.timesteps bins span each recording)


@dataclass
class NeuronConfig:
    alpha: float = 0.0  # synaptic current decay; 0 gives a plain LIF
    beta: float = 0.95  # membrane decay
    threshold: float = 1.0
    surrogate: str = _choices("atan", "fast_sigmoid", default="atan")
    surrogate_slope: float = 2.0


@dataclass
class ModelConfig:
    kind: str = _choices("fc", "conv", "residual", "attention", default="fc")
    hidden: list[int] = field(default_factory=lambda: [300])
    conv: str = "16c5s2-32c3s2"  # conv kind: CxKsS blocks; strided, no pooling (netx has none)
    bias: bool = True
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    loss: str = _choices("ce_count", "ce_membrane", "mse_count", default="ce_count")
    stochastic_output: bool = False  # probabilistic output spikes during training
    skip: int = 1  # residual kind: 1 = identity into the same layer (deployable), 2 = over two layers
    heads: int = 4  # attention kind
    patch: int = 7  # attention kind: square patch size
    recurrent: bool = False  # fc kind: each hidden layer also gets recurrent weights (netx dense_rec)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2.0e-3
    optimizer: str = _choices("adam", "adamw", default="adamw")
    weight_decay: float = 0.0
    schedule: str = _choices("cosine", "step", "none", default="cosine")
    step_size: int = 3  # step schedule: epochs between decays
    gamma: float = 0.5  # step schedule: decay factor
    qat: bool = True
    seed: int = 0
    device: str = "auto"
    # chip-priced training (snnx.train.energy, docs/design.md §13): loss += energy_weight x the
    # deployed energy per inference in uJ (profile deploy.energy_profile); and/or per-layer
    # firing-rate targets (spikes per neuron per step, one per layer from the first, fewer allowed):
    # loss += rate_weight x sum (rate - target)^2
    energy_weight: float = 0.05  # the default run: 97.5 % at ~2 uJ (README, docs/design.md §13)
    rate_targets: list[float] = field(default_factory=list)
    rate_weight: float = 1000.0  # squared rate errors are ~1e-3: this makes them count beside the CE loss
    # recurrent models (snnx.train.silence, docs/design.md §12): loss += silence_weight x the firing rate
    # of every recurrent layer on its last silence_steps steps, so that netx's streamed reset carries
    # nothing into the next sample; no effect on models without recurrent layers. Off by default: on
    # row-MNIST it either left the attractor firing or silenced the layer (measured, §12)
    silence_weight: float = 0.0
    silence_steps: int = 2


@dataclass
class ExportConfig:
    target: str = _choices("loihi", default="loihi")
    scale: str = _choices("max", "percentile", default="max")
    percentile: float = 99.9
    # dense_rec layers: clock neurons that silence the layer's last step before netx's reset, so a
    # stream of samples leaks nothing (snnx.loihi.stream_clock, docs/design.md §12); 0 = off
    stream_clock: int = 0


@dataclass
class SimConfig:
    backend: str = _choices("fast", "lava", "both", default="fast")
    samples: int | None = None


@dataclass
class DeployConfig:
    target: str = _choices("loihi2", "nir", default="loihi2")
    energy_profile: str = "loihi1-davies2018"


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)

    def __post_init__(self) -> None:
        _check_values(self)

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunConfig:
        return _build(cls, _unpriced_attention(_rows_timesteps(data or {})), prefix="")

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> RunConfig:
        path = Path(path)
        try:
            if path.is_dir():
                raise SnnxError(f"config file {path} is a folder; give a YAML file")
            if path.exists() and path.stat().st_size > limits.MAX_JSON_BYTES:
                raise SnnxError(f"config file {path} is larger than {limits.MAX_JSON_BYTES >> 20} MB; "
                                "give a YAML config file")
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SnnxError(f"config file {path} not found") from None
        except UnicodeDecodeError as exc:
            raise SnnxError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 YAML") from None
        except PermissionError:
            raise SnnxError(f"config file {path} is not readable (permission denied)") from None
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            where = f" (line {line + 1})" if line is not None else ""
            raise SnnxError(f"config file {path} is not valid YAML{where}; fix the syntax") from None
        if raw is not None and not isinstance(raw, dict):
            raise SnnxError(f"config file {path} must be a mapping of sections (data:, model:, train: ...)")
        return cls.from_dict(apply_overrides(raw or {}, overrides or []))

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Write the resolved config (every default spelled out) plus provenance."""
        doc = self.to_dict()
        text = yaml.safe_dump(doc, sort_keys=False)
        if extra:
            text += "# provenance (ignored when loading)\n"
            text += "\n".join("# " + line for line in yaml.safe_dump(extra, sort_keys=False).splitlines())
            text += "\n"
        write_text(path, text)


_CONV_RE = re.compile(r"^(\d+)c(\d+)(?:s(\d+))?$")


def parse_conv(text: str) -> list[tuple[int, int, int]]:
    """Parse ``16c5s2-32c3s2`` into [(channels, kernel, stride), ...], each within :mod:`snnx.limits`."""
    blocks = []
    for part in str(text).strip().split("-"):
        m = _CONV_RE.match(part.strip())
        if not m:
            raise SnnxError(
                f"model.conv block {part!r} is not CcKsS (e.g. 16c5s2 = 16 channels, 5x5 kernel, stride 2)"
            )
        ch, k, st = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if not (1 <= ch <= limits.MAX_CHANNELS and 1 <= k <= limits.MAX_KERNEL and 1 <= st <= limits.MAX_KERNEL):
            raise SnnxError(f"model.conv block {part!r}: channels must be in [1, {limits.MAX_CHANNELS}], kernel in "
                            f"[1, {limits.MAX_KERNEL}] and stride in [1, {limits.MAX_KERNEL}] (e.g. 16c5s2)")
        blocks.append((ch, k, st))
    if len(blocks) > limits.MAX_LAYERS:
        raise SnnxError(f"model.conv has {len(blocks)} blocks; at most {limits.MAX_LAYERS}")
    return blocks


def resolve(config_path: str | Path | None, overrides: list[str] | None) -> RunConfig:
    """Config from a file (or all defaults) with ``section.key=value`` overrides applied."""
    if config_path is not None:
        return RunConfig.load(config_path, overrides)
    return RunConfig.from_dict(apply_overrides({}, overrides or []))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings; values are parsed as YAML (``[256,128]``, ``null``)."""
    raw = dict(raw)
    for item in overrides:
        if "=" not in item:
            raise SnnxError(f"--set {item!r}: expected section.key=value, e.g. --set train.epochs=3")
        key, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text != "" else None
        except yaml.YAMLError:
            raise SnnxError(f"--set {item!r}: the value {text!r} is not valid YAML") from None
        parts = key.strip().split(".")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise SnnxError(f"--set {item!r}: {part!r} is not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return raw


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise SnnxError(f"{where} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SnnxError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys in {where}: {', '.join(names)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{prefix}{name}", names[name])
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str, fld: dataclasses.Field) -> Any:
    tp, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise SnnxError(f"config key {key} cannot be null")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise SnnxError(f"config key {key} must be a list, got {value!r}")
        return [_scalar(item_tp, v, key) for v in value]
    out = _scalar(tp, value, key)
    choices = fld.metadata.get("choices")
    if choices and out not in choices:
        raise SnnxError(f"config key {key} = {out!r} is not one of: {', '.join(choices)}")
    return out


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        out = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                out = float(value)
            except OverflowError:
                raise SnnxError(f"config key {key} = {value!r} is too large for a float") from None
        elif isinstance(value, str):  # PyYAML reads "5e-4" (no dot) as a string
            try:
                out = float(value)
            except ValueError:
                pass
        if out is not None:
            if not math.isfinite(out):
                raise SnnxError(f"config key {key} must be a finite number, got {value!r}")
            return out
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise SnnxError(f"config key {key} must be {tp.__name__}, got {value!r}")


ROWS = 28  # rows encoding: MNIST and FashionMNIST images have 28 rows, one per input step
PAIRS = 28 * 28 // 2  # pairs encoding: two pixels per input step, 392 steps for MNIST and FashionMNIST
SHD_STEPS = 100  # dataset shd: time bins (input steps) when the config does not say (snnx.data.shd)


def _rows_timesteps(raw: dict[str, Any]) -> dict[str, Any]:
    """``data.encoding: rows`` presents one image row per step, so the number of steps is the
    number of rows: fill it in when the config does not say (the resolved config then shows it).
    ``data.dataset: shd`` is binned events presented one bin per step: its encoding is ``rows``
    and its number of steps (bins) is SHD_STEPS unless the config says."""
    data = raw.get("data")
    if isinstance(data, dict) and data.get("dataset") == "shd":
        data = {"encoding": "rows", **data}
        data = {**data, "timesteps": SHD_STEPS if data.get("timesteps") is None else data["timesteps"]}
        raw = {**raw, "data": data}
    if isinstance(data, dict) and data.get("encoding") == "rows" and data.get("timesteps") is None:
        raw = {**raw, "data": {**data, "timesteps": ROWS}}
    if isinstance(data, dict) and data.get("encoding") == "pairs" and data.get("timesteps") is None:
        raw = {**raw, "data": {**data, "timesteps": PAIRS}}  # two pixels per step
    return raw


def _unpriced_attention(raw: dict[str, Any]) -> dict[str, Any]:
    """The default energy term prices the deployed network; the attention hybrid never deploys
    (Loihi has no attention), so its default is no term (an explicit weight is still refused)."""
    model, train = raw.get("model"), raw.get("train")
    train = train if isinstance(train, dict) else {}
    if isinstance(model, dict) and model.get("kind") == "attention" and "energy_weight" not in train:
        raw = {**raw, "train": {**train, "energy_weight": 0.0}}
    return raw


def _check_values(cfg: RunConfig) -> None:
    """Range checks that types cannot express."""
    d, m, t = cfg.data, cfg.model, cfg.train
    L = limits
    if m.kind == "conv":
        parse_conv(m.conv)
    checks = [
        (1 <= d.timesteps <= L.MAX_TIMESTEPS, f"data.timesteps must be in [1, {L.MAX_TIMESTEPS}]", d.timesteps),
        (d.gain > 0, "data.gain must be > 0", d.gain),
        (d.encoding != "rows" or d.timesteps == ROWS or d.dataset == "shd",
         f"data.encoding=rows presents one image row per step: data.timesteps must be {ROWS} (or left out)",
         d.timesteps),
        (d.encoding != "pairs" or d.timesteps == PAIRS,
         f"data.encoding=pairs presents two pixels per step: data.timesteps must be {PAIRS} (or left out)",
         d.timesteps),
        (d.dataset != "shd" or d.encoding == "rows",
         "data.dataset=shd is already spikes, presented one time bin per step: data.encoding must be rows "
         "(or left out)", d.encoding),
        (d.bin_ms is None or (d.bin_ms > 0 and d.bin_ms * d.timesteps <= 1e6),
         "data.bin_ms must be > 0 ms (and data.timesteps bins of it at most 1000 s) or null", d.bin_ms),
        (d.latency_tau > 0, "data.latency_tau must be > 0 (steps)", d.latency_tau),
        (0 <= d.augment_shift <= 8, "data.augment_shift must be in [0, 8] pixels", d.augment_shift),
        (d.train_subset is None or d.train_subset >= 1, "data.train_subset must be >= 1 or null", d.train_subset),
        (d.test_subset is None or d.test_subset >= 1, "data.test_subset must be >= 1 or null", d.test_subset),
        (0.0 <= m.neuron.alpha < 1.0, "model.neuron.alpha must be in [0, 1)", m.neuron.alpha),
        (0.0 <= m.neuron.beta <= 1.0, "model.neuron.beta must be in [0, 1]", m.neuron.beta),
        (m.neuron.threshold > 0, "model.neuron.threshold must be > 0", m.neuron.threshold),
        (m.neuron.surrogate_slope > 0, "model.neuron.surrogate_slope must be > 0", m.neuron.surrogate_slope),
        (all(1 <= h <= L.MAX_LAYER_NEURONS for h in m.hidden),
         f"model.hidden sizes must be in [1, {L.MAX_LAYER_NEURONS}]", m.hidden),
        (len(m.hidden) <= L.MAX_LAYERS, f"model.hidden may list at most {L.MAX_LAYERS} layers", len(m.hidden)),
        (m.skip in (1, 2), "model.skip must be 1 or 2", m.skip),
        (1 <= m.heads <= 1024 and 1 <= m.patch <= 28, "model.heads must be in [1, 1024] and model.patch in [1, 28]",
         (m.patch, m.heads)),
        (m.kind != "attention" or m.patch < 1 or m.heads < 1
         or (28 % m.patch == 0 and (m.hidden[0] if m.hidden else 64) % m.heads == 0),
         "model.kind=attention needs model.patch dividing 28 and model.hidden[0] divisible by model.heads",
         (m.patch, m.hidden, m.heads)),
        (0 <= t.epochs <= L.MAX_EPOCHS, f"train.epochs must be in [0, {L.MAX_EPOCHS}]", t.epochs),
        (1 <= t.batch_size <= L.MAX_BATCH, f"train.batch_size must be in [1, {L.MAX_BATCH}]", t.batch_size),
        (t.lr > 0, "train.lr must be > 0", t.lr),
        (t.weight_decay >= 0, "train.weight_decay must be >= 0", t.weight_decay),
        (t.energy_weight >= 0, "train.energy_weight must be >= 0 (per uJ)", t.energy_weight),
        (t.rate_weight >= 0, "train.rate_weight must be >= 0", t.rate_weight),
        (t.silence_weight >= 0, "train.silence_weight must be >= 0", t.silence_weight),
        (1 <= t.silence_steps <= L.MAX_TIMESTEPS, f"train.silence_steps must be in [1, {L.MAX_TIMESTEPS}]",
         t.silence_steps),
        (all(0 <= r <= 1 for r in t.rate_targets) and len(t.rate_targets) <= L.MAX_LAYERS + 1,
         "train.rate_targets must be rates in [0, 1] (spikes per neuron per step), one per layer", t.rate_targets),
        (t.step_size >= 1, "train.step_size must be >= 1", t.step_size),
        (0 < t.gamma <= 1, "train.gamma must be in (0, 1]", t.gamma),
        (0 <= t.seed < 2**63, "train.seed must be in [0, 2**63)", t.seed),
        (t.device in ("auto", "cpu") or t.device.startswith("cuda"), "train.device must be auto, cpu or cuda[:N]", t.device),
        (cfg.sim.samples is None or cfg.sim.samples >= 1, "sim.samples must be >= 1 or null", cfg.sim.samples),
        (0 < cfg.export.percentile <= 100, "export.percentile must be in (0, 100]", cfg.export.percentile),
    ]
    for ok, message, value in checks:
        if not ok:
            raise SnnxError(f"{message} (got {value!r})")
