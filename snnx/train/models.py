"""Spiking models built from a plain-data spec, so checkpoints load with weights_only=True.

A model is a feed-forward stack of *spiking layers*: a synapse (dense or strided conv,
no pooling because netx has none) followed by a CUBA LIF population. Each synapse adds one
step of latency as in Lava (docs/design.md §5): with L synapse layers and T input steps the model
runs S = T + L steps and reads the output spikes of steps L+1..T+L. Layers are evaluated
one after the other over *all* steps: the synapse is one big matmul/conv over time and only
the neuron recurrence loops, which is the main reason training is fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from snnx import limits
from snnx.config import parse_conv
from snnx.errors import SnnxError
from snnx.loihi.grid import effective_alpha, effective_beta
from snnx.loihi.limits import BIAS_MAX, BIAS_MIN, VTH_MAX
from snnx.train.kernel import MAX_FED
from snnx.train.neurons import cuba_dense_sequence, cuba_sequence, cuba_step, make_spike_fn
from snnx.train.output import SNNOutput
from snnx.train.qat import fake_quantize_value, fake_quantize_weight


@dataclass
class LayerSpec:
    """One spiking layer: ``dense`` (out features) or ``conv`` (out channels, kernel, stride)."""

    kind: str
    out: int
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    flatten_before: bool = False
    skip: int = 0  # residual: 0 none; 1 identity from this layer's input; 2 from the previous layer's input
    recurrent: bool = False  # dense only: recurrent weights from the layer's spikes to itself (netx dense_rec)


@dataclass
class ModelSpec:
    """Everything needed to rebuild a model's architecture (stored in checkpoints)."""

    kind: str
    input_shape: tuple[int, ...]
    layers: list[LayerSpec]
    alpha: float = 0.0
    beta: float = 0.95
    threshold: float = 1.0
    bias: bool = True
    surrogate: str = "atan"
    surrogate_slope: float = 2.0
    qat: bool = False
    stochastic_output: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        d = dict(d)
        d["layers"] = [LayerSpec(**layer) for layer in d["layers"]]
        d["input_shape"] = tuple(d["input_shape"])
        return cls(**d)


def spec_from_config(model_cfg, input_shape: tuple[int, ...], num_classes: int, qat: bool) -> ModelSpec:
    """Architecture from the ``model`` config section."""
    n = model_cfg.neuron
    layers: list[LayerSpec] = []
    extra: dict = {}
    if model_cfg.kind == "conv":
        for ch, k, s in parse_conv(model_cfg.conv):
            layers.append(LayerSpec("conv", ch, kernel=k, stride=s, padding=k // 2))
    if model_cfg.kind == "attention":
        extra = {"patch": model_cfg.patch, "heads": model_cfg.heads,
                 "embed": model_cfg.hidden[0] if model_cfg.hidden else 64}
        layers = [LayerSpec("dense", num_classes)]
    else:
        hidden = list(model_cfg.hidden)
        if model_cfg.kind == "residual" and (len(hidden) < 2 or len(set(hidden[1:])) != 1 or hidden[1] != hidden[0]):
            raise SnnxError(f"model.kind=residual needs two or more equal hidden sizes (got {hidden}); "
                            "e.g. --set 'model.hidden=[128,128]'")
        for j, h in enumerate([*hidden, num_classes]):
            skip = 0
            if model_cfg.kind == "residual" and 1 <= j < len(hidden):
                skip = model_cfg.skip if (model_cfg.skip == 1 or j >= 2) else 0
            layers.append(LayerSpec("dense", h, flatten_before=j == 0, skip=skip,
                                    recurrent=bool(getattr(model_cfg, "recurrent", False)) and j < len(hidden)))
    if getattr(model_cfg, "recurrent", False) and (model_cfg.kind != "fc" or not model_cfg.hidden):
        raise SnnxError(f"model.recurrent=true needs model.kind=fc with hidden layers (got kind {model_cfg.kind!r}, "
                        f"hidden {list(model_cfg.hidden)}); e.g. --set model.kind=fc --set 'model.hidden=[256]'")
    spec = ModelSpec(
        kind=model_cfg.kind, input_shape=tuple(input_shape), layers=layers,
        alpha=n.alpha, beta=n.beta, threshold=n.threshold, bias=model_cfg.bias,
        surrogate=n.surrogate, surrogate_slope=n.surrogate_slope, qat=qat,
        stochastic_output=model_cfg.stochastic_output, extra=extra,
    )
    check_spec(spec)
    return spec


def layer_out_shape(spec: LayerSpec, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape of one layer (the one formula; SpikingLayer and the spec check use it)."""
    if spec.kind == "dense":
        return (spec.out,)
    _, h, w = in_shape
    ho = (h + 2 * spec.padding - spec.kernel) // spec.stride + 1
    wo = (w + 2 * spec.padding - spec.kernel) // spec.stride + 1
    return (spec.out, ho, wo)


def check_spec(spec: ModelSpec) -> None:
    """Refuse, before any tensor is allocated, a spec whose shapes are impossible or beyond
    :mod:`snnx.limits` (a checkpoint from an untrusted source, or a config that shrinks an
    image below one pixel)."""
    shape = tuple(spec.input_shape)
    if not 1 <= len(shape) <= 3 or not all(limits.is_count(s, 1, limits.MAX_LAYER_NEURONS) for s in shape):
        raise SnnxError(f"model input shape {shape} must be 1 to 3 sizes in [1, {limits.MAX_LAYER_NEURONS}]")
    if limits.prod(shape) > limits.MAX_LAYER_NEURONS:
        raise SnnxError(f"model input shape {shape} has more than {limits.MAX_LAYER_NEURONS} values")
    if not 1 <= len(spec.layers) <= limits.MAX_LAYERS:
        raise SnnxError(f"a model needs 1 to {limits.MAX_LAYERS} layers, got {len(spec.layers)}")
    if spec.kind == "attention":  # patches -> attention -> a dense readout (snnx.train.attention)
        extra = spec.extra
        patch, heads, embed = extra.get("patch", 7), extra.get("heads", 4), extra.get("embed", 64)
        ok = all(limits.is_count(v, 1, 4096) for v in (patch, heads, embed))
        if not ok or len(shape) != 3 or shape[1] % patch or shape[2] % patch or embed % heads:
            raise SnnxError(f"attention model: patch {patch!r} must divide the image {shape[1:]} and heads "
                            f"{heads!r} the embedding {embed!r}")
        if spec.layers[-1].kind != "dense" or spec.layers[-1].out > limits.MAX_LAYER_NEURONS:
            raise SnnxError("attention model: the readout must be one dense layer within the limits")
        return
    neurons = weights = 0
    for i, layer in enumerate(spec.layers, 1):
        if layer.kind == "dense":
            fan_in = limits.prod(shape) if layer.flatten_before else shape[-1]
            if len(shape) != 1 and not layer.flatten_before:
                raise SnnxError(f"layer {i} is dense on a {len(shape)}-d input {shape} without flatten_before")
            n_w = fan_in * layer.out
        elif layer.kind == "conv":
            if len(shape) != 3:
                raise SnnxError(f"layer {i} is a conv on a {len(shape)}-d input {shape}; conv needs (C, H, W)")
            if not (layer.out <= limits.MAX_CHANNELS and 1 <= layer.kernel <= limits.MAX_KERNEL
                    and 1 <= layer.stride <= limits.MAX_KERNEL and 0 <= layer.padding <= limits.MAX_KERNEL):
                raise SnnxError(f"layer {i}: conv with {layer.out} channels, kernel {layer.kernel}, stride "
                                f"{layer.stride}, padding {layer.padding} is outside the limits (channels <= "
                                f"{limits.MAX_CHANNELS}, kernel and stride in [1, {limits.MAX_KERNEL}])")
            n_w = shape[0] * layer.out * layer.kernel**2
        else:
            raise SnnxError(f"layer {i} has unknown kind {layer.kind!r} (dense or conv)")
        out = layer_out_shape(layer, shape)
        if min(out) < 1:
            raise SnnxError(f"layer {i} ({layer.kind}, kernel {layer.kernel}, stride {layer.stride}) shrinks its "
                            f"input {shape} to {out}; use a smaller kernel or stride")
        n = limits.prod(out)
        if n > limits.MAX_LAYER_NEURONS or n_w > limits.MAX_LAYER_WEIGHTS:
            raise SnnxError(f"layer {i} has {n:,} neurons and {n_w:,} weights; the limits are "
                            f"{limits.MAX_LAYER_NEURONS:,} and {limits.MAX_LAYER_WEIGHTS:,} (docs/limits.md)")
        if layer.recurrent and (layer.kind != "dense" or layer.skip):
            raise SnnxError(f"layer {i} is recurrent: only plain dense layers can be (netx dense_rec)")
        if layer.recurrent:
            n_w += layer.out * layer.out
        if layer.skip and out != shape:
            raise SnnxError(f"a residual layer needs equal input and output sizes, got {shape} -> {out}")
        neurons, weights, shape = neurons + n, weights + n_w, out
    if neurons > limits.MAX_TOTAL_NEURONS or weights > limits.MAX_TOTAL_WEIGHTS:
        raise SnnxError(f"the model has {neurons:,} neurons and {weights:,} weights; the limits are "
                        f"{limits.MAX_TOTAL_NEURONS:,} and {limits.MAX_TOTAL_WEIGHTS:,} (docs/limits.md)")


def check_deployable(spec: ModelSpec) -> None:
    """Refuse, with the reason, a model that Loihi/netx cannot run (called by the exporter).

    A one-layer residual (skip=1) is a sum Loihi does natively: the identity is merged into
    the layer's weight (W + I) and the layer stays a plain Dense. A skip over two layers would
    need a second input path with its own delay, which netx's sequential format cannot hold.
    """
    if spec.kind == "attention":
        raise SnnxError("layer 'attention' (torch.nn.MultiheadAttention over image patches) cannot run on Loihi: "
                        "it multiplies activations with each other; export an fc, conv or residual model instead")
    for i, layer in enumerate(spec.layers):
        if layer.skip == 2:
            raise SnnxError(f"layer {i + 1} has a residual skip over two layers, which needs a delayed second input "
                            "path that netx cannot express; use model.skip=1 (merged into the weight) to deploy")


@dataclass
class LayerParams:
    """The parameters a spiking layer actually computes with (after QAT rounding)."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    threshold: torch.Tensor | float
    alpha: float
    beta: float
    weight_rec: torch.Tensor | None = None  # recurrent (out, out), same scale as weight (netx's joint exponent)


class SpikingLayer(nn.Module):
    """Synapse (dense or conv, bias kept apart as Loihi adds it to v) + CUBA LIF."""

    def __init__(self, spec: LayerSpec, in_shape: tuple[int, ...], model: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.in_shape = tuple(in_shape)
        self.qat = model.qat
        self.alpha, self.beta, self.threshold = model.alpha, model.beta, model.threshold
        if spec.kind == "dense":
            fan_in = int(torch.tensor(in_shape).prod()) if spec.flatten_before else in_shape[-1]
            self.synapse: nn.Module = nn.Linear(fan_in, spec.out, bias=model.bias)
            self.out_shape: tuple[int, ...] = layer_out_shape(spec, in_shape)
        elif spec.kind == "conv":
            self.synapse = nn.Conv2d(in_shape[0], spec.out, spec.kernel, spec.stride, spec.padding, bias=model.bias)
            self.out_shape = layer_out_shape(spec, in_shape)
        else:
            raise SnnxError(f"unknown layer kind {spec.kind!r}")
        # recurrent synapse, no bias; initialised small so that a fresh network is not driven by itself
        self.rec: nn.Linear | None = None
        if spec.recurrent:
            self.rec = nn.Linear(spec.out, spec.out, bias=False)
            nn.init.orthogonal_(self.rec.weight, gain=0.5)
        if spec.skip and tuple(in_shape) != self.out_shape:
            raise SnnxError(f"a residual layer needs equal input and output sizes, got {in_shape} -> {self.out_shape}")
        self.spike_fn = make_spike_fn(model.surrogate, model.surrogate_slope)
        self.stochastic = False  # set on the output layer by SNN when spec.stochastic_output

    def params(self) -> LayerParams:
        """Weights, bias, threshold and decays as deployed: fake-quantized under QAT.

        A one-layer residual (skip == 1) is folded in here as W + I, so the model that is
        trained, exported and simulated is literally one Dense layer.
        """
        w, b = self.synapse.weight, self.synapse.bias
        if self.spec.skip == 1:
            w = w + torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
        w_rec = None if self.rec is None else self.rec.weight
        if not self.qat:
            return LayerParams(w, b, self.threshold, self.alpha, self.beta, w_rec)
        if w_rec is not None:  # one scale for both: they add into the same current (netx: one exponent)
            both, scale = fake_quantize_weight(torch.cat([w, w_rec], dim=1))
            w_q, w_rec = both[:, : w.shape[1]], both[:, w.shape[1]:]
        else:
            w_q, scale = fake_quantize_weight(w)
        b_q = None if b is None else fake_quantize_value(b, scale, BIAS_MIN, BIAS_MAX)
        th = fake_quantize_value(torch.tensor(self.threshold, device=w.device), scale, 1, VTH_MAX)
        return LayerParams(w_q, b_q, th, effective_alpha(self.alpha), effective_beta(self.beta), w_rec)

    def synapse_current(self, x: torch.Tensor, p: LayerParams, steps: int, hold: int = 0,
                        expand: bool = True) -> torch.Tensor:
        """W·x for the steps the neuron runs, ``hold`` .. ``steps`` - 1, with one step of delay.

        Step t receives W·x[t-1] (Lava's synapse latency; step 0 gets zero). The result may be
        shorter than ``steps`` - ``hold``: steps after the input has ended get no current. A time
        axis with stride 0 (a direct-encoded image repeated every step) is multiplied once; with
        ``expand=False`` (and ``hold`` > 0) that one step is returned as [1, ...], see
        :meth:`constant_steps`.
        """
        lead = 1 if hold == 0 else 0  # the delay slot of step 0
        first = max(hold - 1, 0)
        src = x[first : steps - 1]
        constant = src.stride(0) == 0 and src.shape[0] > 1
        one = src[:1] if constant else src
        # training: multiply all of x (a step or two more) and slice the small product, so that the
        # gradient of x is the matmul's own output instead of a zero-filled copy per slice
        whole = not constant and x.requires_grad and x.is_contiguous() and 0 < x.shape[0] - src.shape[0] <= 2
        if whole:
            one = x
        t_in, batch = one.shape[:2]
        flat = one.reshape(t_in * batch, *one.shape[2:])
        if self.spec.flatten_before:
            flat = flat.reshape(t_in * batch, -1)
        if self.spec.kind == "dense":
            cur = dense(flat, p.weight)
        else:
            cur = F.conv2d(flat, p.weight, None, self.spec.stride, self.spec.padding)
        cur = cur.reshape(t_in, batch, *cur.shape[1:])
        if whole:
            cur = cur[first : first + src.shape[0]]
        if constant and (expand or lead):
            cur = cur.expand(src.shape[0], *cur.shape[1:])
        if lead:
            cur = torch.cat([torch.zeros_like(cur[:1]), cur], dim=0)
        return cur

    @staticmethod
    def constant_steps(x: torch.Tensor, steps: int, hold: int) -> int:
        """How many steps receive one repeated current (x has a stride-0 time axis), else 0."""
        src = x[max(hold - 1, 0) : steps - 1]
        return src.shape[0] if hold > 0 and src.stride(0) == 0 and src.shape[0] > 1 else 0

    def forward(self, x: torch.Tensor, steps: int, record_v: bool = False,
                extra: torch.Tensor | None = None, hold: int = 0, current: torch.Tensor | None = None,
                feeds: SpikingLayer | None = None, keep_spikes: bool = True
                ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Spikes (and membranes) of this layer over ``steps`` steps for input ``x``, and the
        synapse current of the layer ``feeds`` (the next one) when the kernel formed it.

        ``extra`` is an additional (already delayed, ``steps`` long) input current, e.g. a
        two-layer skip. ``hold``: the first ``hold`` steps are held at zero state, no bias and
        no spikes. Lava's netx resets layer l when a sample's first input reaches it (step
        l + 1), so a bias integrated before that is lost on the chip; holding makes float and
        fixed point agree. ``current``: this layer's synapse current W·x, formed by the previous
        layer's kernel (then ``x`` is not multiplied again). ``feeds``: the next layer; when it is
        a small dense synapse the compiled kernel forms its current from this layer's spikes
        (:func:`~snnx.train.neurons.cuba_dense_sequence`) and returns it third, else None; then
        without ``keep_spikes`` this layer's spikes are not stored (None).
        """
        p = self.params()
        hold = min(hold, steps)
        if current is not None:
            repeat, cur = 0, current
        else:
            repeat = self.constant_steps(x, steps, hold) if extra is None else 0
            cur = self.synapse_current(x, p, steps, hold, expand=not repeat)
        if extra is not None:  # steps - hold long, cur possibly shorter: pad cur with zeros
            extra = extra[hold:]
            cur = extra + torch.cat([cur, cur.new_zeros(extra.shape[0] - cur.shape[0], *cur.shape[1:])])
        bias = 0.0 if p.bias is None else p.bias.view(-1, *([1] * (cur.dim() - 3)))
        stochastic = self.stochastic and self.training
        spike_fn = stochastic_spike if stochastic else self.spike_fn
        if p.weight_rec is not None:
            return *recurrent_sequence(cur, p, bias, spike_fn, steps - hold, hold, record_v), None
        if feeds is not None and not (record_v or stochastic) and feeds.fed_by_kernel():
            fed = cuba_dense_sequence(cur, p.alpha, p.beta, p.threshold, bias, spike_fn, feeds.params().weight,
                                      steps - hold, hold, repeat, keep_spikes)
            if fed is not None:
                return fed[0], None, fed[1]
        return *cuba_sequence(cur, p.alpha, p.beta, p.threshold, bias, spike_fn, record_v,
                              fused=not stochastic, steps=steps - hold, hold=hold, repeat=repeat), None

    def fed_by_kernel(self) -> bool:
        """Whether the previous layer's kernel may form this layer's synapse current: a plain dense
        synapse (no recurrence, no two-layer skip) with few outputs."""
        return self.spec.kind == "dense" and self.rec is None and self.spec.skip != 2 and self.spec.out <= MAX_FED


class _Dense(torch.autograd.Function):
    """``F.linear`` without bias, for the tall inputs of a layer over all steps ([T*B, in]).

    Same products, arranged for BLAS: with few outputs (a readout of 10 over 1000 inputs) MKL's
    ``x @ W.T`` and ``g @ W`` kernels for the skinny shapes are 2x slower than ``W @ x.T``, and
    the gradient is formed contiguous. Values equal F.linear's up to float summation order.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return torch.mm(w, x.t()).t()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, w = ctx.saved_tensors
        g_x = torch.mm(g, w) if ctx.needs_input_grad[0] else None
        g_w = torch.mm(g.t(), x) if ctx.needs_input_grad[1] else None
        return g_x, g_w


def dense(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x [rows, in] @ w.T: :class:`_Dense` for many rows and few outputs, else F.linear."""
    if x.device.type == "cpu" and x.dim() == 2 and w.shape[0] * 8 <= w.shape[1] and x.shape[0] >= 1024:
        return _Dense.apply(x, w)
    return F.linear(x, w)


def recurrent_sequence(cur: torch.Tensor, p: LayerParams, bias: torch.Tensor | float, spike_fn,
                       steps: int, hold: int, record_v: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The CUBA LIF with its own spikes fed back, Loihi timing: step t gets W·x[t-1] + W_rec·s[t-1].

    Plain autograd through :func:`snnx.train.neurons.cuba_step` (the one float step): the fused
    BPTT of :class:`~snnx.train.neurons.CubaBPTT` needs the whole input current before the
    recurrence runs, which a recurrent layer does not have (its current depends on its spikes).
    The first running step gets no recurrent input: the layer was at rest (held) before.
    """
    if cur.shape[0] < steps:
        cur = torch.cat([cur, cur.new_zeros(steps - cur.shape[0], *cur.shape[1:])])
    zero = torch.zeros_like(cur[0])
    i, v, s = zero, zero, None
    spikes, volts = [zero] * hold, [zero] * hold
    for x_t in cur[:steps].unbind(0):
        if s is not None:
            x_t = x_t + F.linear(s, p.weight_rec)
        if record_v:
            i = p.alpha * i + x_t
            v_pre = p.beta * v + i + bias
            s = spike_fn(v_pre - p.threshold)
            v = v_pre * (1.0 - s.detach())
            volts.append(v_pre)
        else:
            s, i, v = cuba_step(x_t, i, v, p.alpha, p.beta, p.threshold, bias, spike_fn)
        spikes.append(s)
    return torch.stack(spikes), (torch.stack(volts) if record_v else None)


class _StochasticSpike(torch.autograd.Function):
    """Probabilistic spike: P(spike) = sigmoid(4 (v - theta)); gradient of that probability."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(4.0 * x)
        ctx.save_for_backward(p)
        return torch.bernoulli(p)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (p,) = ctx.saved_tensors
        return grad * 4.0 * p * (1 - p)


def stochastic_spike(x: torch.Tensor) -> torch.Tensor:
    """Used for the output layer during training when model.stochastic_output is on; evaluation
    and deployment keep the deterministic threshold, so the chip's behaviour is unchanged."""
    return _StochasticSpike.apply(x)


class SNN(nn.Module):
    """A feed-forward spiking network of SpikingLayers."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        layers, shape = [], tuple(spec.input_shape)
        for layer_spec in spec.layers:
            layer = SpikingLayer(layer_spec, shape, spec)
            layers.append(layer)
            shape = layer.out_shape
        layers[-1].stochastic = spec.stochastic_output
        self.layers = nn.ModuleList(layers)

    @property
    def latency(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor, record_v: bool = False, hidden_spikes: bool = True) -> SNNOutput:
        """``x``: encoded input [T, B, *input_shape]; runs T + L steps.

        ``hidden_spikes=False``: the spikes of a hidden layer whose kernel fed the next layer directly
        are not stored (None in the output): a loss on the output spikes alone does not need them.

        Layer i (0-based) is held at zero for steps 1..i+1, until the sample's first input
        reaches it, exactly as the deployed network on Lava/Loihi runs (docs/design.md §5, §6.5).
        """
        if tuple(x.shape[2:]) != tuple(self.spec.input_shape):
            raise SnnxError(f"input shape {tuple(x.shape[2:])} does not match the model's {self.spec.input_shape}")
        steps = x.shape[0] + self.latency
        h, spikes, membranes, inputs = x, [], [], []
        current = None  # the next layer's synapse current, when the kernel formed it
        for i, layer in enumerate(self.layers):
            inputs.append(h)
            extra = None
            if layer.spec.skip == 2:
                src = inputs[i - 1]
                extra = torch.cat([torch.zeros_like(src[:1]), src[: steps - 1]], dim=0)
            feeds = self.layers[i + 1] if i + 1 < len(self.layers) else None
            # a two-layer skip into layer i + 2 reads these spikes
            keep = hidden_spikes or (i + 2 < len(self.layers) and self.layers[i + 2].spec.skip == 2)
            h, v, current = layer(h, steps, record_v, extra, hold=i + 1, current=current, feeds=feeds, keep_spikes=keep)
            spikes.append(h)
            membranes.append(v)
        return SNNOutput(spikes, membranes if record_v else None, self.latency)


def build_model(spec: ModelSpec) -> nn.Module:
    if spec.kind == "attention":
        from snnx.train.attention import AttentionSNN

        return AttentionSNN(spec)
    return SNN(spec)
