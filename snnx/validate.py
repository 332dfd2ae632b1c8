"""Checks on untrusted files, made from what a file *declares* before anything is read.

Each reader of a user-supplied format calls one of these first (docs/integrity.md):

- :func:`hdf5_preflight` walks an HDF5 file's metadata (model.net, NIR): object count, depth,
  every dataset's dtype and declared element count. A 600 KB file whose fill value stands
  for gigabytes of weights is refused here, because its size is read from the header and
  never materialised.
- :func:`check_netx_meta` checks snnx's own JSON metadata inside model.net, field by field.
- :func:`check_loihinet` checks a network's shapes against each other (weights vs. layer
  sizes, biases, conv output sizes, strides) and against :mod:`snnx.limits`.
- :func:`check_nir_graph` checks every array of a NIR graph is numeric and finite, and that
  the metadata's ``timesteps``/``dt`` are numbers.
- :func:`open_npy` and :func:`open_image` read a spike array's or an image's header and
  refuse sizes beyond the limits before the pixels or samples are loaded.

Each raises :class:`SnnxError` with one line that names the file and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from snnx import limits
from snnx.errors import SnnxError

MAX_HDF5_OBJECTS = 10_000
MAX_HDF5_DEPTH = 16
MAX_STRING_BYTES = 1 << 20


# ----------------------------------------------------------------------------- HDF5


def hdf5_preflight(path: Path, what: str, fix: str) -> None:
    """Refuse an HDF5 file whose declared sizes or types snnx would not read.

    ``what`` names the format in messages ("model.net", "NIR graph"), ``fix`` says what to do.
    """
    import h5py

    path = Path(path)
    if path.is_dir():
        raise SnnxError(f"{path} is a folder, not a {what} file; {fix}")
    if not path.is_file():
        raise SnnxError(f"{path} not found; {fix}")
    size = path.stat().st_size
    if size > limits.MAX_FILE_BYTES:
        raise SnnxError(f"{path} is {size >> 20} MB, more than the {limits.MAX_FILE_BYTES >> 30} GB limit for a {what}")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise SnnxError(f"{path} is not a readable {what} (not an HDF5 file); {fix}") from None
    objects, total = 0, 0
    try:
        with f:
            stack: list[tuple[Any, int]] = [(f, 0)]
            while stack:
                group, depth = stack.pop()
                if depth > MAX_HDF5_DEPTH:
                    raise SnnxError(f"{path}: groups nested deeper than {MAX_HDF5_DEPTH}; not a {what}")
                for key in list(group.keys()):
                    objects += 1
                    if objects > MAX_HDF5_OBJECTS:
                        raise SnnxError(f"{path}: more than {MAX_HDF5_OBJECTS} objects; not a {what}")
                    obj = group.get(key, getlink=False)
                    if isinstance(obj, h5py.Group):
                        stack.append((obj, depth + 1))
                    elif isinstance(obj, h5py.Dataset):
                        total += _dataset_size(obj, path, f"{group.name.rstrip('/')}/{key}", what)
                    elif obj is None:
                        raise SnnxError(f"{path}: {group.name}/{key} is a broken or external link; not a {what}")
                    else:
                        raise SnnxError(f"{path}: {group.name}/{key} is neither a group nor a dataset")
                    if total > limits.MAX_TOTAL_WEIGHTS:
                        raise SnnxError(f"{path} declares more than {limits.MAX_TOTAL_WEIGHTS:,} values in all "
                                        f"(limit, docs/limits.md); not a {what} snnx reads")
    except SnnxError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise SnnxError(f"{path} is a damaged HDF5 file ({type(exc).__name__}); {fix}") from None


def _dataset_size(ds: Any, path: Path, name: str, what: str) -> int:
    if ds.is_virtual or ds.external:
        raise SnnxError(f"{path}: dataset {name} refers to data outside the file; not a {what}")
    dt = ds.dtype
    kind = dt.kind
    if kind in "biuf":
        n = limits.prod(ds.shape) if ds.shape is not None else 0
        if n > limits.MAX_LAYER_WEIGHTS:
            raise SnnxError(f"{path}: dataset {name} declares {n:,} values, more than the {limits.MAX_LAYER_WEIGHTS:,} "
                            f"a layer may have (docs/limits.md); not a {what} snnx reads")
        return n
    if kind in "SUO":
        n = limits.prod(ds.shape) if ds.shape is not None else 0
        if n > 1024 or (kind == "S" and dt.itemsize * max(n, 1) > MAX_STRING_BYTES):
            raise SnnxError(f"{path}: dataset {name} holds {n:,} strings; a {what} holds short text only")
        return n
    raise SnnxError(f"{path}: dataset {name} has type {dt} (compound, enum or opaque); not a {what}")


# ----------------------------------------------------------------------------- model.net metadata


ENCODINGS = ("rate", "latency", "direct", "rows", "pairs", "spikes")


def _finite(x: Any, lo: float = -math.inf, hi: float = math.inf, strict_lo: bool = False) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    x = float(x)
    return math.isfinite(x) and (x > lo if strict_lo else x >= lo) and x <= hi


def check_netx_meta(meta: Any, path: Path) -> dict[str, Any]:
    """snnx's metadata group of a model.net: every field of the right type and range."""
    def bad(field: str, value: Any, want: str) -> SnnxError:
        return SnnxError(f"{path}: metadata field {field} = {str(value)[:40]!r} must be {want}; re-run `snnx export`")

    if not isinstance(meta, dict):
        raise bad("(root)", type(meta).__name__, "a JSON object")
    if "dt" in meta and not _finite(meta["dt"], 0.0, 1e3, strict_lo=True):
        raise bad("dt", meta["dt"], "a number of seconds > 0")
    if "source" in meta and not isinstance(meta["source"], str):
        raise bad("source", meta["source"], "a string")
    layers = meta.get("layers", [])
    if not isinstance(layers, list):
        raise bad("layers", layers, "a list")
    for i, d in enumerate(layers):
        if not isinstance(d, dict):
            raise bad(f"layers[{i}]", d, "an object")
        if "name" in d and not isinstance(d["name"], str):
            raise bad(f"layers[{i}].name", d["name"], "a string")
        if "scale" in d and not _finite(d["scale"], 0.0, 1e30, strict_lo=True):
            raise bad(f"layers[{i}].scale", d["scale"], "a finite number > 0")
    if "input" in meta:
        d = meta["input"]
        if not isinstance(d, dict):
            raise bad("input", d, "an object")
        shape = d.get("shape")
        if not isinstance(shape, list) or not 1 <= len(shape) <= 3 \
                or not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in shape) \
                or limits.prod(shape) > limits.MAX_LAYER_NEURONS:
            raise bad("input.shape", shape, f"1 to 3 positive integers, at most {limits.MAX_LAYER_NEURONS:,} values")
        if d.get("encoding", "rate") not in ENCODINGS:
            raise bad("input.encoding", d.get("encoding"), " or ".join(ENCODINGS))
        if not limits.is_count(d.get("timesteps", 25), 0, limits.MAX_TIMESTEPS):
            raise bad("input.timesteps", d.get("timesteps"), f"an integer in [0, {limits.MAX_TIMESTEPS}]")
        params = d.get("params", {})
        if not isinstance(params, dict) or not all(_finite(v) for v in params.values()):
            raise bad("input.params", params, "an object of finite numbers")
    return meta


# ----------------------------------------------------------------------------- LoihiNet


def check_loihinet(net: Any, path: Path) -> None:
    """Shapes that fit together and stay within the limits, checked layer by layer."""
    shape = tuple(net.input.shape)
    if not 1 <= len(shape) <= 3 or not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in shape) \
            or limits.prod(shape) > limits.MAX_LAYER_NEURONS:
        raise SnnxError(f"{path}: input shape {list(shape)} must be 1 to 3 positive sizes within the limits")
    if len(net.layers) > limits.MAX_LAYERS:
        raise SnnxError(f"{path}: {len(net.layers)} layers, more than {limits.MAX_LAYERS}")
    neurons = 0
    for i, layer in enumerate(net.layers, 1):
        where = f"{path} layer {i} ({layer.kind})"
        out = tuple(layer.shape)
        if not out or not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in out) \
                or limits.prod(out) > limits.MAX_LAYER_NEURONS:
            raise SnnxError(f"{where}: shape {list(out)} must be positive sizes with at most "
                            f"{limits.MAX_LAYER_NEURONS:,} neurons (docs/limits.md)")
        n_in, n_out = limits.prod(shape), limits.prod(out)
        if layer.kind == "flatten":
            if n_out != n_in:
                raise SnnxError(f"{where}: flattens {n_in} values into {n_out}")
        elif layer.kind == "dense":
            if tuple(layer.weight.shape) != (n_out, n_in):
                raise SnnxError(f"{where}: weight has shape {list(layer.weight.shape)}, the layer needs "
                                f"[{n_out}, {n_in}] (its {n_out} neurons x the {n_in} values before it)")
        elif layer.kind == "conv":
            _check_conv(layer, shape, out, where)
        if layer.bias is not None and int(np.asarray(layer.bias).size) != n_out:
            raise SnnxError(f"{where}: bias has {np.asarray(layer.bias).size} values for {n_out} neurons")
        neurons += n_out
        shape = out
    if neurons > limits.MAX_TOTAL_NEURONS:
        raise SnnxError(f"{path}: {neurons:,} neurons, more than the limit of {limits.MAX_TOTAL_NEURONS:,}")


def check_shape(shape: tuple[int, ...], where: str) -> None:
    """A layer shape as a file states it: positive sizes, at most MAX_LAYER_NEURONS neurons."""
    if shape and (not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in shape)
                  or limits.prod(shape) > limits.MAX_LAYER_NEURONS):
        raise SnnxError(f"{where}: shape {list(shape)[:4]} must be positive sizes with at most "
                        f"{limits.MAX_LAYER_NEURONS:,} neurons (docs/limits.md)")


def _check_conv(layer: Any, in_shape: tuple[int, ...], out: tuple[int, ...], where: str) -> None:
    if len(in_shape) != 3 or len(out) != 3:
        raise SnnxError(f"{where}: a conv needs [C, H, W] input and output, got {list(in_shape)} -> {list(out)}")
    w = layer.weight
    groups = layer.groups
    for name, pair, lo in (("stride", layer.stride, 1), ("dilation", layer.dilation, 1), ("padding", layer.padding, 0)):
        if len(pair) != 2 or not all(lo <= p <= limits.MAX_KERNEL for p in pair):
            raise SnnxError(f"{where}: {name} {list(pair)} must be two integers in [{lo}, {limits.MAX_KERNEL}]")
    if not 1 <= groups <= in_shape[0] or in_shape[0] % groups or out[0] % groups:
        raise SnnxError(f"{where}: groups {groups} must divide the {in_shape[0]} input and {out[0]} output channels")
    if w.ndim != 4 or w.shape[0] != out[0] or w.shape[1] * groups != in_shape[0] \
            or not all(1 <= k <= limits.MAX_KERNEL for k in w.shape[2:]):
        raise SnnxError(f"{where}: weight has shape {list(w.shape)}, the layer needs "
                        f"[{out[0]}, {in_shape[0] // max(groups, 1)}, kH, kW] for {list(in_shape)} -> {list(out)}")
    for axis in (0, 1):
        k, s, p, d = w.shape[2 + axis], layer.stride[axis], layer.padding[axis], layer.dilation[axis]
        size = (in_shape[1 + axis] + 2 * p - d * (k - 1) - 1) // s + 1
        if size != out[1 + axis]:
            raise SnnxError(f"{where}: a {k}x{k} kernel with stride {s} and padding {p} makes "
                            f"{'height' if axis == 0 else 'width'} {size} from {in_shape[1 + axis]}, "
                            f"but the layer says {out[1 + axis]}")


# ----------------------------------------------------------------------------- NIR


def check_nir_graph(graph: Any, path: Path) -> None:
    """Every parameter array numeric and finite, metadata numbers really numbers."""
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, dict) or not nodes:
        raise SnnxError(f"{path}: the NIR graph has no nodes")
    if len(nodes) > limits.MAX_LAYERS * 4:
        raise SnnxError(f"{path}: {len(nodes)} nodes, more than {limits.MAX_LAYERS * 4}")
    for name, node in nodes.items():
        for key, value in vars(node).items():
            if key in ("input_type", "output_type", "metadata"):
                continue
            arr = value if isinstance(value, np.ndarray) else None
            if arr is None and isinstance(value, (int, float)) and not isinstance(value, bool):
                arr = np.asarray(value)
            if arr is None:
                continue
            if arr.dtype.kind not in "biuf":
                raise SnnxError(f"{path}: node {name!r} field {key} has type {arr.dtype}; NIR parameters are numbers")
            if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
                raise SnnxError(f"{path}: node {name!r} field {key} holds NaN or infinite values; "
                                "export the graph from a trained, finite model")
    meta = getattr(graph, "metadata", None) or {}
    if not isinstance(meta, dict):
        raise SnnxError(f"{path}: the graph's metadata is not a mapping")
    for key, lo, integer in (("dt", 0.0, False), ("timesteps", 0, True)):
        if key not in meta:
            continue
        v = np.asarray(meta[key])
        if v.dtype.kind not in ("iu" if integer else "iuf") or v.size != 1:
            raise SnnxError(f"{path}: metadata {key} = {str(meta[key])[:40]!r} must be one "
                            f"{'integer' if integer else 'number'}; re-export the graph")
        x = float(v.reshape(-1)[0])
        hi = limits.MAX_TIMESTEPS if integer else 1e3
        if not (math.isfinite(x) and lo < x <= hi):
            raise SnnxError(f"{path}: metadata {key} = {x} must be in ({lo}, {hi}]")


def check_nir_snnx_meta(meta: dict[str, Any]) -> None:
    """The JSON snnx stores in a NIR graph's metadata: numbers where numbers belong."""
    def bad(key: str, want: str) -> SnnxError:
        return SnnxError(f"the NIR graph's snnx metadata {key} = {str(meta[key])[:40]!r} must be {want}; "
                         "re-export the graph with snnx export")

    if "dt" in meta and not _finite(meta["dt"], 0.0, 1e3, strict_lo=True):
        raise bad("dt", "a number of seconds > 0")
    if meta.get("timesteps") is not None and not limits.is_count(meta["timesteps"], 1, limits.MAX_TIMESTEPS):
        raise bad("timesteps", f"an integer in [1, {limits.MAX_TIMESTEPS}]")
    if meta.get("encoding") is not None and meta["encoding"] not in ENCODINGS:
        raise bad("encoding", " or ".join(ENCODINGS))
    params = meta.get("encoder_params", {})
    if not isinstance(params, dict) or not all(_finite(v) for v in params.values()):
        raise bad("encoder_params", "an object of finite numbers")
    if "delay" in meta and not isinstance(meta["delay"], str):
        raise bad("delay", "a string")


# ----------------------------------------------------------------------------- arrays and images


def open_npy(path: Path, what: str) -> np.ndarray:
    """A memory-mapped .npy array whose header (shape, dtype) has been checked; nothing loaded."""
    path = Path(path)
    if path.is_dir():
        raise SnnxError(f"{what} {path} is a folder; pass a .npy file")
    if not path.is_file():
        raise SnnxError(f"{what} {path} not found")
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic[:2] == b"PK":
            raise SnnxError(f"{what} {path} is a zip (.npz) archive; pass one .npy array, e.g. np.save('spikes.npy', x)")
        if magic != b"\x93NUMPY":
            raise SnnxError(f"{what} {path} is not a .npy array; write it with np.save")
        try:
            f.seek(0)
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(f))
        except (ValueError, OSError, SyntaxError) as exc:
            raise SnnxError(f"{what} {path} has a damaged .npy header ({str(exc)[:80]})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise SnnxError(f"{what} {path} holds {dtype} values; spikes must be integers (0/1 or graded 0..255)")
    if len(shape) < 2 or shape[0] < 1 or shape[1] < 1:
        raise SnnxError(f"{what} {path} has shape {list(shape)}; expected [samples >= 1, T >= 1, *input shape]")
    if shape[1] > limits.MAX_TIMESTEPS or shape[0] > limits.MAX_SAMPLES:
        raise SnnxError(f"{what} {path} has {shape[0]:,} samples of {shape[1]:,} steps; the limits are "
                        f"{limits.MAX_SAMPLES:,} samples and {limits.MAX_TIMESTEPS:,} steps (docs/limits.md)")
    if limits.prod(shape) > limits.MAX_INPUT_ELEMENTS:
        raise SnnxError(f"{what} {path} holds {limits.prod(shape):,} values, more than {limits.MAX_INPUT_ELEMENTS:,}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SnnxError(f"{what} {path} is not a readable .npy array ({str(exc)[:80]})") from None


def open_image(path: Path):
    """A Pillow image whose size came from the header and is within MAX_IMAGE_PIXELS (not decoded yet)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise SnnxError(f"--image {path} is a folder; pass one PNG or JPEG file")
    if not path.is_file():
        raise SnnxError(f"image {path} not found; pass an existing PNG or JPEG file with --image")
    try:
        img = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise SnnxError(f"cannot read {path} as an image ({type(exc).__name__}); pass a PNG or JPEG file") from None
    w, h = img.size
    if w * h > limits.MAX_IMAGE_PIXELS:
        img.close()
        raise SnnxError(f"image {path} is {w}x{h} pixels, more than the {limits.MAX_IMAGE_PIXELS:,} snnx decodes "
                        "(docs/limits.md); scale it down first")
    return img
