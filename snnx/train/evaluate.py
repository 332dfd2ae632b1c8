"""Float-model evaluation on a labelled image set: accuracy, predictions, spike rates.

Inputs are encoded batch by batch with a seed derived from (seed, batch index), so the
same images, seed and batch size always see the same spikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from snnx.data.datasets import ImageSet
from snnx.data.encoders import encode_config
from snnx.train.models import SNN


def batch_seed(seed: int, epoch: int, index: int) -> int:
    """Independent, reproducible seed for one batch's spike encoding."""
    return (seed * 1_000_003 + epoch * 10_007 + index) % (2**63 - 1)


@dataclass
class EvalResult:
    accuracy: float
    predictions: np.ndarray  # [N]
    counts: np.ndarray  # [N, classes] output spikes in the readout window
    spike_rates: list[float]  # per layer: spikes per neuron per step


@torch.no_grad()
def evaluate(model: SNN, data: ImageSet, data_cfg, seed: int, batch_size: int = 500,
             device: torch.device | str = "cpu", epoch: int = -1) -> EvalResult:
    model.eval()
    preds, counts = [], []
    spikes = None
    for b, start in enumerate(range(0, len(data), batch_size)):
        idx = slice(start, start + batch_size)
        x = encode_config(data.floats(idx).to(device), data_cfg, batch_seed(seed, epoch, b))
        out = model(x)
        c = out.counts
        counts.append(c.cpu())
        preds.append(c.argmax(1).cpu())
        batch_spikes = np.array([s.sum().item() for s in out.spikes])
        spikes = batch_spikes if spikes is None else spikes + batch_spikes
    predictions = torch.cat(preds).numpy()
    steps = data_cfg.timesteps + model.latency
    neurons = np.array([int(np.prod(s.shape[2:])) for s in out.spikes])
    rates = spikes / (len(data) * steps * neurons)
    acc = float((predictions == data.labels.numpy()).mean())
    return EvalResult(acc, predictions, torch.cat(counts).numpy(), [float(r) for r in rates])
