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


def _batches(model: SNN, data: ImageSet, data_cfg, seed: int, batch_size: int, device: torch.device | str,
             epoch: int, shard: tuple[int, int] = (0, 1)):
    """(index, output) of every ``shard[1]``-th batch from ``shard[0]``, each encoded with its own seed."""
    rank, world = shard
    for b, start in enumerate(range(0, len(data), batch_size)):
        if b % world != rank:
            continue
        idx = slice(start, start + batch_size)
        x = encode_config(data.floats(idx).to(device), data_cfg, batch_seed(seed, epoch, b))
        yield idx, x, model(x)


@torch.no_grad()
def evaluate(model: SNN, data: ImageSet, data_cfg, seed: int, batch_size: int = 500,
             device: torch.device | str = "cpu", epoch: int = -1) -> EvalResult:
    model.eval()
    preds, counts = [], []
    spikes = None
    for _, _, out in _batches(model, data, data_cfg, seed, batch_size, device, epoch):
        c = out.counts
        counts.append(c.cpu())
        preds.append(c.argmax(1).cpu())
        batch_spikes = np.array([s.sum().item() for s in out.spikes])
        spikes = batch_spikes if spikes is None else spikes + batch_spikes
    predictions = torch.cat(preds).numpy()
    steps = data_cfg.timesteps + model.latency
    neurons = np.array([int(np.prod(s.shape[2:])) for s in out.spikes])
    acc = float((predictions == data.labels.numpy()).mean())
    return EvalResult(acc, predictions, torch.cat(counts).numpy(), rates_of(spikes, len(data), steps, neurons))


@dataclass(frozen=True)
class EvalTotals:
    """Sums over a share of the test batches: what processes add up to the global figures."""

    correct: int
    samples: int
    spikes: tuple[float, ...]  # per layer
    neurons: tuple[int, ...]  # per layer (0 on a share without batches)
    synops: tuple[float, ...] = ()  # per layer, when asked (fan_outs given)


@torch.no_grad()
def evaluate_totals(model: SNN, data: ImageSet, data_cfg, seed: int, shard: tuple[int, int] = (0, 1),
                    batch_size: int = 500, device: torch.device | str = "cpu",
                    fan_outs: list[torch.Tensor] | None = None) -> EvalTotals:
    """Correct predictions and spike counts of the batches ``b % world == rank`` (``shard``);
    the same batches, seeds and spikes as :func:`evaluate`, so shards sum to its figures. With
    ``fan_outs`` (snnx.train.energy.fan_outs) also the synaptic ops per layer."""
    from snnx.train.energy import layer_counts

    model.eval()
    correct, samples = 0, 0
    spikes = np.zeros(model.latency)
    synops = np.zeros(model.latency)
    neurons = [0] * model.latency
    for idx, x, out in _batches(model, data, data_cfg, seed, batch_size, device, -1, shard):
        correct += int((out.counts.argmax(1).cpu() == data.labels[idx]).sum())
        n = out.counts.shape[0]
        samples += n
        spikes = spikes + np.array([s.sum().item() for s in out.spikes])
        neurons = [int(np.prod(s.shape[2:])) for s in out.spikes]
        if fan_outs is not None:
            synops = synops + np.array([float(c.synops) * n for c in layer_counts(x, out, fan_outs)])
    return EvalTotals(correct, samples, tuple(float(v) for v in spikes), tuple(neurons),
                      tuple(float(v) for v in synops) if fan_outs is not None else ())


def rates_of(spikes: np.ndarray, samples: int, steps: int, neurons: np.ndarray) -> list[float]:
    """Spikes per neuron per step, per layer (the figure :func:`evaluate` reports)."""
    return [float(r) for r in spikes / (samples * steps * neurons)]
