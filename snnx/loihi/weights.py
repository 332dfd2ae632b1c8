"""netx's weight-bit rules: what lava-dl 0.6 and Lava do to an integer dense weight matrix.

netx's ``optimize_weight_bits`` picks the weight exponent and the number of weight bits, and
Lava's PyDenseModelBitAcc then clips and truncates to those bits. The fast simulator needs the
weights Lava really computes with, the exporter the exponent, the core map the bits; so the
rules live here once, and tests/loihi check them against lava-dl's own function.
"""

from __future__ import annotations

import numpy as np


def netx_optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """netx's ``optimize_weight_bits`` (lava-dl 0.6), returning (weights, num_weight_bits, weight_exp).

    Reproduced operation for operation (float scale, ``np.floor(np.log2(...))``) because
    its choice of bits decides how Lava truncates the weights. An all-zero matrix gives
    (zeros, 8, 0), what :func:`snnx.sim.lava_build.build_lava_network` feeds Lava.
    """
    weight = np.asarray(weight).astype(int)
    if not np.any(weight):
        return weight, 8, 0
    max_w, min_w = np.max(weight), np.min(weight)
    if max_w > 254 and min_w < 0:
        weight = np.clip(weight, -256, 254)
        max_w = np.max(weight)
    if min_w < -256 and max_w > 0:
        weight = np.clip(weight, -256, 254)
        min_w = np.min(weight)
    if max_w < 0:
        is_signed, scale = 0, -256 / min_w
    elif min_w >= 0:
        is_signed, scale = 0, 255 / max_w
    else:
        is_signed = 1
        with np.errstate(divide="ignore"):
            scale = np.min([127 / max_w if max_w else np.inf, -128 / min_w])
    scale_bits = np.floor(np.log2(scale)) + is_signed
    n = 8
    while n > 0:
        if np.sum(np.abs(weight / (2**n) - np.round(weight / (2**n)))) == 0:
            break
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    weight_exp = -scale_bits
    weight = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return weight.astype(int), int(num_weight_bits), int(weight_exp)


def lava_dense_weight(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """(weights, weight_exp) that Lava's PyDenseModelBitAcc computes with for a netx dense layer.

    netx optimizes the bits; Lava then picks the sign mode from the matrix, clips to 8 bits
    (mixed: [-256, 255]) and truncates ``(w >> k) << k`` with k = 8 - num_weight_bits + mixed.
    """
    w, bits, exp = netx_optimize_weight_bits(weight)
    return lava_truncate(w, bits), exp


def lava_recurrent_weights(weight: np.ndarray, weight_rec: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(W, W_rec, weight_exp) that Lava computes with for a netx ``dense_rec`` layer.

    netx optimizes the bits of ``hstack(W, W_rec)`` once (one exponent, one bit count for both),
    then builds two Dense synapses without a sign mode, so each synapse picks its own sign mode
    from its own matrix before clipping and truncating (lava-dl 0.6 RecurrentDense).
    """
    w = np.asarray(weight)
    cat, bits, exp = netx_optimize_weight_bits(np.hstack([w, np.asarray(weight_rec)]))
    return lava_truncate(cat[:, : w.shape[1]], bits), lava_truncate(cat[:, w.shape[1]:], bits), exp


def lava_truncate(weight: np.ndarray, bits: int) -> np.ndarray:
    """Lava's PyDenseModelBitAcc weight preparation: sign mode from the matrix, 8-bit clip, truncation."""
    w = np.asarray(weight).astype(np.int32)
    if np.min(w) >= 0:
        mixed, inhibitory = 0, 0
    elif np.max(w) <= 0:
        mixed, inhibitory = 0, 1
    else:
        mixed, inhibitory = 1, 0
    if inhibitory:
        w = -w
    w = np.clip(w, -(2**8) * mixed, 2**8 - 1)
    k = 8 - bits + mixed
    w = (w >> k) << k
    if inhibitory:
        w = -w
    return w.astype(np.int64)
