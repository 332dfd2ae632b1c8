"""Losses on the readout window of the output layer, from snntorch.functional."""

from __future__ import annotations

from collections.abc import Callable

import torch
from snntorch import functional as SF

from snnx.train.output import SNNOutput

LossFn = Callable[[SNNOutput, torch.Tensor], torch.Tensor]


def make_loss(name: str) -> tuple[LossFn, bool]:
    """Loss function and whether it needs membrane potentials recorded."""
    if name == "ce_count":
        ce = SF.ce_count_loss()
        return (lambda out, y: ce(out.readout, y)), False
    if name == "mse_count":
        mse = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
        return (lambda out, y: mse(out.readout, y)), False
    if name == "ce_membrane":
        cem = SF.ce_max_membrane_loss()
        return (lambda out, y: cem(out.membranes[-1][out.latency:], y)), True
    raise ValueError(f"unknown loss {name!r}")
