"""LoihiNet: the quantized network, the value between export, sim and deploy.

A feed-forward list of layers. Every synapse layer (dense or conv) is followed by a Loihi
CUBA LIF population whose integer dynamics are (docs/design.md §6.3, Lava PyLifModelBitAcc)::

    dec(x, m) = sign(x * m) * (|x * m| >> 12)
    u = wrap24(dec(u, 4096 - (du + 1)) + (a_in << 6))
    v = sat23(dec(v, 4096 - dv) + u + (bias << 6))
    s = v > (vth << 6);  v[s] = 0

``a_in`` is the synapse output of the previous step (one step of latency per synapse layer).
Shapes follow torch: dense weight (out, in), conv weight (C_out, C_in, kH, kW), conv
layer shape (C, H, W). ``bias`` is in weight units (netx's ``bias``, bias_exp = 6), one
value per neuron of the layer (shape == layer shape), or None.

netx 0.6 also builds (docs/design.md §6.4): an ``input`` layer with neurons (lava-dl's Input
block: the same LIF fed the raw input, no synapse, no latency; netx ignores its weight and bias),
``LOIHI`` neurons (built as the same LIF; netx ignores refDelay), a dense layer without neurons
(netx's non-leaky integrator: iDecay 0, vDecay 4096, vThMant 1 << 17, which never spikes), any
iDecay in [0, 4096] (du = iDecay - 1; du = -1 is a current that never decays) and vDecay in
[0, 4096]. ``neuron`` names the type as the file does ("CUBA", "LOIHI", or "none" for the
integrator); ``ref_delay`` is kept for writing the file back (Lava ignores it).
Bit widths are checked in ``__post_init__`` so an invalid network cannot be built; the values
are frozen (change one with ``dataclasses.replace``, which checks again). Reading and writing
``model.net`` is :mod:`snnx.loihi.netx`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnx.errors import SnnxError
from snnx.loihi.limits import BIAS_MAX, BIAS_MIN, DECAY_MAX, DU_MIN

NEURON_TYPES = ("CUBA", "LOIHI", "none")
# netx's neuron for a dense layer without one (hdf5.py create_dense): du = iDecay - 1 = -1,
# dv = 4096, vThMant = 1 << 18 - 1 = 1 << 17 (Python precedence): v = u + bias, never a spike
INTEGRATOR = {"du": -1, "dv": DECAY_MAX + 1, "vth": 1 << 17}
# lava-dl's Affine block with dynamics writes vThMant = 2**18 - 1 ("the maximum possible
# threshold"); Lava runs any threshold, and none above VTH_MAX is ever reached (v <= 2**23 - 1)
NETX_VTH_MAX = (1 << 18) - 1


@dataclass(frozen=True)
class InputSpec:
    """What feeds the first layer: shape without batch/time, and how images become spikes."""

    shape: tuple[int, ...]  # (C, H, W) for images, (N,) for flat input
    encoding: str = "rate"  # rate | latency | direct | spikes (user-provided)
    timesteps: int = 25
    params: dict = field(default_factory=dict)  # encoder parameters (gain, latency_tau, ...)

    def __post_init__(self) -> None:
        _set(self, "shape", tuple(int(s) for s in self.shape))


@dataclass(frozen=True)
class LoihiLayer:
    """One layer: ``dense``/``conv`` (synapses + CUBA LIF neurons), ``flatten``, or ``input``
    (lava-dl's Input block: neurons fed the raw input; only as the first layer)."""

    kind: str
    shape: tuple[int, ...]  # output shape of the layer (neurons), torch layout
    name: str = ""
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    du: int = 4095
    dv: int = 0
    vth: int = 1
    weight_exp: int = 0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    scale: float = 1.0  # integer weight units per float unit (quantization scale k)
    neuron: str = "CUBA"  # netx neuron type: CUBA | LOIHI | none (dense without neurons)
    ref_delay: int = 1  # netx refDelay; Lava's netx ignores it (no refractory period)
    # dense only: recurrent weights (out, out) from this layer's spikes back to its own neurons
    # (netx ``dense_rec``, Lava RecurrentDense): one more step of latency, docs/design.md §12
    weight_rec: np.ndarray | None = None

    def __post_init__(self) -> None:
        for key in ("shape", "stride", "padding", "dilation"):
            _set(self, key, tuple(int(s) for s in getattr(self, key)))
        where = f"layer {self.name or self.kind}"
        if self.kind not in ("dense", "conv", "flatten", "input"):
            raise SnnxError(f"{where}: kind {self.kind!r} is not dense, conv, flatten or input")
        if self.kind == "flatten":
            return
        if self.neuron not in NEURON_TYPES:
            raise SnnxError(f"{where}: neuron type {self.neuron!r} is not one of {', '.join(NEURON_TYPES)}")
        if self.neuron == "none":
            if self.kind != "dense":
                raise SnnxError(f"{where}: only a dense layer can be without neurons")
            for key, value in INTEGRATOR.items():
                _set(self, key, value)
        if self.kind == "input":
            if self.weight is not None or self.bias is not None:
                raise SnnxError(f"{where}: an input block has no weight or bias (netx ignores them)")
            self._check_neuron(where)
            return
        if self.weight is None:
            raise SnnxError(f"{where}: a {self.kind} layer needs a weight")
        _set(self, "weight", _as_int(self.weight, where, "weight"))
        expected_ndim = 2 if self.kind == "dense" else 4
        if self.weight.ndim != expected_ndim:
            raise SnnxError(
                f"{where}: {self.kind} weight must have {expected_ndim} dims, got {self.weight.shape}"
            )
        _check_range(self.weight, -256, 255, where, "weight")
        if self.weight_rec is not None:
            _check_recurrent(self, where)
        if self.bias is not None:
            _set(self, "bias", _as_int(self.bias, where, "bias").reshape(self.shape))
            _check_range(self.bias, BIAS_MIN, BIAS_MAX, where, "bias")
        self._check_neuron(where)

    def _check_neuron(self, where: str) -> None:
        _check_range(np.array([self.du]), DU_MIN, DECAY_MAX, where, "du")
        _check_range(np.array([self.dv]), 0, DECAY_MAX + 1, where, "dv")
        if self.neuron != "none":
            _check_range(np.array([self.vth]), 0, NETX_VTH_MAX, where, "vth")

    @property
    def is_synapse(self) -> bool:
        return self.kind in ("dense", "conv")

    @property
    def has_neurons(self) -> bool:
        """Synapse layers and the input block hold a LIF population; flatten does not."""
        return self.kind in ("dense", "conv", "input")

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_recurrent(self) -> bool:
        return self.weight_rec is not None


@dataclass(frozen=True)
class LoihiNet:
    """The quantized feed-forward network and its input spec."""

    input: InputSpec
    layers: tuple[LoihiLayer, ...]
    dt: float = 1e-4  # seconds per step assumed when reading NIR time constants
    source: str = ""  # where it came from (checkpoint, NIR file, netx file)

    def __post_init__(self) -> None:
        _set(self, "layers", tuple(self.layers))
        for i, layer in enumerate(self.layers):
            if layer.kind == "input" and (i or tuple(layer.shape) != tuple(self.input.shape)):
                raise SnnxError(
                    f"layer {layer.name or i}: an input block must be the first layer, of the input's shape"
                )

    @property
    def synapse_layers(self) -> list[LoihiLayer]:
        return [layer for layer in self.layers if layer.is_synapse]

    @property
    def num_synapse_layers(self) -> int:
        """L in docs/design.md §5: T input steps need T + L simulated steps."""
        return len(self.synapse_layers)

    @property
    def input_block(self) -> LoihiLayer | None:
        """lava-dl's Input block (neurons fed the raw input), if the network starts with one."""
        return self.layers[0] if self.layers and self.layers[0].kind == "input" else None

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.synapse_layers[-1].shape


def _check_recurrent(layer: LoihiLayer, where: str) -> None:
    """A recurrent weight is a dense (out, out) integer matrix on the same 8-bit grid."""
    if layer.kind != "dense":
        raise SnnxError(f"{where}: only dense layers can have recurrent weights (netx dense_rec)")
    _set(layer, "weight_rec", _as_int(layer.weight_rec, where, "weight_rec"))
    n = layer.num_neurons
    if layer.weight_rec.shape != (n, n):
        raise SnnxError(f"{where}: recurrent weight must be ({n}, {n}), got {layer.weight_rec.shape}")
    _check_range(layer.weight_rec, -256, 255, where, "weight_rec")


def _set(obj: object, key: str, value: object) -> None:
    """Normalise a field of a frozen dataclass during ``__post_init__``."""
    object.__setattr__(obj, key, value)


def _as_int(a: np.ndarray, where: str, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise SnnxError(f"{where}: {what} must hold integers; quantize it first")
    return arr.astype(np.int64)


def _check_range(a: np.ndarray, lo: int, hi: int, where: str, what: str) -> None:
    if a.size == 0:
        return
    amin, amax = int(a.min()), int(a.max())
    if amin < lo or amax > hi:
        bad = amin if amin < lo else amax
        raise SnnxError(
            f"{where}: {what} value {bad} does not fit Loihi's range [{lo}, {hi}]; "
            "a Loihi network holds only values in that range: quantize onto Loihi's grid first "
            "(snnx export does; for a file another tool wrote, re-export it from its source)"
        )
