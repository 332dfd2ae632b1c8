"""What every spiking model returns: per-layer spikes over all T + L steps.

Its own module so that the models (:mod:`snnx.train.models`, :mod:`snnx.train.attention`) and
the losses share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SNNOutput:
    """Spikes (and membranes, if recorded) of every layer over all S = T + L steps; a hidden layer's
    spikes are None where the model was asked not to keep them (``hidden_spikes=False``)."""

    spikes: list[torch.Tensor | None]
    membranes: list[torch.Tensor] | None
    latency: int  # L

    @property
    def readout(self) -> torch.Tensor:
        """Output spikes of the readout window (steps L+1..T+L): [T, B, classes]."""
        return self.spikes[-1][self.latency :]

    @property
    def counts(self) -> torch.Tensor:
        return self.readout.sum(0)
