"""``snnx predict``: image rules, real MNIST digits as files, float and fixed point, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from snnx.cli import main
from snnx.data.datasets import load_split
from snnx.data.images import image_side, prepare_image
from snnx.errors import SnnxError
from snnx.sim.predict import predict_command
from snnx.sim.reference import encode_images
from snnx.sim.trace import float_trace, load_run_models


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    test = load_split("mnist", train=False, data_dir=mnist_dir, subset=40)
    return test.images[:, 0].numpy(), test.labels.numpy()


def tensor_counts(models, images: torch.Tensor) -> np.ndarray:
    """The float model's output spike counts for [N, 28, 28] pixels in [0, 1] given as a tensor (no file)."""
    x = encode_images(models.encoding(), images.unsqueeze(1), seed=0)
    return float_trace(models.model, x, record_v=False).counts


def clear_digits(run: Path, images: np.ndarray, labels: np.ndarray, n: int = 3) -> list[int]:
    """Test images the float model gets right by a margin straight from the tensor (no file)."""
    counts = tensor_counts(load_run_models(run), torch.from_numpy(images).float().div(255))
    top2 = np.sort(counts, axis=1)[:, -2:]
    ok = np.flatnonzero((counts.argmax(1) == labels) & (top2[:, 1] - top2[:, 0] >= 3))
    assert len(ok) >= n, "the tiny model should classify a few clear digits"
    return [int(i) for i in ok[:n]]


def save_variants(folder: Path, digit: np.ndarray, i: int) -> dict[str, Path]:
    """The digit as MNIST stores it, and as a dark-on-light, larger, non-square photo-like JPEG."""
    paths = {"mnist": folder / f"d{i}.png", "light": folder / f"d{i}_light.jpg"}
    Image.fromarray(digit).save(paths["mnist"])
    light = Image.new("L", (120, 90), 255)  # white paper, digit drawn black and 3x larger
    light.paste(Image.fromarray(255 - digit).resize((84, 84), Image.Resampling.BICUBIC), (20, 3))
    light.convert("RGB").save(paths["light"], quality=90)
    return paths


# --------------------------------------------------------------------------- image rules


def test_mnist_sized_image_is_used_unchanged(tmp_path: Path, digits) -> None:
    images, _ = digits
    path = tmp_path / "d.png"
    Image.fromarray(images[0]).save(path)
    prepared = prepare_image(path, (28, 28))
    assert not prepared.inverted and not prepared.resized
    np.testing.assert_allclose(prepared.pixels, images[0] / images[0].max(), atol=1e-6)


def test_light_background_is_inverted_and_normalised_like_mnist(tmp_path: Path, digits) -> None:
    images, _ = digits
    paths = save_variants(tmp_path, images[0], 0)
    prepared = prepare_image(paths["light"], (28, 28))
    p = prepared.pixels
    assert prepared.inverted and prepared.resized and prepared.original_size == (120, 90)
    assert prepared.background > 250  # white paper (JPEG may shave a level)
    assert p.shape == (28, 28) and p.min() >= 0 and p.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(p > 0.1)
    assert max(rows.ptp(), cols.ptp()) + 1 in (19, 20, 21)  # fitted into MNIST's 20-pixel box
    yy, xx = np.indices(p.shape)
    assert abs((yy * p).sum() / p.sum() - 13.5) < 1.0 and abs((xx * p).sum() / p.sum() - 13.5) < 1.0
    assert p[0].max() == 0 and p[:, 0].max() == 0  # paper became black background
    # the same digit: correlation with the original (also re-normalised) is high
    ref = prepare_image(paths["mnist"], (27, 27)).pixels  # forces the same normalisation path
    assert np.corrcoef(np.pad(ref, ((0, 1), (0, 1))).ravel(), p.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("shape, side", [((1, 28, 28), (28, 28)), ((784,), (28, 28)), ((16, 16), (16, 16))])
def test_image_side_of_single_channel_models(shape, side) -> None:
    assert image_side(shape) == side


@pytest.mark.parametrize("shape", [(3, 28, 28), (90,), (2, 1, 28, 28)])
def test_models_that_do_not_take_one_gray_image_are_refused(shape) -> None:
    with pytest.raises(SnnxError, match="not one grayscale image"):
        image_side(shape)


def _one_line_error(path: Path, match: str) -> None:
    with pytest.raises(SnnxError, match=match) as err:
        prepare_image(path, (28, 28))
    assert "\n" not in str(err.value)


def test_unreadable_missing_blank_and_tiny_images(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image at all")
    _one_line_error(tmp_path / "notes.png", "cannot read .* as an image")
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # truncated PNG
    _one_line_error(tmp_path / "cut.png", "cannot read")
    _one_line_error(tmp_path / "nope.png", "not found")
    Image.new("L", (64, 64), 255).save(tmp_path / "white.png")
    _one_line_error(tmp_path / "white.png", "blank")
    noise = (np.random.default_rng(0).integers(0, 10, (50, 50)) + 120).astype(np.uint8)
    Image.fromarray(noise).save(tmp_path / "grey.jpg")
    _one_line_error(tmp_path / "grey.jpg", "blank")
    Image.new("L", (4, 6), 0).save(tmp_path / "tiny.png")
    _one_line_error(tmp_path / "tiny.png", "4x6 pixels")


def test_transparent_png_with_dark_ink_is_read_on_white(tmp_path: Path, digits) -> None:
    images, _ = digits
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = images[0]  # black ink whose opacity is the digit
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    prepared = prepare_image(tmp_path / "t.png", (28, 28))
    assert prepared.inverted
    np.testing.assert_allclose(prepared.pixels, images[0] / images[0].max(), atol=1.5 / 255)


# --------------------------------------------------------------------------- with a model


def test_real_digits_as_files_predict_their_label_float_and_fixed(tiny_run: Path, tmp_path: Path, digits,
                                                                  capsys) -> None:
    images, labels = digits
    models = load_run_models(tiny_run)
    for i in clear_digits(tiny_run, images, labels):
        for kind, path in save_variants(tmp_path, images[i], i).items():
            result = predict_command(tiny_run, path, as_json=True, plot=None, seed=0)
            printed = json.loads(capsys.readouterr().out)
            assert printed == json.loads(json.dumps(result))
            pixels = prepare_image(path, (28, 28)).pixels
            # the file is read back as (nearly) the MNIST digit: exactly for the PNG; the photo-like
            # JPEG (inverted, 3x larger, off-centre) up to a shift of a pixel or two from the centring
            best = max(np.corrcoef(np.roll(pixels, (dy, dx), (0, 1)).ravel(), images[i].ravel())[0, 1]
                       for dy in range(-2, 3) for dx in range(-2, 3))
            assert best > (0.999 if kind == "mnist" else 0.85), (kind, best)
            # ... and predicted as the model predicts those pixels from a tensor (the MNIST PNG:
            # its label; a one-epoch model need not be robust to the photo's one-pixel shifts)
            expected = labels[i] if kind == "mnist" else int(
                tensor_counts(models, torch.from_numpy(pixels).float().view(1, 28, 28)).argmax())
            assert result["float_prediction"] == expected, (kind, result)
            assert result["fixed_prediction"] == result["float_prediction"], (kind, result)
            assert len(result["float_counts"]) == len(result["fixed_counts"]) == 10
            assert result["preprocessing"]["inverted"] == (kind == "light")
            # QAT export: the deployed network spikes (almost) like the float model
            diff = np.abs(np.subtract(result["float_counts"], result["fixed_counts"])).sum()
            assert diff <= 0.1 * sum(result["float_counts"]) + 2


def test_cli_table_plot_and_seed(tiny_run: Path, tmp_path: Path, digits, capsys) -> None:
    images, _ = digits
    path = save_variants(tmp_path, images[1], 1)["light"]
    plot = tmp_path / "out" / "pred.png"
    assert main(["predict", str(tiny_run), "--image", str(path), "--plot", str(plot), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "float" in out and "fixed point" in out and "seed 3" in out and "inverted" in out
    with Image.open(plot) as img:
        assert img.format == "PNG" and img.size[0] > 600
    path = save_variants(tmp_path, images[1], 1)["mnist"]  # grey edge pixels: seed-dependent spikes
    runs = {seed: predict_command(tiny_run, path, True, None, seed)["float_counts"] for seed in (3, 4, 5)}
    assert runs[3] == predict_command(tiny_run, path, True, None, seed=3)["float_counts"]
    assert len({tuple(c) for c in runs.values()}) > 1  # rate coding: another seed, other spikes


def test_without_model_net_prints_float_with_a_note(tiny_run: Path, tmp_path: Path, digits, capsys) -> None:
    images, _ = digits
    run = tmp_path / "float-only"
    run.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(tiny_run / f"checkpoint{suffix}", run / f"checkpoint{suffix}")
    path = save_variants(tmp_path, images[2], 2)["mnist"]
    result = predict_command(run, path, as_json=True, plot=tmp_path / "p.png", seed=0)
    assert result["fixed_prediction"] is None and result["fixed_counts"] is None
    assert isinstance(result["float_prediction"], int)
    assert any("snnx export" in n for n in result["notes"])
    assert (tmp_path / "p.png").exists()


def test_cli_errors_are_one_line_with_exit_code_2(tiny_run: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    for argv in (["predict", str(tiny_run), "--image", str(bad)],
                 ["predict", str(tmp_path / "no-run"), "--image", str(bad)],
                 ["predict", str(tmp_path), "--image", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("snnx: error: ") and err.count("\n") == 1, err
