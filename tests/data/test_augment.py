"""Random shifts: exact translation with zero fill, per-image offsets, seeded."""

import torch

from snnx.data.augment import random_shift


def test_shift_moves_each_image_by_its_own_offset_and_fills_with_zeros() -> None:
    img = torch.zeros(64, 1, 9, 9)
    img[:, 0, 4, 4] = 1.0  # one lit pixel in the centre
    out = random_shift(img, 2, seed=3)
    assert out.shape == img.shape and out.sum(dim=(1, 2, 3)).eq(1).all()  # nothing lost or added
    pos = out[:, 0].flatten(1).argmax(1)
    dy, dx = pos // 9 - 4, pos % 9 - 4
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) > 10  # offsets differ between images
    assert torch.equal(out, random_shift(img, 2, seed=3))
    assert not torch.equal(out, random_shift(img, 2, seed=4))


def test_every_kept_pixel_moves_by_the_same_offset() -> None:
    img = torch.arange(1.0, 26.0).reshape(1, 1, 5, 5)  # pixel value - 1 encodes its origin
    for seed in range(20):
        out = random_shift(img, 1, seed)[0, 0]
        kept = out.nonzero()
        origin = out[kept[:, 0], kept[:, 1]].long() - 1
        assert len(kept) >= 16  # at most one row and one column fall off a 5x5 image
        assert (kept[:, 0] - origin // 5).unique().numel() == 1
        assert (kept[:, 1] - origin % 5).unique().numel() == 1


def test_zero_shift_is_the_identity() -> None:
    img = torch.rand(3, 1, 28, 28)
    assert random_shift(img, 0, seed=0) is img
