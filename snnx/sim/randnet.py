"""Random LoihiNets and inputs that stress every corner of the fixed-point arithmetic.

Used by the tests and the sweep benchmark that compare the fast simulator with Lava:
odd and single-sign weights, all-zero layers, extreme decays (du, dv in {0, 4095}),
biases at the 13-bit limits, thresholds from 0 to the 17-bit limit, and dense inputs
that drive u past 2**23 and v into saturation.
"""

from __future__ import annotations

import numpy as np

from snnx.loihi.limits import BIAS_MAX, BIAS_MIN, DECAY_MAX, VTH_MAX
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet


def random_weight(rng: np.random.Generator, shape: tuple[int, ...], extreme: bool) -> np.ndarray:
    """Integer weights on Lava's 8-bit range, with a random sign mode and density."""
    mode = rng.choice(
        ["mixed", "mixed_even", "excitatory", "inhibitory", "zero", "tiny"]
        if extreme
        else ["mixed_even"]
    )
    if mode == "zero":
        return np.zeros(shape, dtype=np.int64)
    if mode == "tiny":
        w = rng.integers(-3, 4, shape)
    elif mode == "mixed":
        w = rng.integers(-256, 256, shape)
    elif mode == "mixed_even":
        w = 2 * rng.integers(-128, 128, shape)
    elif mode == "excitatory":
        w = rng.integers(0, 256, shape)
    else:
        w = rng.integers(-256, 1, shape)
    density = rng.choice([1.0, 0.5, 0.1]) if extreme else 1.0
    return (w * (rng.random(shape) < density)).astype(np.int64)


def random_neuron(rng: np.random.Generator, shape: tuple[int, ...], extreme: bool) -> dict:
    """CUBA parameters: decays and thresholds across their full ranges, biases at the limits."""

    def pick(edges: list[int], lo: int, hi: int) -> int:
        return int(rng.choice(edges)) if rng.random() < 0.5 else int(rng.integers(lo, hi + 1))

    du = pick([0, 4095], 0, DECAY_MAX) if extreme else int(rng.integers(0, DECAY_MAX + 1))
    dv = pick([0, 4095], 0, DECAY_MAX) if extreme else int(rng.integers(0, 1024))
    vth = pick([0, 1, VTH_MAX], 0, 2000) if extreme else int(rng.integers(50, 2000))
    bias = None
    if rng.random() < 0.7:
        lo, hi = (BIAS_MIN, BIAS_MAX) if extreme and rng.random() < 0.5 else (-64, 64)
        bias = rng.integers(lo, hi + 1, shape)
    return {"du": du, "dv": dv, "vth": vth, "bias": bias}


def _dense_layer(
    rng: np.random.Generator, i: int, n_in: int, n_out: int, extreme: bool, scale: bool = False
) -> LoihiLayer:
    weight = random_weight(rng, (n_out, n_in), extreme)
    extra = {"scale": float(rng.uniform(10, 300))} if scale else {}
    return LoihiLayer(
        kind="dense", shape=(n_out,), name=f"dense{i + 1}", weight=weight, **extra,
        **random_neuron(rng, (n_out,), extreme),
    )


def random_dense_net(rng: np.random.Generator, sizes: list[int], extreme: bool = True) -> LoihiNet:
    """A dense net ``sizes[0] -> sizes[1] -> ...``."""
    layers = [
        _dense_layer(rng, i, n_in, n_out, extreme, scale=True)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False))
    ]
    return LoihiNet(
        input=InputSpec(shape=(sizes[0],), encoding="rate", timesteps=8),
        layers=layers,
        source="random",
    )


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def random_conv_net(
    rng: np.random.Generator,
    in_shape: tuple[int, int, int] = (2, 8, 8),
    convs: list[tuple[int, int, int]] = ((4, 3, 2), (4, 3, 1)),
    dense: list[int] = (10,),
    extreme: bool = True,
) -> LoihiNet:
    """Convolutions ``(channels, kernel, stride)`` with padding k//2, then flatten and dense layers."""
    layers = []
    c, h, w = in_shape
    for i, (c_out, k, s) in enumerate(convs):
        groups = (
            int(rng.choice([g for g in (1, 2) if c % g == 0 and c_out % g == 0])) if extreme else 1
        )
        dil = int(rng.choice([1, 2])) if extreme and k > 1 else 1
        pad = (k // 2) * dil
        h, w = conv_out(h, k, s, pad, dil), conv_out(w, k, s, pad, dil)
        layers.append(
            LoihiLayer(
                kind="conv",
                shape=(c_out, h, w),
                name=f"conv{i + 1}",
                weight=random_weight(rng, (c_out, c // groups, k, k), extreme),
                stride=(s, s),
                padding=(pad, pad),
                dilation=(dil, dil),
                groups=groups,
                **random_neuron(rng, (c_out, h, w), extreme),
            )
        )
        c = c_out
    n_in = c * h * w
    if dense:
        layers.append(LoihiLayer(kind="flatten", shape=(n_in,), name="flatten"))
    for i, n_out in enumerate(dense):
        layers.append(_dense_layer(rng, i, n_in, n_out, extreme))
        n_in = n_out
    return LoihiNet(
        input=InputSpec(shape=in_shape, encoding="rate", timesteps=8),
        layers=layers,
        source="random",
    )


def random_inputs(
    rng: np.random.Generator, net: LoihiNet, samples: int, steps: int, rate: float | None = None
) -> np.ndarray:
    """Binary inputs [samples, steps, *input shape]; a high rate drives u past 2**23."""
    p = rate if rate is not None else float(rng.choice([0.05, 0.3, 0.9]))
    return (rng.random((samples, steps, *net.input.shape)) < p).astype(np.uint8)


def random_netx_neuron(rng: np.random.Generator, shape: tuple[int, ...]) -> dict:
    """The neuron parameters netx 0.6 accepts beyond snnx's own export: iDecay 0 (du = -1, a
    current that never decays) and vDecay 4096 often, LOIHI as often as CUBA, biases."""
    du = int(rng.choice([-1, -1, 0, 4095, int(rng.integers(0, DECAY_MAX + 1))]))
    dv = int(rng.choice([4096, 0, int(rng.integers(0, DECAY_MAX + 1))]))
    vth = int(rng.choice([int(rng.integers(0, 200)), int(rng.integers(0, 3000)), VTH_MAX]))
    bias = rng.integers(-80, 120, shape) if rng.random() < 0.6 else None
    return {"du": du, "dv": dv, "vth": vth, "bias": bias, "neuron": str(rng.choice(["CUBA", "LOIHI"]))}


def random_netx_net(rng: np.random.Generator, sizes: list[int], input_block: bool | None = None) -> LoihiNet:
    """A dense net as lava-dl's netx files hold them: maybe an Input block first (graded input
    into input neurons), iDecay 0 / vDecay 4096 / LOIHI neurons and biases, and maybe a readout
    without neurons (netx's integrator)."""
    layers = []
    block = bool(rng.random() < 0.5) if input_block is None else input_block
    if block:
        p = random_netx_neuron(rng, (sizes[0],))
        p["bias"] = None  # netx ignores an Input block's bias
        layers.append(LoihiLayer(kind="input", shape=(sizes[0],), name="input", **p))
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    for i, (n_in, n_out) in enumerate(pairs):
        weight = random_weight(rng, (n_out, n_in), extreme=True)
        if i == len(pairs) - 1 and rng.random() < 0.5:
            bias = rng.integers(-80, 120, (n_out,)) if rng.random() < 0.5 else None
            layers.append(LoihiLayer("dense", (n_out,), name=f"dense{i + 1}", weight=weight, bias=bias, neuron="none"))
        else:
            layers.append(LoihiLayer("dense", (n_out,), name=f"dense{i + 1}", weight=weight,
                                     **random_netx_neuron(rng, (n_out,))))
    return LoihiNet(input=InputSpec(shape=(sizes[0],), encoding="spikes", timesteps=0), layers=layers,
                    source="random netx")


def random_recurrent_net(
    rng: np.random.Generator, sizes: list[int], extreme: bool = True, busy: bool = True
) -> LoihiNet:
    """A dense net whose hidden layers (and, at random, the output) are netx ``dense_rec``.

    ``busy`` keeps thresholds low and feed-forward weights excitatory so that layers spike
    often, including past their window: that is when the recurrent state carries from one
    sample to the next (snnx.sim.fast, docs/design.md §12).
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layer = _dense_layer(rng, i, n_in, n_out, extreme)
        last = i == len(sizes) - 2
        if not last or rng.random() < 0.5:
            extra = {"weight_rec": random_weight(rng, (n_out, n_out), extreme)}
            if busy:
                extra.update(weight=np.minimum(np.abs(layer.weight), 255), vth=int(rng.integers(1, 60)))
            layer = LoihiLayer(**{**layer.__dict__, **extra})
        layers.append(layer)
    return LoihiNet(
        input=InputSpec(shape=(sizes[0],), encoding="rate", timesteps=8), layers=layers, source="random"
    )
