"""Loihi's fixed-point grid, shared by quantization-aware training and the exporter.

Both sides must put numbers on exactly the same grid, or "lossless export" is a lie, so
the grid lives here once (docs/design.md §4):

* weights: integers on Lava's 8-bit grid. Lava's Dense floors mixed-sign odd weights to
  even ones, so mixed-sign layers use even integers in [-256, 254]; single-sign layers
  may use every integer in [0, 255] or [-256, 0].
* threshold ``vth = round(theta * k)``, at most 17 bits (compared as ``v > vth << 6``).
* bias in weight units ``round(b * k)`` within [-4096, 4095] (netx writes bias_exp = 6).
* decays ``du = round((1 - alpha) * 4096) - 1`` and ``dv = round((1 - beta) * 4096)``,
  12 bits each.
"""

from __future__ import annotations

import numpy as np

from snnx.loihi.limits import DECAY_MAX, WEIGHT_MAX, WEIGHT_MIN


def weight_scale(max_abs: float) -> float:
    """Integer weight units per float unit so that the largest weight maps to 254."""
    return WEIGHT_MAX / max_abs if max_abs > 0 else 1.0


def quantize_decay_current(alpha: float) -> int:
    """Loihi ``du`` for a float current decay ``alpha`` (current keeps alpha per step)."""
    return int(min(max(round((1.0 - alpha) * 4096) - 1, 0), DECAY_MAX))


def quantize_decay_voltage(beta: float) -> int:
    """Loihi ``dv`` for a float membrane decay ``beta``."""
    return int(min(max(round((1.0 - beta) * 4096), 0), DECAY_MAX))


def effective_alpha(alpha: float) -> float:
    """The current decay Loihi actually applies after 12-bit quantization."""
    return 1.0 - (quantize_decay_current(alpha) + 1) / 4096.0


def effective_beta(beta: float) -> float:
    return 1.0 - quantize_decay_voltage(beta) / 4096.0


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round half away from zero (numpy's round is half-to-even; torch QAT uses the same rule)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def weights_to_int(w: np.ndarray, scale: float) -> np.ndarray:
    """Float weights to Lava's 8-bit integer grid (even integers for mixed-sign layers)."""
    w = np.asarray(w, dtype=np.float64) * scale
    if (w >= 0).all():
        return np.clip(round_half_away(w), 0, 255).astype(np.int64)
    if (w <= 0).all():
        return np.clip(round_half_away(w), -256, 0).astype(np.int64)
    return (2 * np.clip(round_half_away(w / 2), WEIGHT_MIN // 2, WEIGHT_MAX // 2)).astype(np.int64)
