"""Float network -> Loihi integers (docs/design.md §4): one scale per layer, every bit width checked.

Per layer a scale ``k`` (integer weight units per float unit) maps the float neuron
``i = alpha i + W s; v = beta v + i + b; s = v > theta`` onto Loihi's integers::

    weight  = even integers in [-256, 254] ≈ W * k   (all integers for single-sign layers)
    vth     = round(theta * k)                       (17 bits)
    bias    = round(b * k)                           (netx bias: mantissa with bias_exp = 6)
    du, dv  = 12-bit decays of alpha and beta

Since v is linear in W, b and theta, multiplying all three by k keeps the spikes: the scale
lives in the threshold and bias, never in ``weight_exp``. That is also what Lava's Conv
needs, because it ignores weight_exp. ``k`` is ``254 / max|W|`` (max-abs, no weight is
clipped) or ``254 / percentile(|W|, p)`` (a few large weights clipped for finer resolution).
Under QAT the weights already are ``int / k``, so this is lossless. The grid functions are
those of :mod:`snnx.loihi.grid`, shared with QAT. A value that does not fit its bit width is
an error naming the layer, the value and the limit: nothing is ever clipped silently except
the weights the percentile rule chose to clip (reported as ``clipped``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from snnx.artifacts import stamp
from snnx.errors import SnnxError
from snnx.export.from_nir import FloatLayer, FloatNet
from snnx.loihi.grid import (
    quantize_decay_current,
    quantize_decay_voltage,
    round_half_away,
    weights_to_int,
)
from snnx.loihi.limits import BIAS_MAX, BIAS_MIN, DECAY_MAX, VTH_MAX, WEIGHT_MAX, WEIGHT_MIN
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet

SCALES = ("max", "percentile")


@dataclass(frozen=True)
class LayerQuant:
    """What quantization did to one layer (one entry of RUN/quant.json)."""

    name: str
    kind: str
    scale: float
    weight_exp: int  # what netx/Lava will use for the layer (Conv ignores it: 0)
    weight_min: int
    weight_max: int
    clipped: float  # fraction of weights clipped to the grid's ends
    max_weight_error: float  # max |W_int / k - W| in float units
    rms_weight_error: float
    du: int
    dv: int
    vth: int
    theta: float
    bias_min: int | None
    bias_max: int | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuantReport:
    """RUN/quant.json as a value: written by ``snnx export``, read back by
    :meth:`snnx.run.RunFolder.load_quant` (schema-checked, every layer field typed)."""

    scale_rule: str
    percentile: float | None
    layers: tuple[LayerQuant, ...]
    input_scale: int | None = None  # graded (direct) input: integer amplitude of 1.0
    source: str = ""  # where the float network came from (model.net's source)
    dt: float | None = None  # the NIR graph's time step, seconds
    input: dict[str, Any] | None = None  # model.net's input spec: shape, encoding, timesteps, params

    def to_dict(self) -> dict:
        d = {"scale_rule": self.scale_rule, "percentile": self.percentile, "input_scale": self.input_scale,
             "limits": {"weight": [WEIGHT_MIN, 255], "vth": [0, VTH_MAX],
                        "bias": [BIAS_MIN, BIAS_MAX], "decay": [0, DECAY_MAX]},
             "layers": [{**asdict(layer), "notes": list(layer.notes)} for layer in self.layers]}
        if self.input is not None:
            d.update({"source": self.source, "dt": self.dt, "input": self.input})
        return stamp("quant", d)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path) -> QuantReport:
        """quant.json's content (schema already checked) -> QuantReport; a missing or mistyped
        field is one line naming the file and ``snnx export``."""
        def bad(what: str) -> SnnxError:
            return SnnxError(f"{path}: {what}; rebuild it with `snnx export {Path(path).parent}`")

        rows = data.get("layers")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise bad("layers must be a list of objects")
        layers = []
        for i, row in enumerate(rows):
            try:
                values = {f.name: _typed(row[f.name], f.type) for f in fields(LayerQuant) if f.name != "notes"}
                layers.append(LayerQuant(**values, notes=tuple(str(n) for n in row.get("notes", ()))))
            except KeyError as exc:
                raise bad(f"layer {i + 1} has no {exc.args[0]!r}") from None
            except (TypeError, ValueError) as exc:
                raise bad(f"layer {i + 1}: {exc}") from None
        try:
            return cls(
                scale_rule=str(data["scale_rule"]),
                percentile=_typed(data.get("percentile"), "float | None"),
                layers=tuple(layers),
                input_scale=_typed(data.get("input_scale"), "int | None"),
                source=str(data.get("source", "")),
                dt=_typed(data.get("dt"), "float | None"),
                input=data.get("input") if isinstance(data.get("input"), dict) else None,
            )
        except KeyError as exc:
            raise bad(f"no {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise bad(str(exc)) from None


def _typed(value: Any, annotation: str) -> Any:
    """A JSON value checked against a field annotation of the report (str, int, float, optional)."""
    optional = annotation.endswith("| None")
    base = annotation.split("|")[0].strip()
    if value is None:
        if optional:
            return None
        raise TypeError(f"{base} expected, got null")
    if base == "str":
        if not isinstance(value, str):
            raise TypeError(f"text expected, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a number expected, got {value!r}")
    if base == "int":
        if value != int(value):
            raise ValueError(f"an integer expected, got {value!r}")
        return int(value)
    return float(value)


def layer_scale(layer: FloatLayer, rule: str = "max", percentile: float = 99.9) -> float:
    """Integer weight units per float unit for one layer.

    An all-zero layer has no weight to scale by: its threshold (or its largest bias) maps to
    254, so the neuron dynamics keep 8 bits of resolution.
    """
    w = np.abs(np.asarray(layer.weight, dtype=np.float64))
    if rule == "percentile":
        ref = float(np.percentile(w, percentile)) if w.size else 0.0
        ref = ref if ref > 0 else float(w.max(initial=0.0))
    elif rule == "max":
        ref = float(w.max(initial=0.0))
    else:
        raise SnnxError(f"scale rule {rule!r} is not one of {', '.join(SCALES)}")
    if ref > 0:
        return WEIGHT_MAX / ref
    b = 0.0 if layer.bias is None else float(np.abs(layer.bias).max(initial=0.0))
    return WEIGHT_MAX / max(b, float(layer.threshold), 1e-12)


def _checked_int(values: np.ndarray, lo: int, hi: int, layer: str, what: str, hint: str) -> np.ndarray:
    q = round_half_away(values)
    if q.size:
        bad = q[(q < lo) | (q > hi)]
        if bad.size:
            raise SnnxError(f"layer {layer}: {what} {int(bad.flat[np.argmax(np.abs(bad))])} does not fit Loihi's "
                            f"range [{lo}, {hi}]; {hint}")
    return q.astype(np.int64)


def quantize_layer(layer: FloatLayer, rule: str = "max", percentile: float = 99.9,
                   input_scale: int = 1, trained_here: bool = True) -> tuple[LoihiLayer, LayerQuant]:
    """One float layer -> one LoihiLayer (synapse + CUBA neurons) and its report.

    ``input_scale`` is the integer amplitude of a graded input of 1.0 (first layer of a
    direct-encoded net): the synapse sum grows by it, so threshold and bias must too.
    ``trained_here``: the graph came from snnx training, so snnx's training options are advice
    worth giving (not for a graph another tool made).
    """
    w_rec, w_rec_int = layer.weight_rec, None
    if w_rec is not None:  # dense_rec: one scale, one grid for both (netx optimizes hstack(W, W_rec))
        joint = FloatLayer(**{**layer.__dict__, "weight": np.hstack([layer.weight, np.asarray(w_rec) * input_scale])})
        k = layer_scale(joint, rule, percentile)
        w_int, w_rec_int = recurrent_weights_to_int(layer.weight, np.asarray(w_rec) * input_scale, k)
    else:
        k = layer_scale(layer, rule, percentile)
    kv = k * input_scale  # integer units of v (and of vth, bias) per float unit
    w = np.asarray(layer.weight, dtype=np.float64)
    w_int = weights_to_int(w, k) if w_rec is None else w_int
    err = w_int / k - w
    clipped = _clipped_fraction(w * k)
    vth = int(_checked_int(np.array([layer.threshold * kv]), 0, VTH_MAX, layer.name, "threshold (vth)",
                           f"the threshold {layer.threshold:g} is large for weights of at most {WEIGHT_MAX / k:g} "
                           f"(scale {k:g}); "
                           + ("retrain with a lower threshold" if trained_here else
                              "if the graph came from another framework, check --framework (its units of tau and "
                              "its gains)")
                           + (" or use --scale max" if rule != "max" else ""))[0])
    bias = None
    if layer.bias is not None:
        bias = _checked_int(np.asarray(layer.bias) * kv, BIAS_MIN, BIAS_MAX, layer.name, "bias",
                            f"the bias is large compared with the weights (scale {k:g}); "
                            + ("retrain with train.qat=true (QAT keeps biases within 13 bits)" if trained_here
                               else "retrain with smaller biases (or none)")
                            + (" or use --scale max" if rule != "max" else ""))
    du, dv = quantize_decay_current(layer.alpha), quantize_decay_voltage(layer.beta)
    out = LoihiLayer(
        kind=layer.kind, shape=layer.out_shape, name=layer.name, weight=w_int, bias=bias, du=du, dv=dv, vth=vth,
        stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=layer.groups, scale=k,
        weight_rec=w_rec_int,
    )
    report = LayerQuant(
        name=layer.name, kind=layer.kind, scale=k, weight_exp=_lava_weight_exp(out), weight_min=int(w_int.min()),
        weight_max=int(w_int.max()), clipped=clipped, max_weight_error=float(np.abs(err).max(initial=0.0)),
        rms_weight_error=float(np.sqrt(np.mean(err**2))) if err.size else 0.0, du=du, dv=dv, vth=vth,
        theta=float(layer.threshold), bias_min=None if bias is None else int(bias.min()),
        bias_max=None if bias is None else int(bias.max()), notes=tuple(layer.notes),
    )
    return out, report


def recurrent_weights_to_int(w: np.ndarray, w_rec: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """W and W_rec on one grid: netx gives both one exponent and bit count, so a mixed-sign pair
    (signs taken over both matrices) must be even in both, or Lava truncates one of them."""
    both = weights_to_int(np.hstack([np.asarray(w, dtype=np.float64), np.asarray(w_rec, dtype=np.float64)]), k)
    n_in = np.asarray(w).shape[1]
    return both[:, :n_in], both[:, n_in:]


def _clipped_fraction(wk: np.ndarray) -> float:
    """Fraction of scaled weights beyond the grid's ends by more than half a grid step."""
    if not wk.size:
        return 0.0
    mixed = (wk < 0).any() and (wk > 0).any()
    lo, hi, half = (WEIGHT_MIN, WEIGHT_MAX, 1.0) if mixed else (WEIGHT_MIN, 255, 0.5)
    return float(np.mean((wk < lo - half) | (wk > hi + half)))


def _lava_weight_exp(layer: LoihiLayer) -> int:
    """The weight_exp netx derives for a dense layer (optimize_weight_bits); Lava's Conv ignores it."""
    if layer.kind != "dense":
        return 0
    from snnx.loihi.weights import netx_optimize_weight_bits

    if layer.weight_rec is not None:
        return netx_optimize_weight_bits(np.hstack([layer.weight, layer.weight_rec]))[2]
    return netx_optimize_weight_bits(layer.weight)[2]


def quantize(net: FloatNet, rule: str = "max", percentile: float = 99.9,
             graded: bool = False) -> tuple[LoihiNet, QuantReport]:
    """The whole network: LoihiNet (flatten layers where a dense follows a [C, H, W] output) + report.

    ``graded``: the input is real-valued (direct encoding) and reaches Loihi as 8-bit graded
    spikes ``round(x * input_scale)``; input_scale is the largest integer <= 255 for which the
    first layer's threshold and bias still fit (stored in the input spec for the simulators).
    """
    if rule not in SCALES:
        raise SnnxError(f"--scale {rule!r} is not one of {', '.join(SCALES)}")
    if not 0 < percentile <= 100:
        raise SnnxError(f"--percentile {percentile} must be in (0, 100]")
    params = dict(net.encoder_params)
    input_scale = _input_scale(net.layers[0], rule, percentile) if graded else 1
    if graded:
        params["input_scale"] = input_scale
    layers: list[LoihiLayer] = []
    reports: list[LayerQuant] = []
    for i, fl in enumerate(net.layers):
        if fl.flatten_before and len(fl.in_shape) > 1:
            layers.append(LoihiLayer(kind="flatten", shape=(int(np.prod(fl.in_shape)),), name=f"{fl.name}.flatten"))
        q, r = quantize_layer(fl, rule, percentile, input_scale if i == 0 else 1,
                              trained_here=getattr(net, "framework", "snnx") == "snnx")
        layers.append(q)
        reports.append(r)
    spec = InputSpec(shape=net.input_shape, encoding=net.encoding or ("rate" if net.timesteps else "spikes"),
                     timesteps=int(net.timesteps or 0), params=params)
    return (LoihiNet(input=spec, layers=layers, dt=net.dt, source=net.source),
            QuantReport(rule, percentile if rule == "percentile" else None, tuple(reports),
                        input_scale if graded else None))


def _input_scale(layer: FloatLayer, rule: str, percentile: float) -> int:
    """Largest graded-input amplitude (<= 255) for which the first layer's vth and bias fit."""
    k = layer_scale(layer, rule, percentile)
    b = 0.0 if layer.bias is None else float(np.abs(layer.bias).max(initial=0.0))
    limit = min(VTH_MAX / max(layer.threshold * k, 1e-300), (BIAS_MAX + 0.5) / max(b * k, 1e-300))
    if layer.weight_rec is not None and np.abs(layer.weight_rec).max(initial=0) > 0:
        # the recurrent synapse sees binary spikes but shares the input synapse's grid: its weights
        # are W_rec * k * input_scale, which must fit 8 bits without coarsening W (docs/design.md §12)
        limit = min(limit, max(1.0, float(np.abs(layer.weight).max(initial=0) / np.abs(layer.weight_rec).max())))
    return int(max(1, min(255, np.floor(limit))))
