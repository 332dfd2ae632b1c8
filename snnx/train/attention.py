"""A spiking-ANN hybrid: multi-head self-attention over image patches between LIF layers.

Trainable and evaluated in float only. Attention multiplies activations with each other
(queries x keys), which no Loihi synapse can do, so ``snnx export`` refuses this model and
names the attention layer (see ``check_deployable``).

Per step: 28x28 image -> (28/p)^2 patches -> Linear embedding -> LIF spikes -> multi-head
attention over the patch tokens -> LIF -> mean over tokens -> Linear -> LIF output. Like the
other models, every synapse stage adds one step of delay and the model runs T + 3 steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from snnx.train.neurons import cuba_sequence, make_spike_fn
from snnx.train.output import SNNOutput

if TYPE_CHECKING:  # annotations only: models.build_model imports this module
    from snnx.train.models import ModelSpec


def _delay(cur: torch.Tensor, steps: int) -> torch.Tensor:
    pad = torch.zeros(steps - cur.shape[0], *cur.shape[1:], dtype=cur.dtype, device=cur.device)
    return torch.cat([pad[:1], cur, pad[1:]], dim=0)[:steps]


class AttentionSNN(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        c, h, w = spec.input_shape
        self.patch = int(spec.extra.get("patch", 7))
        embed = int(spec.extra.get("embed", 64))
        heads = int(spec.extra.get("heads", 4))
        self.tokens = (h // self.patch) * (w // self.patch)
        self.embed = nn.Linear(c * self.patch * self.patch, embed)
        self.pos = nn.Parameter(torch.zeros(self.tokens, embed))
        self.attention = nn.MultiheadAttention(embed, heads, batch_first=True)
        self.readout = nn.Linear(embed, spec.layers[-1].out)
        self.spike_fn = make_spike_fn(spec.surrogate, spec.surrogate_slope)
        self.latency = 3

    def _lif(self, cur: torch.Tensor, record_v: bool):
        return cuba_sequence(cur, self.spec.alpha, self.spec.beta, self.spec.threshold, 0.0, self.spike_fn, record_v)

    def forward(self, x: torch.Tensor, record_v: bool = False, hidden_spikes: bool = True) -> SNNOutput:
        """``hidden_spikes`` is :class:`~snnx.train.models.SNN`'s option; every layer's spikes are kept here."""
        t, b = x.shape[:2]
        steps = t + self.latency
        p = self.patch
        patches = F.unfold(x.reshape(t * b, *x.shape[2:]), kernel_size=p, stride=p).transpose(1, 2)
        cur = (self.embed(patches) + self.pos).reshape(t, b, self.tokens, -1)
        s1, v1 = self._lif(_delay(cur, steps), record_v)
        flat = s1.reshape(steps * b, self.tokens, -1)
        att, _ = self.attention(flat, flat, flat, need_weights=False)
        s2, v2 = self._lif(_delay(att.reshape(steps, b, self.tokens, -1)[:-1], steps), record_v)
        pooled = s2.mean(2)
        s3, v3 = self._lif(_delay(self.readout(pooled)[:-1], steps), record_v)
        return SNNOutput([s1, s2, s3], [v1, v2, v3] if record_v else None, self.latency)
