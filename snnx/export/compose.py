"""The linear nodes between two neuron layers of a NIR graph, as one Loihi synapse layer.

Loihi layers are synapse + neurons: whatever linear nodes a graph puts between two neuron
nodes (Affine/Linear, Conv2d, SumPool2d/AvgPool2d, Scale, Flatten) must become a single dense
or conv synapse. Pooling is a convolution with constant weights, so:

* pooling alone between neurons -> a grouped convolution (one group per channel, weights 1 for
  SumPool2d, 1/k^2 for AvgPool2d: a constant kernel quantizes without error);
* pooling before a convolution -> one convolution with a k-times larger, k-times strided kernel;
* a convolution then pooling -> one convolution with kernel K + (k-1)*stride;
* anything before a dense layer -> the dense layer's weights on the original input, computed as
  the Jacobian of the (affine) chain in float64.

Each rule is exact: the composite computes the same currents as the chain. What cannot be
written as one Loihi synapse is refused in one line naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snnx.errors import SnnxError


@dataclass
class Synapse:
    """One Loihi synapse layer: dense (out, in) or conv (C_out, C_in/groups, kH, kW)."""

    kind: str
    weight: np.ndarray
    bias: np.ndarray  # float64, shape == out_shape
    out_shape: tuple[int, ...]
    flatten: bool = False
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    notes: list[str] = field(default_factory=list)


@dataclass
class _Op:
    name: str
    node: Any
    kind: str  # dense | conv | pool | scale | flatten
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kernel: tuple[int, int] = (1, 1)
    avg: bool = False
    scale: np.ndarray | None = None


def refuse(name: str, node: Any, reason: str) -> SnnxError:
    return SnnxError(f"node {name!r} of type {type(node).__name__} cannot run on Loihi: {reason}")


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _pair(x: Any) -> tuple[int, int]:
    v = np.atleast_1d(np.asarray(x)).astype(np.int64).reshape(-1)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _conv_out(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_padding(
    padding: Any, kernel: tuple[int, int], dilation: tuple[int, int], name: str, node: Any
):
    if isinstance(padding, (str, bytes)):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding == "valid":
            return (0, 0)
        total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if any(t % 2 for t in total):
            raise refuse(
                name,
                node,
                "padding 'same' with an even kernel pads unevenly, which netx cannot express",
            )
        return (total[0] // 2, total[1] // 2)
    return _pair(padding)


def make_op(name: str, node: Any, in_shape: tuple[int, ...]) -> _Op:
    """One NIR node as a linear op on a known input shape (refused with a reason if impossible)."""
    import nir

    if isinstance(node, nir.Flatten):
        return _Op(name, node, "flatten", in_shape, (int(np.prod(in_shape)),))
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = _arr(node.weight)
        if w.ndim != 2:
            raise refuse(
                name, node, f"weight must be a matrix (out, in), got shape {list(w.shape)}"
            )
        if w.shape[1] != int(np.prod(in_shape)):
            raise refuse(
                name,
                node,
                f"weight takes {w.shape[1]} inputs but the input has shape {list(in_shape)}",
            )
        b = _arr(node.bias).reshape(-1) if isinstance(node, nir.Affine) else np.zeros(w.shape[0])
        return _Op(
            name,
            node,
            "dense",
            in_shape,
            (int(w.shape[0]),),
            weight=w,
            bias=np.broadcast_to(b, (w.shape[0],)).astype(np.float64),
        )
    if isinstance(node, nir.Conv2d):
        w = _arr(node.weight)
        if w.ndim != 4:
            raise refuse(name, node, f"Conv2d weight must have 4 dims, got shape {list(w.shape)}")
        if len(in_shape) != 3:
            raise refuse(name, node, f"Conv2d needs a [C, H, W] input, got {list(in_shape)}")
        stride, dilation = _pair(node.stride), _pair(node.dilation)
        kh, kw = w.shape[2:]
        padding = _conv_padding(node.padding, (kh, kw), dilation, name, node)
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        if in_shape[0] != w.shape[1] * groups:
            raise refuse(
                name,
                node,
                f"weight expects {w.shape[1] * groups} input channels, input has {in_shape[0]}",
            )
        out = (
            int(w.shape[0]),
            _conv_out(in_shape[1], kh, stride[0], padding[0], dilation[0]),
            _conv_out(in_shape[2], kw, stride[1], padding[1], dilation[1]),
        )
        b = _arr(node.bias).reshape(-1) if node.bias is not None else np.zeros(w.shape[0])
        b = np.full(w.shape[0], float(b[0])) if b.size == 1 else b
        return _Op(
            name,
            node,
            "conv",
            in_shape,
            out,
            weight=w,
            bias=b,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            kernel=(int(kh), int(kw)),
        )
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        if len(in_shape) != 3:
            raise refuse(name, node, f"pooling needs a [C, H, W] input, got {list(in_shape)}")
        k, s, p = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
        out = (
            in_shape[0],
            _conv_out(in_shape[1], k[0], s[0], p[0]),
            _conv_out(in_shape[2], k[1], s[1], p[1]),
        )
        return _Op(
            name,
            node,
            "pool",
            in_shape,
            out,
            kernel=k,
            stride=s,
            padding=p,
            avg=isinstance(node, nir.AvgPool2d),
        )
    if isinstance(node, nir.Scale):
        s = _arr(node.scale).reshape(-1)
        n = int(np.prod(in_shape))
        if s.size == 1:
            s = np.full(n, float(s[0]))
        elif len(in_shape) == 3 and s.size == in_shape[0]:
            s = np.repeat(s, in_shape[1] * in_shape[2])
        elif s.size != n:
            raise refuse(
                name, node, f"scale has {s.size} values for an input of shape {list(in_shape)}"
            )
        return _Op(name, node, "scale", in_shape, in_shape, scale=s.reshape(in_shape))
    raise refuse(
        name,
        node,
        "snnx exports Affine/Linear/Conv2d/SumPool2d/AvgPool2d/Scale/Flatten + "
        "LIF/CubaLIF/IF layers",
    )


# ----------------------------------------------------------------------------- composition


def _apply(op: _Op, x):
    """``op`` on a torch float64 batch [B, *in_shape] (used for the dense Jacobian)."""
    import torch.nn.functional as F

    b = x.shape[0]
    if op.kind == "flatten":
        return x.reshape(b, -1)
    if op.kind == "scale":
        import torch

        return x * torch.as_tensor(op.scale, dtype=x.dtype)
    if op.kind == "dense":
        import torch

        return x.reshape(b, -1) @ torch.as_tensor(op.weight.T) + torch.as_tensor(op.bias)
    if op.kind == "conv":
        import torch

        return F.conv2d(
            x,
            torch.as_tensor(op.weight),
            torch.as_tensor(op.bias),
            op.stride,
            op.padding,
            op.dilation,
            op.groups,
        )
    y = F.avg_pool2d(x, op.kernel, op.stride, op.padding, count_include_pad=True)
    return y if op.avg else y * float(op.kernel[0] * op.kernel[1])


def _dense_from_chain(ops: list[_Op], in_shape: tuple[int, ...]) -> Synapse:
    import torch

    if len(ops) == 1 or all(o.kind == "flatten" for o in ops[:-1]):
        d = ops[-1]
        return Synapse(
            "dense", d.weight.copy(), d.bias.copy(), d.out_shape, flatten=len(in_shape) > 1
        )
    n_in = int(np.prod(in_shape))

    def f(v):
        y = v.reshape(1, *in_shape)
        for op in ops:
            y = _apply(op, y)
        return y.reshape(-1)

    with torch.no_grad():
        bias = f(torch.zeros(n_in, dtype=torch.float64)).numpy()
    jac = torch.autograd.functional.jacobian(
        f, torch.zeros(n_in, dtype=torch.float64), vectorize=True
    )
    names = " -> ".join(f"{o.name} ({type(o.node).__name__})" for o in ops if o.kind != "flatten")
    return Synapse(
        "dense",
        jac.numpy(),
        bias,
        (int(bias.size),),
        flatten=len(in_shape) > 1,
        notes=[f"{names} composed into one dense synapse (exact: the chain is linear)"],
    )


def _scale_per_channel(op: _Op) -> np.ndarray:
    s = op.scale.reshape(op.in_shape[0], -1)
    if not np.all(s == s[:, :1]):
        raise refuse(
            op.name,
            op.node,
            "a scale that varies within a channel cannot be folded into a convolution; "
            "use one value per channel",
        )
    return s[:, 0]


def _pool_as_conv(op: _Op) -> Synapse:
    c = op.in_shape[0]
    value = 1.0 / (op.kernel[0] * op.kernel[1]) if op.avg else 1.0
    w = np.full((c, 1, *op.kernel), value)
    return Synapse(
        "conv",
        w,
        np.zeros(op.out_shape),
        op.out_shape,
        stride=op.stride,
        padding=op.padding,
        groups=c,
        notes=[
            f"{op.name} ({type(op.node).__name__}) as a grouped convolution with constant "
            f"weights {value:g}"
        ],
    )


def _check_mergeable(pool: _Op, conv: _Op, conv_after: bool) -> None:
    """Pooling and a convolution fold into one kernel only for tiling pools and undilated convs."""
    if pool.stride != pool.kernel or pool.padding != (0, 0):
        into = "the next convolution" if conv_after else "the convolution before it"
        raise refuse(
            pool.name,
            pool.node,
            f"pooling with stride != kernel or padding cannot be merged into {into}; "
            "add neurons between them",
        )
    if conv.dilation != (1, 1):
        side = "after" if conv_after else "before"
        raise refuse(
            conv.name,
            conv.node,
            f"a dilated convolution {side} pooling cannot be merged into one layer",
        )


def _conv_after_pool(pool: _Op, conv: _Op) -> _Op:
    k = pool.kernel
    _check_mergeable(pool, conv, conv_after=True)
    if conv.padding != (0, 0) and (pool.in_shape[1] % k[0] or pool.in_shape[2] % k[1]):
        raise refuse(
            pool.name,
            pool.node,
            "the padded convolution after this pooling reads rows the pooling drops; "
            "use an input size divisible by the pooling kernel",
        )
    scale = 1.0 / (k[0] * k[1]) if pool.avg else 1.0
    w = np.repeat(np.repeat(conv.weight, k[0], axis=2), k[1], axis=3) * scale
    stride = (conv.stride[0] * k[0], conv.stride[1] * k[1])
    padding = (conv.padding[0] * k[0], conv.padding[1] * k[1])
    return _Op(
        conv.name,
        conv.node,
        "conv",
        pool.in_shape,
        conv.out_shape,
        weight=w,
        bias=conv.bias,
        stride=stride,
        padding=padding,
        groups=conv.groups,
        kernel=(int(w.shape[2]), int(w.shape[3])),
    )


def _pool_after_conv(conv: _Op, pool: _Op) -> _Op:
    k = pool.kernel
    _check_mergeable(pool, conv, conv_after=False)
    s = conv.stride
    kh, kw = conv.kernel
    w = np.zeros((*conv.weight.shape[:2], kh + (k[0] - 1) * s[0], kw + (k[1] - 1) * s[1]))
    for dy in range(k[0]):
        for dx in range(k[1]):
            w[:, :, dy * s[0] : dy * s[0] + kh, dx * s[1] : dx * s[1] + kw] += conv.weight
    scale = 1.0 / (k[0] * k[1]) if pool.avg else 1.0
    return _Op(
        conv.name,
        conv.node,
        "conv",
        conv.in_shape,
        pool.out_shape,
        weight=w * scale,
        bias=conv.bias * (k[0] * k[1]) * scale,
        stride=(s[0] * k[0], s[1] * k[1]),
        padding=conv.padding,
        groups=conv.groups,
        kernel=(int(w.shape[2]), int(w.shape[3])),
    )


def compose(ops: list[_Op], in_shape: tuple[int, ...]) -> Synapse:
    """The one synapse computing ``ops`` (applied in order to ``in_shape``)."""
    real = [o for o in ops if o.kind != "flatten"]
    if not real:
        name, node = ops[-1].name, ops[-1].node
        raise refuse(name, node, "neurons need an incoming Affine/Linear/Conv2d or pooling synapse")
    if any(o.kind == "dense" for o in real):
        first_dense = next(i for i, o in enumerate(ops) if o.kind == "dense")
        if any(o.kind in ("conv", "pool") for o in ops[first_dense:]):
            bad = next(o for o in ops[first_dense:] if o.kind in ("conv", "pool"))
            raise refuse(
                bad.name,
                bad.node,
                "a convolution or pooling after a dense layer without neurons between",
            )
        return _dense_from_chain(ops, in_shape)
    if len(ops) != len(real):
        f = next(o for o in ops if o.kind == "flatten")
        raise refuse(
            f.name,
            f.node,
            "a Flatten that is not followed by a dense layer leaves a 1-D map for a "
            "convolution; put it before the dense layer",
        )
    convs = [o for o in real if o.kind == "conv"]
    if len(convs) > 1:
        raise refuse(
            convs[1].name,
            convs[1].node,
            f"two convolutions ({convs[0].name!r}, {convs[1].name!r}) "
            "without neurons between them; merge them or add a spiking layer",
        )
    notes: list[str] = []
    pre_scale = np.ones(in_shape[0]) if len(in_shape) == 3 else None
    post_scale: np.ndarray | None = None
    cur: _Op | None = None  # the conv (or lone pool) built so far
    for op in real:
        if op.kind == "scale":
            per_c = _scale_per_channel(op)
            if cur is None:
                pre_scale = pre_scale * per_c
            else:
                post_scale = per_c if post_scale is None else post_scale * per_c
            notes.append(f"{op.name} (Scale) folded into the synapse weights")
        elif op.kind == "conv":
            if cur is None:
                cur = op
            else:  # cur is a pool
                notes.append(
                    f"{cur.name} ({type(cur.node).__name__}) merged into the kernel of {op.name} (Conv2d)"
                )
                cur = _conv_after_pool(cur, op)
            if post_scale is not None:
                raise refuse(
                    op.name, op.node, "a Scale between pooling and a convolution is not supported"
                )
        else:  # pool
            if cur is None:
                cur = op
            elif cur.kind == "conv":
                cur = _pool_after_conv(cur, op)
                notes.append(
                    f"{op.name} ({type(op.node).__name__}) merged into the kernel of {cur.name} (Conv2d)"
                )
            else:
                raise refuse(
                    op.name,
                    op.node,
                    "two poolings without neurons between them; merge them into one",
                )
    assert cur is not None
    if cur.kind == "pool":
        syn = _pool_as_conv(cur)
    else:
        syn = Synapse(
            "conv",
            cur.weight.copy(),
            np.broadcast_to(cur.bias[:, None, None], cur.out_shape).copy(),
            cur.out_shape,
            stride=cur.stride,
            padding=cur.padding,
            dilation=cur.dilation,
            groups=cur.groups,
        )
    if pre_scale is not None and np.any(pre_scale != 1):
        if syn.groups == 1:
            syn.weight = syn.weight * pre_scale[None, :, None, None]
        elif syn.groups == syn.weight.shape[0] == pre_scale.size:
            syn.weight = syn.weight * pre_scale[:, None, None, None]
        else:
            raise refuse(
                real[0].name, real[0].node, "a per-channel Scale before a grouped convolution"
            )
    if post_scale is not None:
        syn.weight = syn.weight * post_scale[:, None, None, None]
        syn.bias = syn.bias * post_scale[:, None, None]
    syn.notes = notes + syn.notes
    kh, kw = syn.weight.shape[2:]
    got = (
        int(syn.weight.shape[0]),
        _conv_out(in_shape[1], kh, syn.stride[0], syn.padding[0], syn.dilation[0]),
        _conv_out(in_shape[2], kw, syn.stride[1], syn.padding[1], syn.dilation[1]),
    )
    if got != tuple(real[-1].out_shape):
        raise refuse(
            real[-1].name,
            real[-1].node,
            f"merged into one convolution it gives {list(got)}, not "
            f"{list(real[-1].out_shape)}; add neurons between the pooling and the convolution",
        )
    return syn
