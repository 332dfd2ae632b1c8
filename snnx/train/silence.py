"""A silent end for recurrent layers, so that a deployed stream of samples leaks nothing.

netx's reset between streamed samples zeroes u and v but not a ``dense_rec`` layer's recurrent
synapse: the spikes of its last step enter the next sample's first step (docs/design.md §12).
A layer that is silent on that step makes every sample of the stream start from the same state
as a sample run alone, bit for bit. Its last steps carry no information to the readout (the
readout's last counted step takes the hidden spikes of the step before), so the term only asks
the dynamics to die out with the sequence instead of settling into a self-sustained attractor.

``train.silence_weight`` x the firing rate (spikes per neuron and step) of every recurrent layer on
its last ``train.silence_steps`` steps (surrogate spikes, so the gradient also pushes membranes that are
close to the threshold below it: a margin for the fixed point). Layer i (0-based) of the chip
runs i steps past the float model's window before its reset; for the first layer, the usual
recurrent layer, the last float step is exactly the step that leaks.
"""

from __future__ import annotations

import torch

from snnx.train.output import SNNOutput


def recurrent_layers(model) -> list[int]:
    """Indices of the layers with recurrent weights (none for a model without ``layers``)."""
    return [i for i, layer in enumerate(getattr(model, "layers", [])) if getattr(layer, "rec", None) is not None]


def last_step_rate(out: SNNOutput, layers: list[int], steps: int) -> torch.Tensor:
    """Spikes per neuron and step of ``layers`` on the last ``steps`` steps of the window, summed
    over the layers (a rate in [0, 1] per layer, so the weight does not depend on layer sizes)."""
    total = out.spikes[0].new_zeros(())
    for i in layers:
        total = total + out.spikes[i][-steps:].mean()
    return total


class SilenceObjective:
    """``train.silence_weight`` x :func:`last_step_rate` of the model's recurrent layers."""

    def __init__(self, train_cfg, model) -> None:
        self.weight = float(train_cfg.silence_weight)
        self.steps = int(train_cfg.silence_steps)
        self.layers = recurrent_layers(getattr(model, "module", model))

    @property
    def active(self) -> bool:
        return self.weight > 0 and bool(self.layers)

    def __call__(self, out: SNNOutput) -> torch.Tensor:
        return self.weight * last_step_rate(out, self.layers, self.steps)
