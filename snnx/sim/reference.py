"""The one encoding rule, the float reference and the simulators' integer inputs.

:func:`encode_images` is how images become input spikes everywhere (``snnx sim``, ``deploy
--run``, ``predict``, the report), with the settings of :meth:`snnx.run.RunFolder.input_encoding`;
:func:`encoded_batches` applies it to a test set in fixed batches with per-batch seeds. The
float reference is the trained model (checkpoint.json) on those encoded inputs, and
:func:`fixed_inputs` turns them into the simulators' integer spikes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnx.data.datasets import ImageSet
from snnx.data.encoders import ENCODINGS, encode, is_binary
from snnx.errors import SnnxError
from snnx.loihi.naming import layer_name
from snnx.loihi.net import LoihiNet
from snnx.run import InputEncoding

ENCODE_BATCH = 500  # fixed, so the spikes do not depend on the backend or its batch size


def encoding_seed(train_seed: int, batch_index: int) -> int:
    """Seed of one encoded batch of the test set: the run's seed and the batch index (the first
    N images always get the same spikes, whatever N). Training batches use their own rule,
    :func:`snnx.train.evaluate.batch_seed`, which also depends on the epoch."""
    return 1_000_003 * (int(train_seed) + 1) + int(batch_index)


@dataclass
class EncodedBatch:
    index: slice  # which test images
    spikes: torch.Tensor  # [T, B, *image shape], as the encoder made them (float)
    labels: np.ndarray


def encode_images(enc: InputEncoding, images: torch.Tensor, seed: int) -> torch.Tensor:
    """Float images [B, *shape] in [0, 1] -> input spikes [T, B, *shape] (the one rule).

    ``enc`` comes from :meth:`snnx.run.RunFolder.input_encoding` (model.net's input spec once
    exported); a network that takes raw spikes (encoding "spikes") cannot encode images.
    """
    if enc.encoding not in ENCODINGS:
        raise SnnxError(
            f"this network takes encoding {enc.encoding!r} (raw spikes), not images; "
            "feed it spikes with `snnx sim RUN --input spikes.npy`"
        )
    return encode(images, enc.encoding, enc.timesteps, seed, enc.gain, enc.latency_tau)


def encoded_batches(
    images: ImageSet, n: int, enc: InputEncoding, train_seed: int
) -> Iterator[EncodedBatch]:
    """The first ``n`` images encoded in fixed batches of ENCODE_BATCH with per-batch seeds."""
    for b, lo in enumerate(range(0, n, ENCODE_BATCH)):
        sl = slice(lo, min(n, lo + ENCODE_BATCH))
        x = encode_images(enc, images.floats(sl), encoding_seed(train_seed, b))
        yield EncodedBatch(sl, x, images.labels[sl].numpy())


def fixed_inputs(net: LoihiNet, spikes: torch.Tensor) -> np.ndarray:
    """Encoded float input [T, B, ...] -> integer input [B, T, *net input shape].

    Binary encodings become 0/1; a graded one (direct) becomes round(x * input_scale), with
    ``input_scale`` from the exported input spec (default 255, Lava's 8-bit graded spikes).
    """
    x = spikes.detach().cpu().numpy()
    x = x.reshape(x.shape[0], x.shape[1], *net.input.shape).swapaxes(0, 1)
    if is_binary(net.input.encoding):
        return np.ascontiguousarray(x > 0)
    scale = float(net.input.params.get("input_scale", 255))
    q = np.rint(x * scale)
    if q.min(initial=0) < 0 or q.max(initial=0) > 255:
        raise SnnxError(
            f"graded inputs scaled by {scale} leave [0, 255]; re-export with a smaller input scale"
        )
    return np.ascontiguousarray(q.astype(np.uint8))


@dataclass
class FloatBatch:
    counts: np.ndarray  # [B, classes] output spikes over steps L+1..T+L
    spikes: list[float]  # per layer: total spikes in this batch (all T + L steps)


class FloatReference:
    """The checkpoint's model in eval mode, run on encoded batches without gradients."""

    def __init__(self, checkpoint: str | Path) -> None:
        from snnx.train.checkpoint import Checkpoint

        ck = Checkpoint.load(checkpoint)
        self.spec = ck.spec
        self.config = ck.config
        self.model = ck.build_model()
        self.layer_names = [layer_name(layer, i) for i, layer in enumerate(ck.spec.layers)]

    def run(self, spikes: torch.Tensor) -> FloatBatch:
        x = spikes.reshape(spikes.shape[0], spikes.shape[1], *self.spec.input_shape).float()
        with torch.no_grad():
            out = self.model(x)
        counts = out.counts.reshape(out.counts.shape[0], -1).cpu().numpy().astype(np.int64)
        return FloatBatch(counts, [float(s.sum()) for s in out.spikes])


def encoded_test_set(
    net: LoihiNet, config, samples: int, data_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``samples`` test images as integer inputs [N, T, *input], exactly as ``snnx sim``
    encodes them (:func:`encoded_batches` + :func:`fixed_inputs`), and their labels."""
    from snnx.data.datasets import load_test

    if config is None:
        raise SnnxError(
            "--run needs the run's config.yaml (how images become spikes); re-run `snnx train`"
        )
    d, enc = config.data, InputEncoding.of_input_spec(net.input)  # model.net's spec is the truth
    images = load_test(d, data_dir)  # SHD: binned as the run was
    xs, ys = [], []
    for b in encoded_batches(images, samples, enc, config.train.seed):
        xs.append(fixed_inputs(net, b.spikes))
        ys.append(b.labels)
    return np.concatenate(xs), np.concatenate(ys)

