"""Checkpoints that cannot carry code: tensors in safetensors, everything else in JSON.

A checkpoint named ``NAME`` in a run folder is two files (docs/integrity.md):

- ``NAME.safetensors``: the model's tensors (keys ``model.<param>``) and, in ``last``, the
  optimizer's (``optim.<param index>.<key>``). safetensors holds only a JSON header and raw
  tensor bytes, so reading it can never run code (unlike pickle or TorchScript).
- ``NAME.json``: format, model spec, config, epoch, metrics, optimizer/scheduler scalars and
  the SHA-256 of the ``.safetensors`` file, so a pair from two different writes is caught.

The tensors are written first and the JSON last: the JSON is the commit record. Legacy
``NAME.pt`` files (snnx-checkpoint/1, ``torch.save`` zips) are still read, but only after the
zip's member list proves it is a plain tensor archive: TorchScript archives (``code/``,
``constants.pkl``), old-style pickles and other archives are refused without being opened by
torch, because torch 2.3's ``torch.load(weights_only=True)`` hands TorchScript to
``torch.jit.load`` (CVE-2025-32434).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from snnx import limits
from snnx.config import RunConfig
from snnx.errors import SnnxError
from snnx.io import sha256_file, write_bytes, write_json
from snnx.train.models import SNN, LayerSpec, ModelSpec, build_model, check_spec

FORMAT = "snnx-checkpoint/2"
LEGACY_FORMAT = "snnx-checkpoint/1"
SUFFIXES = (".json", ".safetensors", ".pt")


@dataclass
class Checkpoint:
    spec: ModelSpec
    state_dict: dict[str, torch.Tensor]
    config: RunConfig
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    optimizer: dict | None = None  # only in last, for --resume
    scheduler: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. best accuracy, rows

    def save(self, path: str | Path) -> Path:
        """Write ``NAME.safetensors`` then ``NAME.json`` (``path`` may name either, or the stem)."""
        base = stem(path)
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.state_dict.items()}
        optimizer = None
        if self.optimizer is not None:
            optimizer = {"param_groups": self.optimizer["param_groups"], "state": {}}
            for pid, st in self.optimizer["state"].items():
                scalars = {}
                for key, value in st.items():
                    if isinstance(value, torch.Tensor):
                        tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
                    else:
                        scalars[key] = value
                optimizer["state"][str(pid)] = scalars
        blob = save(tensors, metadata={"format": FORMAT})
        weights = base.with_suffix(".safetensors")
        write_bytes(weights, blob)
        meta = {
            "format": FORMAT,
            "weights": weights.name,
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
            "spec": self.spec.to_dict(),
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "metrics": _finite_or_none(self.metrics),
            "optimizer": optimizer,
            "scheduler": self.scheduler,
            "extra": _finite_or_none(self.extra),
        }
        return write_json(base.with_suffix(".json"), meta)

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """Read ``NAME.json`` + ``NAME.safetensors``, else an inspected legacy ``NAME.pt``."""
        base = stem(path)
        meta_path, pt = base.with_suffix(".json"), base.with_suffix(".pt")
        if meta_path.is_file():
            return _load_v2(meta_path)
        if pt.is_file():
            return _load_legacy(pt)
        if base.with_suffix(".safetensors").is_file():
            raise SnnxError(f"{meta_path} not found beside {base.name}.safetensors (the weights alone have no "
                            f"architecture); retrain with `snnx train -o {base.parent} --overwrite`")
        raise SnnxError(f"{meta_path} not found; run `snnx train -o {base.parent}` first")

    def build_model(self, device: str | torch.device = "cpu") -> SNN:
        """The model with these weights, in eval mode; a mismatch is a clear error."""
        model = build_model(self.spec)
        load_weights(model, self.state_dict, "checkpoint")
        return model.to(device).eval()


def stem(path: str | Path) -> Path:
    """``run/checkpoint`` for ``run/checkpoint``, ``run/checkpoint.json``, ``.safetensors`` or ``.pt``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in SUFFIXES else path


def exists(path: str | Path) -> bool:
    """Whether a checkpoint (new or legacy) is stored under this name."""
    base = stem(path)
    return base.with_suffix(".json").is_file() or base.with_suffix(".pt").is_file()


def files(path: str | Path) -> list[Path]:
    """Every file a checkpoint of this name may consist of (for removal and checksums)."""
    base = stem(path)
    return [base.with_suffix(s) for s in SUFFIXES]


def _finite_or_none(obj: Any) -> Any:
    """Non-finite floats (a diverged loss) become null: strict JSON has no NaN."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def _bad(path: Path, why: str) -> SnnxError:
    return SnnxError(f"{path} is not a valid snnx checkpoint ({why}); retrain with "
                     f"`snnx train -o {path.parent} --overwrite` or restore the file")


def _read_meta(path: Path) -> dict:
    try:
        size = path.stat().st_size
        if size > limits.MAX_JSON_BYTES:
            raise _bad(path, f"{size} bytes, more than {limits.MAX_JSON_BYTES >> 20} MB")
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad(path, f"not UTF-8 JSON: {type(exc).__name__}") from None
    except OSError as exc:
        raise SnnxError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(meta, dict):
        raise _bad(path, "not a JSON object")
    return meta


def _load_v2(meta_path: Path) -> Checkpoint:
    meta = _read_meta(meta_path)
    if meta.get("format") != FORMAT:
        raise _bad(meta_path, f"format {meta.get('format')!r}, expected {FORMAT}")
    name = meta.get("weights")
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise _bad(meta_path, f"weights must name a .safetensors file beside it, got {name!r}")
    weights = meta_path.parent / name
    if not weights.is_file():
        raise SnnxError(f"{weights} not found (named by {meta_path}); retrain or restore it")
    try:
        size = weights.stat().st_size
        if size > limits.MAX_FILE_BYTES:
            raise _bad(weights, f"{size} bytes, more than the {limits.MAX_FILE_BYTES >> 30} GB limit")
        digest = sha256_file(weights)
    except OSError as exc:
        raise SnnxError(f"cannot read {weights}: {exc.strerror or exc}") from None
    if digest != meta.get("weights_sha256"):
        raise SnnxError(f"{weights} does not match {meta_path} (SHA-256 differs: the two files come from "
                        f"different writes or one was modified); retrain with `snnx train -o "
                        f"{meta_path.parent} --overwrite` or restore both files")
    spec = parse_spec(meta.get("spec"), meta_path)
    config = _parse_config(meta.get("config"), meta_path)
    try:
        tensors = load_file(weights, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _bad(weights, f"unreadable safetensors: {str(exc)[:120]}") from None
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optimizer = _parse_optimizer(meta.get("optimizer"), tensors, meta_path)
    _check_finite(state, weights)
    epoch, metrics, scheduler, extra = (meta.get("epoch", 0), meta.get("metrics") or {}, meta.get("scheduler"),
                                        meta.get("extra") or {})
    if not limits.is_count(epoch, 0, limits.MAX_EPOCHS):
        raise _bad(meta_path, f"epoch {epoch!r} is not an integer in [0, {limits.MAX_EPOCHS}]")
    if not isinstance(metrics, dict) or not isinstance(extra, dict) or not isinstance(scheduler, (dict, type(None))):
        raise _bad(meta_path, "metrics, extra and scheduler must be JSON objects")
    return Checkpoint(spec, state, config, epoch, metrics, optimizer, scheduler, extra)


def _parse_optimizer(opt: Any, tensors: dict[str, torch.Tensor], path: Path) -> dict | None:
    if opt is None:
        return None
    if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list) \
            or not isinstance(opt.get("state"), dict):
        raise _bad(path, "optimizer must hold param_groups (list) and state (object)")
    state: dict[int, dict] = {}
    for pid, scalars in opt["state"].items():
        if not re.fullmatch(r"\d{1,6}", pid) or not isinstance(scalars, dict):
            raise _bad(path, f"optimizer state key {pid!r} is not a parameter index")
        state[int(pid)] = dict(scalars)
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            if not pid.isdigit():
                raise _bad(path, f"tensor {key!r} is not optim.<index>.<name>")
            state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": opt["param_groups"]}


def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise SnnxError(f"{path}: weight {key} holds NaN or infinite values (the training diverged); "
                            "retrain with a lower train.lr")


# -- the spec and config from untrusted JSON ------------------------------------------------

_SPEC_TYPES = {"kind": str, "input_shape": list, "layers": list, "alpha": float, "beta": float,
               "threshold": float, "bias": bool, "surrogate": str, "surrogate_slope": float, "qat": bool,
               "stochastic_output": bool, "extra": dict}
_LAYER_TYPES = {"kind": str, "out": int, "kernel": int, "stride": int, "padding": int, "flatten_before": bool,
                "skip": int, "recurrent": bool}


def _typed(d: Any, types: dict[str, type], where: str, path: Path, required: tuple[str, ...]) -> dict:
    if not isinstance(d, dict):
        raise _bad(path, f"{where} must be a JSON object, got {type(d).__name__}")
    unknown = sorted(set(d) - set(types))
    missing = [k for k in required if k not in d]
    if unknown or missing:
        raise _bad(path, f"{where}: unknown keys {unknown[:3]}, missing {missing[:3]}")
    out = {}
    for key, value in d.items():
        tp = types[key]
        if tp is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            value = float(value) if ok else value
        elif tp is int:
            ok = limits.is_count(value, 0, limits.MAX_LAYER_NEURONS)
        else:
            ok = isinstance(value, tp)
        if not ok:
            raise _bad(path, f"{where}.{key} = {str(value)[:40]!r} must be a "
                       f"{'finite number' if tp is float else 'non-negative integer' if tp is int else tp.__name__}")
        out[key] = value
    return out


def parse_spec(d: Any, path: Path) -> ModelSpec:
    """A ModelSpec from JSON, every field type- and range-checked before any tensor exists."""
    d = _typed(d, _SPEC_TYPES, "spec", path, ("kind", "input_shape", "layers"))
    if d["kind"] not in ("fc", "conv", "residual", "attention"):
        raise _bad(path, f"spec.kind {d['kind']!r} is not fc, conv, residual or attention")
    if not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in d["input_shape"]):
        raise _bad(path, f"spec.input_shape {str(d['input_shape'])[:60]} must hold positive integers")
    if not 0 <= d.get("alpha", 0.0) < 1 or not 0 <= d.get("beta", 0.95) <= 1 or not d.get("threshold", 1.0) > 0:
        raise _bad(path, "spec needs alpha in [0, 1), beta in [0, 1] and threshold > 0")
    if d.get("surrogate", "atan") not in ("atan", "fast_sigmoid") or not d.get("surrogate_slope", 2.0) > 0:
        raise _bad(path, "spec.surrogate must be atan or fast_sigmoid with surrogate_slope > 0")
    if len(d["layers"]) > limits.MAX_LAYERS:
        raise _bad(path, f"{len(d['layers'])} layers, more than {limits.MAX_LAYERS}")
    layers = []
    for i, raw in enumerate(d["layers"]):
        ly = _typed(raw, _LAYER_TYPES, f"spec.layers[{i}]", path, ("kind", "out"))
        if ly.get("skip", 0) not in (0, 1, 2) or ly["out"] < 1:
            raise _bad(path, f"spec.layers[{i}] needs out >= 1 and skip 0, 1 or 2")
        layers.append(LayerSpec(**ly))
    extra = d.get("extra", {})
    if d["kind"] == "attention":
        for key in ("patch", "heads", "embed"):
            if key in extra and not limits.is_count(extra[key], 1, 4096):
                raise _bad(path, f"spec.extra.{key} = {extra[key]!r} must be an integer in [1, 4096]")
    d["layers"] = layers
    d["input_shape"] = tuple(d["input_shape"])
    spec = ModelSpec(**d)
    try:
        check_spec(spec)
    except SnnxError as exc:
        raise _bad(path, str(exc)) from None
    return spec


def _parse_config(d: Any, path: Path) -> RunConfig:
    try:
        return RunConfig.from_dict(d)
    except SnnxError as exc:
        raise _bad(path, f"its config: {exc}") from None


# -- legacy .pt: inspect the zip before torch sees it ---------------------------------------

_PT_MEMBER = re.compile(r"[^/]+/(data\.pkl|byteorder|version|\.data/version|\.data/serialization_id|data/\d+)")


def inspect_pt(path: Path) -> None:
    """Refuse anything but a plain ``torch.save`` tensor zip, without letting torch open it."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head != b"PK\x03\x04" or not zipfile.is_zipfile(path):
            raise _bad(path, "not a torch.save zip; old pickle-format and other archives are refused")
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, struct.error, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise SnnxError(f"cannot read {path}: permission denied") from None
        raise _bad(path, f"damaged zip: {type(exc).__name__}") from None
    names = [i.filename for i in infos]
    if any(n.split("/", 1)[-1].startswith("code/") or n.endswith("constants.pkl") for n in names):
        raise SnnxError(f"{path} is a TorchScript archive (it holds code); snnx never loads TorchScript, "
                        "which can run code from the file. Use a checkpoint written by `snnx train`")
    odd = [n for n in names if not _PT_MEMBER.fullmatch(n)]
    prefixes = {n.split("/", 1)[0] for n in names}
    if odd or len(prefixes) != 1 or not any(n.endswith("/data.pkl") for n in names):
        raise _bad(path, f"unexpected archive member {odd[0] if odd else names[:1]!r}; only torch.save tensor "
                   "zips are read")
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_FILE_BYTES or any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise _bad(path, "compressed or oversized members; torch.save writes neither")


def _load_legacy(path: Path) -> Checkpoint:
    inspect_pt(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise _bad(path, f"unreadable: {type(exc).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != LEGACY_FORMAT:
        raise SnnxError(f"{path} is not an snnx checkpoint (format {LEGACY_FORMAT} expected)")
    spec = parse_spec(payload.get("spec"), path)
    config = _parse_config(payload.get("config"), path)
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _bad(path, "state_dict must map names to tensors")
    _check_finite(state, path)
    epoch = payload.get("epoch", 0)
    if not limits.is_count(epoch, 0, limits.MAX_EPOCHS):
        raise _bad(path, f"epoch {epoch!r} is not an integer")
    return Checkpoint(spec, state, config, epoch, payload.get("metrics") or {}, payload.get("optimizer"),
                      payload.get("scheduler"), payload.get("extra") or {})


def load_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], what: str) -> None:
    """``load_state_dict`` that reports an architecture mismatch in one line."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [k for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
    if missing or unexpected or wrong:
        detail = (f"{wrong[0]} has shape {tuple(state_dict[wrong[0]].shape)}, model expects {tuple(own[wrong[0]].shape)}"
                  if wrong else f"missing {missing[:2]}, unexpected {unexpected[:2]}")
        raise SnnxError(f"the {what} does not match this model architecture ({detail}); use a checkpoint of the same model")
    bad_dtype = [k for k in own if state_dict[k].dtype != own[k].dtype]
    if bad_dtype:
        k = bad_dtype[0]
        raise SnnxError(f"the {what} stores {k} as {state_dict[k].dtype}, the model needs {own[k].dtype}; "
                        "use a checkpoint written by `snnx train`")
    model.load_state_dict(state_dict)
