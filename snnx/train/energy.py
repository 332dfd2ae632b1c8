"""Training that prices the chip: the deployed network's energy per inference, differentiable.

From one batch's spike tensors (the surrogate spikes of the float model) the same counts as
``snnx sim``'s activity (snnx.sim.activity) and the energy report's formula
(:func:`snnx.loihi.energy_profile.dynamic_parts_pJ`, one definition, the profile's constants), per
sample and layer:

- input spikes: nonzero events reaching the layer's synapses over all T + L steps (the encoded
  input for the first layer, a graded value counting once where nonzero);
- synaptic ops: events x fan-out of the source neuron, fan-out = nonzero weights on the export
  grid (snnx.loihi.accounting.fan_out on the layer quantized as the exporter does, max-abs scale);
- spikes; neuron updates = neurons x (T + L).

The loss term ``train.energy_weight * E`` has E in microjoules, so the weight reads "accuracy
loss I trade for one uJ". Its gradient flows through the spikes of every layer (they set the
next layer's synaptic ops and their own spike and update energy) and, straight through, through
the fan-outs of dense layers (see :func:`fan_outs`: weights leaving busy inputs are pruned); the
first layer's input events are constants of a batch. E is the dynamic energy: static energy (leakage per
core x time, a few percent) depends on the core map and is not trained. docs/design.md §13.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from snnx.errors import SnnxError
from snnx.loihi.accounting import fan_out
from snnx.loihi.energy_profile import EnergyProfile, dynamic_parts_pJ, load_profile
from snnx.loihi.net import LoihiLayer
from snnx.train.output import SNNOutput
from snnx.train.qat import fake_quantize_weight


@dataclass(frozen=True)
class LayerCounts:
    """Per-sample counts of one layer (tensors: differentiable where the spikes are)."""

    input_spikes: torch.Tensor
    synops: torch.Tensor
    spikes: torch.Tensor
    neuron_updates: float


def _int_weight(w: torch.Tensor) -> np.ndarray:
    """The exporter's integer weights: QAT's grid (max-abs scale, even integers), which maps an
    already fake-quantized weight onto itself."""
    with torch.no_grad():
        w_q, scale = fake_quantize_weight(w.detach().float())
        return torch.round(w_q * scale).to(torch.int64).cpu().numpy()


def fan_outs(model, trainable: bool = False) -> list[torch.Tensor]:
    """Per synapse layer: nonzero synapses leaving each input neuron (flat, float), as deployed.

    ``trainable``: for dense layers the value stays the exact count, but its gradient is that of
    sum_j |W_int[j, i]| / mean |nonzero W_int| (straight through), so the energy term also prunes:
    it pushes the weights leaving busy inputs towards zero, in proportion to their events.
    """
    out = []
    for layer in model.layers:
        p = layer.params()
        spec = layer.spec
        if spec.kind == "dense" and layer.qat:
            out.append(_dense_qat_fan_out(p.weight, trainable))
            continue
        w = _int_weight(p.weight)
        if spec.kind == "dense":
            loihi = LoihiLayer("dense", layer.out_shape, weight=w)
        else:
            loihi = LoihiLayer("conv", layer.out_shape, weight=w, stride=(spec.stride, spec.stride),
                               padding=(spec.padding, spec.padding))
        fo = fan_out(loihi, layer.in_shape).reshape(-1)
        fo_t = torch.as_tensor(fo, dtype=torch.float32, device=layer.synapse.weight.device)
        if trainable and spec.kind == "dense" and p.weight.requires_grad:
            w_q, scale = fake_quantize_weight(p.weight)
            mag = (w_q * scale).abs()
            mean_nz = mag.detach().sum() / max(int(np.count_nonzero(w)), 1)
            proxy = mag.sum(dim=0) / mean_nz
            fo_t = fo_t + (proxy - proxy.detach())
        out.append(fo_t)
    return out


def _dense_qat_fan_out(w_q: torch.Tensor, trainable: bool) -> torch.Tensor:
    """:func:`fan_outs` of a QAT dense layer from its fake-quantized weight (already on the export
    grid, so W_int = 0 exactly where w_q = 0): no second quantization, no numpy round trip. The
    proxy sum_j |W_int[j, i]| / mean |nonzero W_int| is scale-free, so |w_q| gives it (same value
    and gradient as quantizing again: w_q maps onto itself, the rounding is straight through)."""
    nz = w_q.detach() != 0
    fo_t = nz.sum(dim=0).to(torch.float32)
    if trainable and w_q.requires_grad:
        mag = w_q.abs()
        mean_nz = mag.detach().sum() / nz.sum().clamp_min(1)
        proxy = mag.sum(dim=0) / mean_nz
        fo_t = fo_t + (proxy - proxy.detach()).to(torch.float32)
    return fo_t


def layer_counts(x: torch.Tensor, out: SNNOutput, fos: list[torch.Tensor]) -> list[LayerCounts]:
    """Counts per sample from the encoded input x [T, B, ...] and every layer's spikes [S, B, ...]."""
    batch = x.shape[1]
    sources = [(x != 0).to(x.dtype), *out.spikes[:-1]]
    counts = []
    for src, spikes, fo in zip(sources, out.spikes, fos, strict=True):
        events = src.reshape(-1, batch, fo.numel()).sum(dim=(0, 1))  # per source neuron, over steps and batch
        neurons = int(np.prod(spikes.shape[2:]))
        counts.append(LayerCounts(events.sum() / batch, events @ fo / batch, spikes.sum() / batch,
                                  float(neurons * spikes.shape[0])))
    return counts


def per_sample_counts(synops: np.ndarray, spikes: np.ndarray, neurons: np.ndarray, samples: int,
                      steps: int) -> list[LayerCounts]:
    """Counts per sample from sums over ``samples`` (an evaluation over a test set)."""
    n = max(samples, 1)
    return [LayerCounts(torch.tensor(0.0), torch.tensor(s / n), torch.tensor(k / n), float(m * steps))
            for s, k, m in zip(synops, spikes, neurons, strict=True)]


def energy_uJ(counts: list[LayerCounts], profile: EnergyProfile) -> torch.Tensor:
    """Dynamic energy per inference (uJ) of these counts under the profile."""
    total = 0.0
    for c in counts:
        parts = dynamic_parts_pJ(c.synops, c.spikes, c.neuron_updates, profile)
        total = total + parts["synops"] + parts["neuron_updates"] + parts["spikes"]
    return total * 1e-6


def rates(counts: list[LayerCounts]) -> list[torch.Tensor]:
    """Spikes per neuron per step, per layer (metrics.csv's rate_layer figures)."""
    return [c.spikes / c.neuron_updates for c in counts]


class ChipObjective:
    """The optional loss terms of ``train``: energy (uJ, weighted) and firing-rate targets."""

    def __init__(self, train_cfg, profile_name: str) -> None:
        self.energy_weight = float(train_cfg.energy_weight)
        self.rate_targets = list(train_cfg.rate_targets)
        self.rate_weight = float(train_cfg.rate_weight)
        self.profile = load_profile(profile_name) if self.energy_weight > 0 else None

    @property
    def active(self) -> bool:
        return self.energy_weight > 0 or bool(self.rate_targets)

    def __call__(self, model, x: torch.Tensor, out: SNNOutput) -> torch.Tensor:
        if not hasattr(model, "layers"):
            raise SnnxError("train.energy_weight and train.rate_targets price a deployable model; "
                            "use model.kind fc, conv or residual")
        counts = layer_counts(x, out, fan_outs(model, trainable=self.energy_weight > 0))
        loss = x.new_zeros(())
        if self.energy_weight > 0:
            loss = loss + self.energy_weight * energy_uJ(counts, self.profile)
        for r, target in zip(rates(counts), self.rate_targets, strict=False):
            loss = loss + self.rate_weight * (r - target) ** 2
        return loss
