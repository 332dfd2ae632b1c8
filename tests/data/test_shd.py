"""Spiking Heidelberg Digits through tonic: small files in SHD's own HDF5 layout, written here
(times in s as float16, channels as uint16, labels, extra/keys and extra/speaker), binned into
T steps of 700 inputs, and a recurrent 700-H-20 network trained, exported and simulated on them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnx.config import RunConfig
from snnx.data.datasets import load_split
from snnx.data.shd import CHANNELS, CLASSES, frames
from snnx.errors import SnnxError

KEYS = [f"english-{w}" for w in ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                  "nine")] + [f"german-{w}" for w in ("null", "eins", "zwei", "drei", "vier",
                                                                        "fuenf", "sechs", "sieben", "acht", "neun")]


def write_shd_file(path: Path, recordings: list[tuple[np.ndarray, np.ndarray]], labels: list[int]) -> Path:
    """One SHD split: vlen ``spikes/times`` (s) and ``spikes/units``, ``labels``, ``extra/*``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        n = len(recordings)
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(recordings):
            times[i], units[i] = np.asarray(t, np.float16), np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint8))
        f.create_dataset("extra/keys", data=np.array(KEYS, dtype="S"))
        f.create_dataset("extra/speaker", data=np.zeros(n, np.uint8))
    return path


def synthetic_recording(rng: np.random.Generator, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Digit k = a sweep through channel band k (35 channels) over ~0.6 s, plus sparse noise."""
    n = 300
    t = np.sort(rng.uniform(0.02, 0.6 + 0.2 * rng.random(), n))
    band = label * (CHANNELS // CLASSES)
    u = band + np.clip((t / t[-1] * 35).astype(int) + rng.integers(-2, 3, n), 0, 34)
    noise_t, noise_u = rng.uniform(0, t[-1], 60), rng.integers(0, CHANNELS, 60)
    order = np.argsort(np.concatenate([t, noise_t]), kind="stable")
    return np.concatenate([t, noise_t])[order], np.concatenate([u, noise_u])[order]


def write_synthetic_shd(folder: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        labels = [int(k) for k in rng.integers(0, CLASSES, n)]
        write_shd_file(folder / name, [synthetic_recording(rng, k) for k in labels], labels)
    return folder


@pytest.fixture(scope="module")
def shd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_shd(tmp_path_factory.mktemp("shd"))


def test_files_are_binned_through_tonic(tmp_path: Path) -> None:
    """Fixed bins (data.bin_ms) from t = 0, the first T kept; unset: T bins over each recording."""
    rec = (np.array([0.0, 0.0121, 0.0125, 0.031, 0.049, 0.07]), np.array([3, 3, 699, 5, 6, 7]))
    folder = tmp_path / "d"
    write_shd_file(folder / "shd_test.h5", [rec, (np.array([]), np.array([]))], [7, 19])
    test = load_split("shd", False, folder, timesteps=5, bin_ms=10.0)
    assert test.images.shape == (2, 1, 5, CHANNELS) and test.num_classes == CLASSES
    assert test.labels.tolist() == [7, 19] and test.images.dtype.is_floating_point is False
    on = {(int(b), int(c)) for b, c in zip(*np.nonzero(test.images[0, 0].numpy()), strict=True)}
    # float16 times: 0.0121 s -> bin 1; 0.049 -> bin 4; 0.07 s is past 5 bins of 10 ms: dropped
    assert on == {(0, 3), (1, 3), (1, 699), (3, 5), (4, 6)}
    assert set(np.unique(test.images.numpy()).tolist()) == {0, 255} and not test.images[1].any()
    spread = load_split("shd", False, folder, timesteps=7)  # tonic's n_time_bins: 10 ms per bin here
    first = np.nonzero(spread.images[0, 0].numpy().any(axis=1))[0]
    assert first[0] == 0 and first[-1] >= 4 and spread.images.shape[2] == 7


def test_frames_agree_with_tonic_to_frame_counts() -> None:
    """A bin spikes exactly where tonic's ToFrame counts an event (any count -> one spike)."""
    from tonic.datasets import SHD
    from tonic.transforms import ToFrame

    rng = np.random.default_rng(4)
    ev = np.zeros(500, dtype=SHD.dtype)
    ev["t"], ev["x"], ev["p"] = np.sort(rng.uniform(0, 4e5, 500)), rng.integers(0, CHANNELS, 500), 1
    counts = ToFrame(sensor_size=SHD.sensor_size, n_time_bins=16)(ev.copy())[:, 0]
    assert counts.max() > 1  # several events in one bin still make one spike
    np.testing.assert_array_equal(frames(ev, 16, None), counts > 0)


def test_tonic_layout_env_lookup_and_subset(shd_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """tonic's own layout (<dir>/SHD/shd_*.h5) is found; $SNNX_DATA_DIR is searched; subsets bin only
    the first recordings."""
    (tmp_path / "t" / "SHD").mkdir(parents=True)
    (tmp_path / "t" / "SHD" / "shd_train.h5").symlink_to(shd_dir / "shd_train.h5")
    monkeypatch.setenv("SNNX_DATA_DIR", str(tmp_path / "t"))
    train = load_split("shd", True, tmp_path / "missing", subset=9, timesteps=12)
    assert train.images.shape == (9, 1, 12, CHANNELS) and train.name == "shd-train"
    full = load_split("shd", True, shd_dir, timesteps=12)
    assert len(full) == 400 and np.array_equal(full.images[:9], train.images)


def test_missing_and_corrupt_files_are_one_line_errors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SNNX_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SnnxError, match=r"shd_test\.h5 not found in .*nowhere.* put shd_train\.h5 and "
                                         r"shd_test\.h5 \(unzipped from https://\S+shd_train\.h5\.zip"):
        load_split("shd", False, tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()  # a failed download leaves no empty folder behind
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "shd_test.h5").write_bytes(b"not hdf5")
    with pytest.raises(SnnxError, match="not a readable SHD file.*replace it"):
        load_split("shd", False, bad)
    write_shd_file(bad / "shd_test.h5", [(np.array([0.1]), np.array([700]))], [1])
    with pytest.raises(SnnxError, match="channels outside 0..699"):
        load_split("shd", False, bad)
    write_shd_file(bad / "shd_test.h5", [(np.array([0.1]), np.array([3]))], [20])
    with pytest.raises(SnnxError, match="labels outside 0..19"):
        load_split("shd", False, bad)
    with h5py.File(bad / "shd_test.h5", "a") as f:
        del f["labels"]
    with pytest.raises(SnnxError, match="not a readable SHD file"):
        load_split("shd", False, bad)


def test_config_presents_shd_one_bin_per_step() -> None:
    d = RunConfig.from_dict({"data": {"dataset": "shd"}}).data
    assert (d.encoding, d.timesteps, d.bin_ms) == ("rows", 100, None)
    d = RunConfig.from_dict({"data": {"dataset": "shd", "timesteps": 40, "bin_ms": 25}}).data
    assert (d.encoding, d.timesteps, d.bin_ms) == ("rows", 40, 25.0)
    with pytest.raises(SnnxError, match="data.dataset=shd is already spikes"):
        RunConfig.from_dict({"data": {"dataset": "shd", "encoding": "rate"}})
    with pytest.raises(SnnxError, match="data.bin_ms must be > 0"):
        RunConfig.from_dict({"data": {"dataset": "shd", "bin_ms": 0}})
    with pytest.raises(SnnxError, match="data.timesteps must be 28"):  # MNIST rows unchanged
        RunConfig.from_dict({"data": {"encoding": "rows", "timesteps": 40}})


@pytest.mark.lava
def test_recurrent_shd_trains_exports_and_simulates_identically(shd_dir: Path, tmp_path: Path) -> None:
    """`snnx train --set data.dataset=shd --set model.recurrent=true`, export (dense_rec 700-24-20),
    `snnx sim --backend both`: Lava and the fast engine give identical spikes on the binned test set,
    and the network has learnt the synthetic digits."""
    from snnx.cli import main

    run = tmp_path / "run"
    sets = ["data.dataset=shd", "model.recurrent=true", "data.timesteps=20", "model.hidden=[24]",
            "train.epochs=2", "train.batch_size=32", "train.lr=0.005"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "-o", str(run), "--data-dir", str(shd_dir),
                     *[a for s in sets for a in ("--set", s)]]) == 0
        assert main(["export", str(run), "--target", "loihi"]) == 0
        assert main(["sim", str(run), "--backend", "both", "--samples", "16", "--data-dir", str(shd_dir)]) == 0
    with h5py.File(run / "model.net") as f:
        assert [f[f"layer/{k}/type"][0] for k in range(3)] == [b"input", b"dense_rec", b"dense"]
        assert f["layer/1/weight"].shape == (24, CHANNELS) and f["layer/1/weight_rec"].shape == (24, 24)
        assert f["layer/2/weight"].shape == (CLASSES, 24)
    sim = json.loads((run / "sim.json").read_text())
    assert sim["lava_fast_identical"] is True
    assert (sim["dataset"], sim["timesteps"], sim["samples"]) == ("shd", 20, 16)
    assert sim["spikes_per_sample"][0]["fixed"] > 1
    assert sim["fixed_accuracy"] > 0.6, sim  # 20 classes: chance is 5 %


def test_binned_splits_are_cached_per_file_and_binning(tmp_path: Path, monkeypatch) -> None:
    """The bins are cached (keyed by the file and the binning): a rewritten file or another T is
    binned again, a damaged cache entry is ignored."""
    monkeypatch.setenv("SNNX_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "d"
    rec = (np.array([0.001, 0.02]), np.array([1, 2]))
    write_shd_file(folder / "shd_test.h5", [rec, rec], [3, 4])
    first = load_split("shd", False, folder, timesteps=4)
    (entry,) = (tmp_path / "cache" / "shd").iterdir()
    again = load_split("shd", False, folder, timesteps=4)
    assert np.array_equal(again.images, first.images) and again.labels.tolist() == [3, 4]
    assert load_split("shd", False, folder, timesteps=6).images.shape[2] == 6
    write_shd_file(folder / "shd_test.h5", [rec, rec, rec], [5, 6, 7])
    assert load_split("shd", False, folder, timesteps=4).labels.tolist() == [5, 6, 7]
    for e in (tmp_path / "cache" / "shd").iterdir():
        e.write_bytes(b"damaged")
    assert load_split("shd", False, folder, timesteps=4).labels.tolist() == [5, 6, 7]
    assert entry.name.startswith("shd_test-")
