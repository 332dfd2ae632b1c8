"""netx HDF5: the one place that reads and writes ``model.net`` (docs/design.md §6.4).

The file is exactly what ``lava.lib.dl.netx.hdf5.Network`` loads, so lava-dl builds our
network unchanged and we read networks that lava-dl wrote:

* ``layer/0`` is ``input`` with the input ``shape`` (no neuron: netx then adds no Input block);
  ``layer/1..n`` follow the LoihiNet layers (``dense`` | ``conv`` | ``flatten``).
* shapes are stored in torch order ``[C, H, W]`` / ``[N]``; netx reverses them into its
  ``(x, y, z)`` = WHC order. Conv weights are torch ``(C_out, C_in/groups, kH, kW)``
  cross-correlation kernels (netx flips them, Lava's conv flips them back); ``stride``,
  ``padding``, ``dilation`` are ``[H, W]``. A dense layer after a conv sees the conv output
  flattened in torch (C, H, W) order (netx transposes WHC back before flattening).
* integer ``weight``; ``bias`` in weight units (netx: bias_mant = bias, bias_exp = 6). A conv
  bias is written per channel ``[C]`` when it is constant over H, W, else per neuron in WHC
  order, the two forms netx broadcasts.
* ``neuron/{type: CUBA | LOIHI, iDecay = du + 1, vDecay = dv, vThMant = vth, refDelay,
  gradedSpike}``; a dense layer without neurons (netx's integrator) has no neuron group, and
  lava-dl's Input block is ``layer/0`` (type input) with a neuron group (docs/design.md §6.4).

Our own metadata (input spec, dt, per-layer name and scale, source) lives in the group
``snnx`` as one JSON attribute; netx only reads ``layer``.

netx's ``optimize_weight_bits`` crashes on an all-zero dense weight; the file still stores
the zeros (the truth), and :func:`snnx.sim.lava_build.build_lava_network` builds such layers
with a zero-safe copy of that function. Format only: building Lava processes is sim's job.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snnx import validate
from snnx.errors import SnnxError
from snnx.io import write_bytes
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet

META_GROUP = "snnx"
FORMAT_VERSION = 1
REF_DELAY = 1  # netx ignores it; lava-dl writes 1 for CUBA neurons
# netx 0.6 builds these neuron types, which snnx does not simulate, and why (docs/design.md §6.4, §7.1)
UNSUPPORTED_NEURONS = {
    "SDNN": "sigma-delta neurons carry their state across samples (Lava ignores reset_interval for "
    "them), so samples cannot be simulated as a batch; run it in Lava (--backend lava is refused "
    "too: snnx's Lava engines stream samples with resets)",
}

SUPPORTED = ("input", "dense", "conv", "flatten", "dense_rec")


# ----------------------------------------------------------------------------- writing


def write_netx(net: LoihiNet, path: str | Path) -> Path:
    """Write ``net`` as netx HDF5 at ``path`` atomically (a failed write leaves the old file)."""
    path = Path(path)
    _check_writable(net)
    # built in memory, then written by Python: a full disk is an OSError (ENOSPC) from one
    # write call, never an HDF5 library failure half-way through a file (which can crash)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = f.create_group("layer")
        inp = layers.create_group("0")
        _put_str(inp, "type", "input")
        inp.create_dataset("shape", data=np.asarray(net.input.shape, dtype=np.int64))
        block = net.input_block
        if block is not None:
            _write_neuron(inp, block)
        rest = net.layers[1:] if block is not None else net.layers
        for i, layer in enumerate(rest, start=1):
            _write_layer(layers.create_group(str(i)), layer)
            _write_recurrent(layers[str(i)], layer)
        meta = f.create_group(META_GROUP)
        meta.attrs["json"] = json.dumps(_metadata(net))
    write_bytes(path, buf.getvalue())
    return path


def _check_writable(net: LoihiNet) -> None:
    for layer in net.layers:
        if layer.kind == "dense" and layer.weight_exp != 0:
            raise SnnxError(
                f"layer {layer.name or layer.kind}: weight_exp {layer.weight_exp} cannot be stored in netx HDF5 "
                "(netx derives the exponent from the weights); fold it into the weights and threshold"
            )


def _write_layer(g: h5py.Group, layer: LoihiLayer) -> None:
    _put_str(g, "type", layer.kind)
    g.create_dataset("shape", data=np.asarray(layer.shape, dtype=np.int64))
    if layer.kind == "flatten":
        return
    g.create_dataset("weight", data=np.asarray(layer.weight, dtype=np.int64))
    if layer.kind == "conv":
        g.create_dataset("stride", data=np.asarray(layer.stride, dtype=np.int64))
        g.create_dataset("padding", data=np.asarray(layer.padding, dtype=np.int64))
        g.create_dataset("dilation", data=np.asarray(layer.dilation, dtype=np.int64))
        g.create_dataset("groups", data=np.int64(layer.groups))
    if layer.bias is not None:
        g.create_dataset("bias", data=_bias_to_file(layer))
    if layer.neuron != "none":  # netx builds its integrator for a dense layer without neurons
        _write_neuron(g, layer)


def _write_neuron(g: h5py.Group, layer: LoihiLayer) -> None:
    n = g.create_group("neuron")
    _put_str(n, "type", layer.neuron)
    n.create_dataset("iDecay", data=np.int64(layer.du + 1))
    n.create_dataset("vDecay", data=np.int64(layer.dv))
    n.create_dataset("vThMant", data=np.int64(layer.vth))
    n.create_dataset("refDelay", data=np.int64(layer.ref_delay))
    n.create_dataset("gradedSpike", data=np.bool_(False))


def _write_recurrent(g: h5py.Group, layer: LoihiLayer) -> None:
    """A dense layer with recurrent weights is netx's ``dense_rec`` (lava-dl RecurrentDense):
    ``weight_rec`` (out, out) beside ``weight``; netx optimizes the bits of both together."""
    if layer.weight_rec is None:
        return
    del g["type"]
    _put_str(g, "type", "dense_rec")
    g.create_dataset("weight_rec", data=np.asarray(layer.weight_rec, dtype=np.int64))


def _read_recurrent(g: h5py.Group, layer: LoihiLayer, where: str) -> LoihiLayer:
    """The ``weight_rec`` of a ``dense_rec`` layer, attached to the dense layer read from it."""
    if "weight_rec" not in g:
        raise SnnxError(f"{where}: a dense_rec layer needs a 'weight_rec' dataset")
    n = layer.num_neurons
    w_rec = _as_int_array(g["weight_rec"][()], where, "weight_rec")
    if w_rec.size != n * n:
        raise SnnxError(f"{where}: weight_rec has {w_rec.size} values, a layer of {n} neurons needs {n * n}")
    return dataclasses.replace(layer, weight_rec=w_rec.reshape(n, n))


def _bias_to_file(layer: LoihiLayer) -> np.ndarray:
    bias = np.asarray(layer.bias, dtype=np.int64)
    if layer.kind == "dense":
        return bias.reshape(-1)
    per_channel = bias.reshape(bias.shape[0], -1)
    if np.all(per_channel == per_channel[:, :1]):
        return per_channel[:, 0].copy()
    return bias.transpose(2, 1, 0).copy()  # CHW -> netx's WHC


def _metadata(net: LoihiNet) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "input": {
            "shape": list(net.input.shape),
            "encoding": net.input.encoding,
            "timesteps": net.input.timesteps,
            "params": net.input.params,
        },
        "dt": net.dt,
        "source": net.source,
        "layers": [{"name": layer.name, "scale": layer.scale} for layer in net.layers],
    }


def _put_str(g: h5py.Group, key: str, value: str) -> None:
    # the form lava-dl itself writes (fixed-length ASCII, shape (1,))
    g.create_dataset(key, (1,), "S10", [value.encode("ascii")])


# ----------------------------------------------------------------------------- reading


def read_netx(path: str | Path) -> LoihiNet:
    """Read a netx HDF5 file (ours or lava-dl's) into a LoihiNet; SnnxError if we cannot simulate it."""
    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise SnnxError(f"{path} not found; run `snnx export` first")
    fix = "expected a netx model.net written by `snnx export` or lava-dl"
    validate.hdf5_preflight(path, "model.net", fix)  # declared sizes and types, before reading
    try:
        with h5py.File(path, "r") as f:
            if "layer" not in f or not isinstance(f["layer"], h5py.Group) or len(f["layer"]) == 0:
                raise SnnxError(f"{path} has no netx 'layer' group; {fix}")
            meta = _read_meta(f, path)
            net = _read_layers(f["layer"], meta, path)
    except SnnxError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError, OSError) as exc:
        # a field of the wrong type or shape that no explicit check above names
        detail = str(exc).splitlines()[0][:100] if str(exc) else ""
        raise SnnxError(f"{path} is damaged ({type(exc).__name__}: {detail}); re-run `snnx export`") from None
    validate.check_loihinet(net, path)
    return net


def _read_meta(f: h5py.File, path: Path) -> dict[str, Any] | None:
    if META_GROUP not in f:
        return None
    try:
        raw = f[META_GROUP].attrs["json"]
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if not isinstance(raw, str) or len(raw) > validate.MAX_STRING_BYTES:
            raise TypeError("metadata is not a JSON string")
        return validate.check_netx_meta(json.loads(raw), path)
    except (KeyError, ValueError, TypeError, RecursionError):
        raise SnnxError(
            f"{path}: the '{META_GROUP}' metadata group is damaged; re-run `snnx export`"
        ) from None


def _read_layers(group: h5py.Group, meta: dict[str, Any] | None, path: Path) -> LoihiNet:
    keys = sorted(group.keys(), key=_layer_index(path))
    input_shape: tuple[int, ...] | None = None
    layers: list[LoihiLayer] = []
    prev_shape: tuple[int, ...] | None = None
    for key in keys:
        g = group[key]
        where = f"{path} layer/{key}"
        kind = _get_str(g, "type", where)
        if kind not in SUPPORTED:
            raise SnnxError(
                f"{where}: layer type {kind!r} is not supported (snnx simulates input, dense, conv, flatten)"
            )
        if kind == "input":
            if layers or input_shape is not None:
                raise SnnxError(f"{where}: an input layer must come first")
            input_shape = tuple(int(s) for s in np.atleast_1d(g["shape"][()]))
            validate.check_shape(input_shape, where)
            prev_shape = input_shape
            if "neuron" in g:
                # lava-dl's Input block: netx builds a LIF fed the raw input; it ignores the
                # block's weight and bias (blocks/process.py Input drops its "transform")
                layers.append(LoihiLayer(kind="input", shape=input_shape, **_read_neuron(g, where)))
            continue
        if not layers and input_shape is None:
            input_shape = _infer_input_shape(g, kind, where)
            prev_shape = input_shape
        if kind == "dense_rec":
            layer = _read_recurrent(g, _read_layer(g, "dense", where, prev_shape, rec=True), where)
        else:
            layer = _read_layer(g, kind, where, prev_shape)
        layers.append(layer)
        prev_shape = layer.shape
    if not any(layer.is_synapse for layer in layers):
        raise SnnxError(f"{path}: no dense or conv layer found; nothing to simulate")
    layers = _apply_meta(layers, meta, path)
    spec = _input_spec(input_shape, meta)
    dt = float(meta.get("dt", 1e-4)) if meta else 1e-4
    source = str(meta.get("source", "")) if meta else ""
    return LoihiNet(input=spec, layers=layers, dt=dt, source=source or f"netx:{path.name}")


def _layer_index(path: Path):
    def key(k: str) -> int:
        try:
            return int(k)
        except ValueError:
            raise SnnxError(f"{path}: layer name {k!r} is not a number; not a netx file") from None

    return key


def _infer_input_shape(g: h5py.Group, kind: str, where: str) -> tuple[int, ...]:
    if kind == "dense":
        w = np.asarray(g["weight"][()]) if "weight" in g else None
        shape = tuple(int(s) for s in np.atleast_1d(g["shape"][()]))
        if w is None:
            raise SnnxError(f"{where}: dense layer has no weight")
        return (int(w.size // int(np.prod(shape))),) if w.ndim == 1 else (int(w.shape[1]),)
    raise SnnxError(
        f"{where}: the file has no input layer and starts with a {kind} layer, so the input shape is unknown; "
        "add layer/0 {type: input, shape: [C, H, W]}"
    )


def _read_layer(
    g: h5py.Group, kind: str, where: str, in_shape: tuple[int, ...] | None, rec: bool = False
) -> LoihiLayer:
    shape = tuple(int(s) for s in np.atleast_1d(g["shape"][()])) if "shape" in g else ()
    validate.check_shape(shape, where)
    if kind == "flatten":
        n = int(np.prod(in_shape)) if in_shape else int(np.prod(shape))
        return LoihiLayer(kind="flatten", shape=(n,))
    for unsupported in ("delay", "weight_rec", "weight/imag"):
        if unsupported in g and not (rec and unsupported == "weight_rec"):
            raise SnnxError(
                f"{where}: '{unsupported}' (synaptic delays/recurrence/complex weights) is not supported"
            )
    if "weight" not in g:
        raise SnnxError(f"{where}: {kind} layer has no weight")
    weight = _as_int_array(g["weight"][()], where, "weight")
    neuron = _read_neuron(g, where)
    if kind == "dense":
        n = int(np.prod(shape))
        if weight.ndim == 1:
            weight = weight.reshape(n, -1)
        weight = weight.reshape(weight.shape[0], -1)
        bias = _as_int_array(g["bias"][()], where, "bias").reshape(-1) if "bias" in g else None
        if bias is not None and bias.size == 1 and n > 1:
            bias = np.full(n, int(bias[0]))
        return LoihiLayer(kind="dense", shape=(n,), weight=weight, bias=bias, **neuron)
    # conv
    if neuron["neuron"] == "none":
        raise SnnxError(f"{where}: a conv layer without a neuron group cannot be built by netx")
    if len(shape) != 3:
        raise SnnxError(f"{where}: conv layer shape must be [C, H, W], got {list(shape)}")
    weight = weight.reshape(weight.shape[:4])
    bias = None
    if "bias" in g:
        bias = _conv_bias(_as_int_array(g["bias"][()], where, "bias"), shape, where)
    return LoihiLayer(
        kind="conv",
        shape=shape,
        weight=weight,
        bias=bias,
        stride=_pair(g, "stride", 1),
        padding=_pair(g, "padding", 0),
        dilation=_pair(g, "dilation", 1),
        groups=int(np.asarray(g["groups"][()]).reshape(-1)[0]) if "groups" in g else 1,
        **neuron,
    )


def _read_neuron(g: h5py.Group, where: str) -> dict[str, Any]:
    """netx's ``get_neuron_params`` for CUBA/LOIHI: du = iDecay - 1, dv = vDecay, vth = vThMant.

    A dense layer without a neuron group is netx's non-leaky integrator (``neuron="none"``).
    LOIHI is built as the same LIF; refDelay and gradedSpike change nothing in Lava's LIF (it
    sends 0/1 spikes); refDelay is kept to write the file back. netx 0.6 cannot read
    ``messageBits`` (its NetDict hands back a group, and building the next layer fails).
    """
    if "neuron" not in g:
        return {"neuron": "none"}
    n = g["neuron"]
    ntype = _get_str(n, "type", where + "/neuron")
    if ntype in UNSUPPORTED_NEURONS:
        raise SnnxError(f"{where}: neuron type {ntype} is not supported: {UNSUPPORTED_NEURONS[ntype]}")
    if ntype not in ("CUBA", "LOIHI"):
        raise SnnxError(
            f"{where}: neuron type {ntype!r} is not supported (snnx simulates netx's CUBA and LOIHI LIF)"
        )
    for key in ("iDecay", "vDecay", "vThMant"):
        if key not in n:
            raise SnnxError(f"{where}: neuron/{key} is missing")
    i_decay = _scalar_int(n["iDecay"], where, "iDecay")
    v_decay = _scalar_int(n["vDecay"], where, "vDecay")
    for key, value in (("iDecay", i_decay), ("vDecay", v_decay)):
        if not 0 <= value <= 4096:
            raise SnnxError(f"{where}: neuron/{key} {value} is outside netx's range [0, 4096]")
    extra = {}
    if "refDelay" in n:
        extra["ref_delay"] = _scalar_int(n["refDelay"], where, "refDelay")
    if "messageBits" in n and _scalar_int(n["messageBits"], where, "messageBits") != 0:
        raise SnnxError(
            f"{where}: neuron/messageBits (graded output spikes) is not supported: netx 0.6 cannot read it "
            "(Lava fails to build the next layer), so there is no Lava result to match; remove it"
        )
    return {
        "neuron": ntype,
        "du": i_decay - 1,
        "dv": v_decay,
        "vth": _scalar_int(n["vThMant"], where, "vThMant"),
        **extra,
    }


def _conv_bias(bias: np.ndarray, shape: tuple[int, int, int], where: str) -> np.ndarray:
    c, h, w = shape
    if bias.ndim == 3 and bias.shape == (w, h, c):
        return bias.transpose(2, 1, 0)
    flat = bias.reshape(-1)
    if flat.size == c:
        return np.broadcast_to(flat[:, None, None], shape).copy()
    if flat.size == 1:
        return np.full(shape, int(flat[0]))
    raise SnnxError(
        f"{where}: conv bias of shape {list(bias.shape)} fits neither [C] nor [W, H, C] for shape {list(shape)}"
    )


def _pair(g: h5py.Group, key: str, default: int) -> tuple[int, int]:
    if key not in g:
        return (default, default)
    v = np.atleast_1d(np.asarray(g[key][()])).astype(np.int64)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _apply_meta(
    layers: list[LoihiLayer], meta: dict[str, Any] | None, path: Path
) -> list[LoihiLayer]:
    if not meta:
        return layers
    info = meta.get("layers", [])
    if layers and layers[0].kind == "input" and len(info) == len(layers) - 1:
        info = [{"name": "input"}, *info]  # metadata written before input blocks existed
    if len(info) != len(layers):
        raise SnnxError(
            f"{path}: metadata lists {len(info)} layers but the file has {len(layers)}; re-run `snnx export`"
        )
    return [
        dataclasses.replace(layer, name=str(d.get("name", "")), scale=float(d.get("scale", 1.0)))
        for layer, d in zip(layers, info, strict=True)
    ]


def _input_spec(shape: tuple[int, ...] | None, meta: dict[str, Any] | None) -> InputSpec:
    if meta and "input" in meta:
        d = meta["input"]
        return InputSpec(
            shape=tuple(d["shape"]),
            encoding=str(d.get("encoding", "rate")),
            timesteps=int(d.get("timesteps", 25)),
            params=dict(d.get("params", {})),
        )
    # a file written by lava-dl: the shape is known, the encoding and time steps are not
    return InputSpec(shape=shape or (), encoding="spikes", timesteps=0)


def _get_str(g: h5py.Group, key: str, where: str) -> str:
    if key not in g:
        raise SnnxError(f"{where}: '{key}' is missing; not a netx layer")
    value = g[key][()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\x00 ")


def _scalar_int(ds: h5py.Dataset, where: str, key: str) -> int:
    v = np.asarray(ds[()]).reshape(-1)
    if v.size != 1:
        raise SnnxError(f"{where}: neuron/{key} must be one value per layer, got {v.size}")
    return int(v[0])


def _as_int_array(a: Any, where: str, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise SnnxError(
            f"{where}: {what} holds non-integer values; netx reads it as integers, quantize it first"
        )
    return arr.astype(np.int64)
