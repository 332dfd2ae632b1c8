"""Rebuild a torch SNN (snnx.train.models.SNN) from a NIR graph.

Used to prove that model.nir is a faithful description of the trained model: read it
back, rebuild, and get the same output spikes. snntorch's ``import_from_nir`` has known
faults for our graphs (docs/design.md §3.1), so this small builder goes through the same reader
the quantizer uses (:func:`snnx.export.from_nir.graph_to_float`) and sets each layer's
own threshold and decays (QAT rounds them per layer, which a ModelSpec cannot hold).
"""

from __future__ import annotations

import numpy as np
import torch

from snnx.errors import SnnxError
from snnx.export.from_nir import FloatNet, graph_to_float
from snnx.train.models import SNN, LayerSpec, ModelSpec


def _layer_spec(fl) -> LayerSpec:
    if fl.kind == "dense":
        return LayerSpec("dense", int(fl.out_shape[0]), flatten_before=fl.flatten_before,
                         recurrent=fl.weight_rec is not None)
    kh, kw = fl.weight.shape[2:]
    if kh != kw or fl.stride[0] != fl.stride[1] or fl.padding[0] != fl.padding[1] or fl.dilation != (1, 1) \
            or fl.groups != 1:
        raise SnnxError(f"layer {fl.name}: only square, undilated, ungrouped convolutions can be rebuilt in torch")
    return LayerSpec("conv", int(fl.out_shape[0]), kernel=int(kh), stride=fl.stride[0], padding=fl.padding[0])


def build_float_model(net: FloatNet) -> SNN:
    """A float (non-QAT) SNN computing exactly the FloatNet's equations, in eval mode."""
    first = net.layers[0]
    spec = ModelSpec(kind="nir", input_shape=tuple(net.input_shape), layers=[_layer_spec(fl) for fl in net.layers],
                     alpha=first.alpha, beta=first.beta, threshold=first.threshold, bias=True, qat=False)
    model = SNN(spec)
    with torch.no_grad():
        for layer, fl in zip(model.layers, net.layers, strict=True):
            if tuple(layer.out_shape) != tuple(fl.out_shape):
                raise SnnxError(f"layer {fl.name}: rebuilt shape {layer.out_shape} differs from the graph's {fl.out_shape}")
            layer.synapse.weight.copy_(torch.as_tensor(fl.weight, dtype=torch.float32))
            layer.synapse.bias.copy_(torch.as_tensor(_channel_bias(fl), dtype=torch.float32))
            if fl.weight_rec is not None:
                layer.rec.weight.copy_(torch.as_tensor(fl.weight_rec, dtype=torch.float32))
            layer.alpha, layer.beta, layer.threshold = float(fl.alpha), float(fl.beta), float(fl.threshold)
    return model.eval()


def _channel_bias(fl) -> np.ndarray:
    """SpikingLayer adds one bias per output channel to v; refuse per-pixel conv biases."""
    if fl.bias is None:
        return np.zeros(fl.out_shape[0])
    b = np.asarray(fl.bias).reshape(fl.out_shape[0], -1)
    if not np.all(b == b[:, :1]):
        raise SnnxError(f"layer {fl.name}: a bias that varies within a conv channel cannot be rebuilt in torch")
    return b[:, 0]


def build_from_nir(graph) -> SNN:
    """``graph`` (a nir.NIRGraph) as a runnable torch SNN."""
    return build_float_model(graph_to_float(graph))
