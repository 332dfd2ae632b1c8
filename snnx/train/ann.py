"""The same architecture as a conventional ANN (ReLU), for the SNN-vs-ANN comparison.

Built from the SNN's ModelSpec so the two differ only in the neuron: ReLU on analog
activations instead of LIF spikes over time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnx.data.datasets import ImageSet
from snnx.train.evaluate import batch_seed
from snnx.train.models import ModelSpec, SpikingLayer


class ANN(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        layers, shape = [], tuple(spec.input_shape)
        for layer_spec in spec.layers:
            layer = SpikingLayer(layer_spec, shape, spec)  # reused for shapes and synapse modules only
            layers.append(layer)
            shape = layer.out_shape
        self.synapses = nn.ModuleList(layer.synapse for layer in layers)
        self.flatten = [ly.flatten_before for ly in spec.layers]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the hidden activations (for sparsity)."""
        acts = []
        for i, (syn, flat) in enumerate(zip(self.synapses, self.flatten, strict=True)):
            if flat:
                x = x.flatten(1)
            x = syn(x)
            if i < len(self.synapses) - 1:
                x = F.relu(x)
                acts.append(x)
        return x, acts


def macs_per_inference(spec: ModelSpec) -> int:
    """Multiply-accumulates of one forward pass: out neurons x fan-in, summed over layers."""
    total, shape = 0, tuple(spec.input_shape)
    for layer_spec in spec.layers:
        layer = SpikingLayer(layer_spec, shape, spec)
        w = layer.synapse.weight
        fan_in = int(np.prod(w.shape[1:]))
        total += int(np.prod(layer.out_shape)) * fan_in
        shape = layer.out_shape
    return total


@dataclass
class AnnResult:
    accuracy: float
    sparsity: float  # fraction of hidden ReLU outputs that are exactly zero
    parameters: int
    macs: int
    seconds: float


def train_ann(spec: ModelSpec, train: ImageSet, test: ImageSet, epochs: int, lr: float, batch_size: int,
              seed: int) -> AnnResult:
    torch.manual_seed(seed)
    model = ANN(spec)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = max(1, epochs * (-(-len(train) // batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(batch_seed(seed, epoch, -1)))
        for start in range(0, len(train), batch_size):
            idx = order[start:start + batch_size]
            logits, _ = model(train.floats(idx))
            loss = F.cross_entropy(logits, train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    correct, zeros, total = 0, 0, 0
    with torch.no_grad():
        for start in range(0, len(test), 1000):
            idx = slice(start, start + 1000)
            logits, acts = model(test.floats(idx))
            correct += int((logits.argmax(1) == test.labels[idx]).sum())
            zeros += sum(int((a == 0).sum()) for a in acts)
            total += sum(a.numel() for a in acts)
    return AnnResult(correct / len(test), zeros / max(total, 1), sum(p.numel() for p in model.parameters()),
                     macs_per_inference(spec), time.perf_counter() - t0)
