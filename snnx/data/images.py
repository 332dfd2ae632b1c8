"""Image preparation for ``snnx predict``: a user's image file -> a model-ready [H, W] array in [0, 1].

How an image file becomes the model's input (``snnx predict --json`` prints what was done):

1. Read with Pillow (PNG, JPEG or anything else Pillow opens; the first frame of an
   animation), apply the EXIF orientation, flatten transparency onto white.
2. Convert to grayscale (ITU-R 601 luma, Pillow's "L" mode).
3. Invert if the background is light: the background level is the median of the border
   pixels (the outer 1/16 of each side, at least one pixel); above mid-grey (127) means dark
   ink on light paper, so the image is inverted to MNIST's light ink on black.
4. Subtract the background level and stretch the ink to [0, 1] (so grey paper is black and
   the brightest stroke is 1), i.e. ``(x - background) / (max - background)`` clipped.
   A 28x28 MNIST digit is unchanged by steps 3-4.
5. Resize: an image already of the model's size (28x28 for MNIST) is used as is. Any other
   size is normalised as the MNIST digits themselves were (LeCun et al.): crop to the box of
   pixels above 10 % of the maximum, scale it (keeping the aspect ratio, Lanczos) so that its
   longer side is 20/28 of the model's side, and paste it into a black square of the model's
   size with its centre of mass at the centre.

Pillow does the reading, orientation, transparency and resampling; the border-median
background, the ink stretch and the centre-of-mass placement are the MNIST recipe (LeCun et
al.) written out here because no library ships it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from snnx.errors import SnnxError

MIN_SIDE = 8  # pixels; below this an image cannot hold a recognisable digit
MIN_CONTRAST = 24  # grey levels (of 255) between background and ink; less is a blank image
INVERT_ABOVE = 127  # background median above this = light background
BOX_FRACTION = 20 / 28  # MNIST digits fill a 20x20 box in a 28x28 image
INK_FRACTION = 0.1  # pixels above this fraction of the maximum count as ink for the crop


@dataclass
class PreparedImage:
    """The model-ready image [H, W] in [0, 1] and what was done to get it."""

    pixels: np.ndarray
    original_size: tuple[int, int]  # (width, height) of the file
    inverted: bool
    background: int  # grey level of the file's border (0..255), before any inversion
    resized: bool

    def describe(self) -> dict:
        return {"original_size": list(self.original_size), "inverted": self.inverted,
                "background_level": self.background, "normalized_like_mnist": self.resized}


def image_side(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(H, W) of a one-channel image model: (1, H, W), (H, W) or a flat square (N,)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    if len(shape) == 2:
        return shape
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return side, side
    raise SnnxError(f"this model takes input of shape {shape}, not one grayscale image; "
                    "snnx predict works with models trained on single-channel images (e.g. MNIST 1x28x28)")


def read_gray(path: Path) -> Image.Image:
    """The image file as 8-bit grayscale with transparency flattened onto white."""
    if not path.is_file():
        raise SnnxError(f"image {path} not found; pass an existing PNG or JPEG file with --image")
    try:
        with Image.open(path) as img:
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise SnnxError(f"cannot read {path} as an image ({type(exc).__name__}: {exc}); "
                        "pass a PNG or JPEG file") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("L")


def border_level(a: np.ndarray) -> int:
    """Median of the outer 1/16 frame of the image: the background's grey level."""
    h, w = a.shape
    bh, bw = max(1, h // 16), max(1, w // 16)
    frame = np.concatenate([a[:bh].ravel(), a[-bh:].ravel(), a[:, :bw].ravel(), a[:, -bw:].ravel()])
    return int(np.median(frame))


def normalize_like_mnist(ink: np.ndarray, side: tuple[int, int]) -> np.ndarray:
    """Crop to the ink, fit into a 20/28 box keeping the aspect ratio, centre the mass."""
    rows, cols = np.nonzero(ink > INK_FRACTION * ink.max())
    crop = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = side
    box = max(1, round(BOX_FRACTION * min(h, w)))
    factor = box / max(crop.shape)
    new_w, new_h = max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    small_arr = np.asarray(small, dtype=np.float64) / 255.0
    total = small_arr.sum()
    if total <= 0:
        raise SnnxError("the image has no ink left after resizing; use a larger or bolder digit")
    yy, xx = np.indices(small_arr.shape)
    cy, cx = (yy * small_arr).sum() / total, (xx * small_arr).sum() / total
    top = int(np.clip(round(h / 2 - cy - 0.5), 0, h - new_h))
    left = int(np.clip(round(w / 2 - cx - 0.5), 0, w - new_w))
    out = np.zeros((h, w))
    out[top: top + new_h, left: left + new_w] = small_arr
    return out


def prepare_image(path: Path, side: tuple[int, int]) -> PreparedImage:
    """Apply the rules of this module's docstring; one-line errors for unusable images."""
    gray = read_gray(Path(path))
    a = np.asarray(gray, dtype=np.int64)
    if min(a.shape) < MIN_SIDE:
        raise SnnxError(f"image {path} is {a.shape[1]}x{a.shape[0]} pixels; it needs at least "
                        f"{MIN_SIDE} pixels per side to hold a digit")
    border = background = border_level(a)
    inverted = background > INVERT_ABOVE
    if inverted:
        a, background = 255 - a, 255 - background
    peak = int(a.max())
    if peak - background < MIN_CONTRAST:
        raise SnnxError(f"image {path} is blank (ink and background differ by {peak - background} grey levels of 255); "
                        "pass an image with a visible digit")
    ink = np.clip((a - background) / (peak - background), 0.0, 1.0)
    resized = tuple(a.shape) != tuple(side)
    if resized:
        ink = normalize_like_mnist(ink, side)
    return PreparedImage(ink.astype(np.float32), gray.size, inverted, border, resized)
