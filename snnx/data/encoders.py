"""Image -> spike train encoders (snntorch.spikegen), seeded for reproducibility.

* ``rate``: Poisson/Bernoulli spikes with probability ``gain * pixel`` per step.
* ``latency``: one spike per pixel, earlier for brighter pixels (linear in intensity),
  none for pixels below 1 %.
* ``direct``: the analog image every step (a constant input current).
* ``rows``: one image row per step (row-sequential MNIST, the standard recurrent benchmark):
  H steps of C*W binary spikes, one per pixel brighter than one half (docs/design.md §12:
  binary, because Lava's RecurrentDense shares one weight exponent between its input and
  recurrent synapses, so graded input would cost the recurrent weights their resolution).
* ``pairs``: pixel-pair sequences, the longer recurrent benchmark: the pixels in reading order,
  two per step (MNIST: 392 steps of 2 binary inputs per channel, the same threshold as ``rows``).

Every call takes a ``seed`` so the same images and seed give the same spikes whatever
happened to the global RNG before: the float and fixed-point models of ``snnx sim`` and a
re-run of training must see identical inputs.
"""

from __future__ import annotations

import torch
from snntorch import spikegen

from snnx.errors import SnnxError

ENCODINGS = ("rate", "latency", "direct", "rows", "pairs")
ROW_THRESHOLD = 0.5  # rows and pairs encodings: a pixel spikes when brighter than this
PAIR = 2  # pairs encoding: pixels per step


def encode(
    images: torch.Tensor,
    encoding: str,
    timesteps: int,
    seed: int | None = None,
    gain: float = 1.0,
    latency_tau: float = 5.0,
) -> torch.Tensor:
    """Encode float images [B, ...] in [0, 1] to [T, B, ...] (float tensor of 0/1 or analog)."""
    if encoding == "direct":
        return images.unsqueeze(0).expand(timesteps, *images.shape)
    if encoding == "rows":
        return rows_sequence(images, timesteps)
    if encoding == "pairs":
        return pairs_sequence(images, timesteps)
    if encoding == "latency":
        return spikegen.latency(images, num_steps=timesteps, tau=latency_tau, threshold=0.01,
                                clip=True, normalize=True, linear=True)
    if encoding == "rate":
        devices = [images.device] if images.is_cuda else []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            return spikegen.rate(images.clamp(0, 1 / gain) * gain if gain != 1.0 else images,
                                 num_steps=timesteps)
    raise ValueError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")


def rows_sequence(images: torch.Tensor, timesteps: int) -> torch.Tensor:
    """[B, C, H, W] (or [B, H, W]) -> [H, B, C*W] 0/1: step t carries row t of every channel,
    a spike per pixel above ROW_THRESHOLD."""
    x = images if images.dim() == 4 else images.unsqueeze(1)
    b, c, h, w = x.shape
    if timesteps != h:
        raise SnnxError(f"rows encoding presents one image row per step: {h} rows need {h} time steps, got "
                        f"{timesteps}; re-export without --timesteps (or with --timesteps {h})")
    return (x.permute(2, 0, 1, 3).reshape(h, b, c * w) > ROW_THRESHOLD).to(images.dtype)


def pairs_sequence(images: torch.Tensor, timesteps: int) -> torch.Tensor:
    """[B, C, H, W] (or [B, H, W]) -> [H*W/2, B, C*2] 0/1: step t carries pixels 2t and 2t+1 (in
    reading order) of every channel, a spike per pixel above ROW_THRESHOLD."""
    x = images if images.dim() == 4 else images.unsqueeze(1)
    b, c, h, w = x.shape
    if (h * w) % PAIR:
        raise SnnxError(f"pairs encoding presents two pixels per step: {h}x{w} images have an odd number of pixels")
    steps = h * w // PAIR
    if timesteps != steps:
        raise SnnxError(f"pairs encoding presents two pixels per step: {h}x{w} pixels need {steps} time steps, "
                        f"got {timesteps}; re-export without --timesteps (or with --timesteps {steps})")
    seq = x.reshape(b, c, steps, PAIR).permute(2, 0, 1, 3).reshape(steps, b, c * PAIR)
    return (seq > ROW_THRESHOLD).to(images.dtype)


def encoded_shape(encoding: str, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The input shape of one step: the image itself, one row (C*W values) with ``rows``, or
    two pixels per channel (C*2 values) with ``pairs``."""
    shape = tuple(int(s) for s in image_shape)
    c = shape[0] if len(shape) == 3 else 1
    if encoding == "rows":
        return (c * shape[-1],)
    if encoding == "pairs":
        return (c * PAIR,)
    return shape


def encode_config(images: torch.Tensor, data_cfg, seed: int | None) -> torch.Tensor:
    """``encode`` with the parameters of a ``data`` config section."""
    return encode(images, data_cfg.encoding, data_cfg.timesteps, seed, data_cfg.gain, data_cfg.latency_tau)


def is_binary(encoding: str) -> bool:
    """Whether the encoding emits 0/1 spikes (binary Loihi messages) rather than graded values."""
    return encoding != "direct"
