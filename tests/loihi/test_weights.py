"""netx's weight-bit rules against lava-dl's own ``optimize_weight_bits``."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from snnx.loihi.weights import lava_dense_weight, netx_optimize_weight_bits
from snnx.sim.lava_build import allow_lava_import


def _lava_dl_optimize(w: np.ndarray):
    allow_lava_import()
    from lava.lib.dl.netx.utils import optimize_weight_bits

    with (
        contextlib.redirect_stdout(io.StringIO()),
        np.errstate(divide="ignore"),
    ):  # it prints when it clips
        return optimize_weight_bits(w.copy())


def _random_weights(rng: np.random.Generator, signs: str) -> np.ndarray:
    shape = tuple(int(n) for n in rng.integers(1, 40, 2))
    scale = int(rng.choice([1, 2, 4, 16, 64, 128, 255, 256, 400]))
    step = int(rng.choice([1, 2, 4, 8]))  # multiples of a power of two change the bits netx picks
    w = rng.integers(0, scale + 1, shape) // step * step
    if signs == "negative":
        w = -w
    elif signs == "mixed":
        w = w * rng.choice([-1, 1], shape)
        w.flat[0], w.flat[-1] = max(abs(w.flat[0]), 1), -max(abs(w.flat[-1]), 1)
    if not w.any():
        w.flat[0] = 1 if signs != "negative" else -1
    return w


@pytest.mark.parametrize("signs", ["positive", "negative", "mixed"])
def test_optimize_weight_bits_is_lava_dls(signs):
    rng = np.random.default_rng({"positive": 1, "negative": 2, "mixed": 3}[signs])
    for _ in range(150):
        w = _random_weights(rng, signs)
        ours = netx_optimize_weight_bits(w)
        theirs = _lava_dl_optimize(w)
        assert np.array_equal(ours[0], theirs[0]), w
        assert (ours[1], ours[2]) == (int(theirs[1]), int(theirs[2])), w


def test_all_zero_weights_are_excitatory_8_bit():
    """lava-dl divides by zero here; we give what the zero-safe Lava builder feeds Lava."""
    w, bits, exp = netx_optimize_weight_bits(np.zeros((3, 4), dtype=int))
    assert not w.any() and (bits, exp) == (8, 0)


def test_lava_dense_weight_cases():
    # netx keeps odd mixed weights exact (it shifts them into more weight bits)
    w, exp = lava_dense_weight(np.array([[5, -3], [1, 0]]))
    assert np.array_equal(w >> -exp, [[5, -3], [1, 0]])
    # mixed 255 is clipped to 254 by netx
    w, exp = lava_dense_weight(np.array([[255, -2]]))
    assert np.array_equal(w >> -exp, [[254, -2]])
    w, exp = lava_dense_weight(np.zeros((2, 3), dtype=int))
    assert not w.any() and exp == 0
