"""Quantization-aware training: torch views of Loihi's fixed-point grid (docs/design.md §4).

The grid itself (ranges, rounding rule) is :mod:`snnx.loihi.grid`; these functions put
training tensors on exactly that grid, with straight-through gradients.
"""

from __future__ import annotations

import torch

from snnx.loihi.limits import WEIGHT_MAX, WEIGHT_MIN


class _RoundSTE(torch.autograd.Function):
    """Round half away from zero forward, identity backward (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D401
        return torch.sign(x) * torch.floor(x.abs() + 0.5)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def round_ste(x: torch.Tensor) -> torch.Tensor:
    return _RoundSTE.apply(x)


def fake_quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """QAT view of a weight tensor on the mixed-sign even grid; returns (w_q, scale).

    The scale is max-abs (detached), the same rule the exporter uses by default, and the
    even grid is used whatever the signs, since it is a subset of every Lava grid.
    """
    scale = WEIGHT_MAX / w.detach().abs().max().clamp_min(1e-12)
    w_int = 2 * round_ste(w * scale / 2).clamp(WEIGHT_MIN // 2, WEIGHT_MAX // 2)
    return w_int / scale, scale


def fake_quantize_value(x: torch.Tensor, scale: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Round ``x * scale`` to an integer in [lo, hi] and divide back (bias, threshold)."""
    return round_ste(x * scale).clamp(lo, hi) / scale
