"""Every reader of a user's file validates sizes, types and shapes before allocating: one line
and exit code 2 for hostile model.net, NIR, spike and image files (docs/integrity.md)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from snnx.cli import main
from snnx.errors import SnnxError
from snnx.loihi.netx import read_netx, write_netx
from snnx.sim.predict import prepare_image
from snnx.sim.randnet import random_conv_net, random_dense_net
from snnx.validate import open_npy


def _net(tmp_path: Path, conv: bool = False) -> Path:
    rng = np.random.default_rng(0)
    net = random_conv_net(rng) if conv else random_dense_net(rng, [12, 7, 3])
    return write_netx(net, tmp_path / ("conv.net" if conv else "dense.net"))


def _replace(f: h5py.File, name: str, data) -> None:
    del f[name]
    f[name] = data


def _meta(f: h5py.File, edit) -> None:
    meta = json.loads(f["snnx"].attrs["json"])
    edit(meta)
    f["snnx"].attrs["json"] = json.dumps(meta)


CASES = [
    ("bias of the wrong size", False, lambda f: _replace(f, "layer/1/bias", np.arange(10)), "bias"),
    ("dense weight of the wrong shape", False, lambda f: _replace(f, "layer/2/weight", np.ones((3, 5))),
     "weight has shape"),
    ("layer shape mismatch", False, lambda f: _replace(f, "layer/1/shape", np.array([9])), "cannot reshape"),
    ("10^9-neuron shape", False, lambda f: _replace(f, "layer/1/shape", np.array([10**9])), "neurons"),
    ("string in an integer field", False, lambda f: _replace(f, "layer/1/neuron/vDecay", "abc"), "damaged"),
    ("string as a shape", False, lambda f: _replace(f, "layer/0/shape", "twelve"), "damaged"),
    ("conv stride 0", True, lambda f: _replace(f, "layer/1/stride", np.array([0, 0])), "stride [0, 0]"),
    ("conv padding huge", True, lambda f: _replace(f, "layer/1/padding", np.array([10**6, 1])), "padding"),
    ("metadata a list", False, lambda f: f["snnx"].attrs.__setitem__("json", "[1, 2]"), "metadata"),
    ("metadata scale a string", False, lambda f: _meta(f, lambda m: m["layers"][0].__setitem__("scale", "x")),
     "layers[0].scale"),
    ("metadata timesteps huge", False,
     lambda f: _meta(f, lambda m: m["input"].__setitem__("timesteps", 10**7)), "input.timesteps"),
    ("metadata shape strings", False,
     lambda f: _meta(f, lambda m: m["input"].__setitem__("shape", ["12"])), "input.shape"),
    ("metadata not JSON", False, lambda f: f["snnx"].attrs.__setitem__("json", "{"), "metadata group is damaged"),
    ("fill value standing for GBs", False,
     lambda f: (f.__delitem__("layer/2/weight"),
                f.create_dataset("layer/2/weight", shape=(50_000, 50_000), dtype="i2", fillvalue=1)),
     "declares 2,500,000,000 values"),
    ("compound dataset", False,
     lambda f: _replace(f, "layer/1/weight", np.zeros(3, dtype=[("a", "i4"), ("b", "f4")])), "compound"),
]


@pytest.mark.parametrize("name, conv, edit, words", CASES, ids=[c[0] for c in CASES])
def test_hostile_model_net(tmp_path: Path, name: str, conv: bool, edit, words: str) -> None:
    path = _net(tmp_path, conv)
    read_netx(path)  # valid before the edit
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(SnnxError, match=None) as err:
        read_netx(path)
    assert words in str(err.value), str(err.value)
    assert path.stat().st_size < 1 << 20  # the fill-value case stays a small file


def test_hostile_model_net_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    run.mkdir()
    path = _net(tmp_path)
    with h5py.File(path, "r+") as f:
        f.create_dataset("layer/1/big", shape=(10**6, 10**4), dtype="f8", fillvalue=1.0)
    (run / "model.net").write_bytes(path.read_bytes())
    np.save(tmp_path / "spikes.npy", np.zeros((2, 5, 12), dtype=np.uint8))
    for argv in (["sim", str(run), "--input", str(tmp_path / "spikes.npy")], ["deploy", str(run)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "declares" in err[0], err


def _nir(tmp_path: Path, weight=None, r=None, metadata=None) -> Path:
    import nir

    w = np.ones((3, 4), dtype=np.float32) if weight is None else weight
    nodes = {"input": nir.Input(np.array([4])), "fc": nir.Affine(w, np.zeros(3, dtype=np.float32)),
             "lif": nir.LIF(tau=np.full(3, 0.02), r=np.ones(3) if r is None else r, v_leak=np.zeros(3),
                            v_threshold=np.ones(3)),
             "output": nir.Output(np.array([3]))}
    graph = nir.NIRGraph(nodes, [("input", "fc"), ("fc", "lif"), ("lif", "output")], metadata=metadata or {})
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    return path


@pytest.mark.parametrize("kwargs, words", [
    ({"weight": np.array([[np.inf, 1, 1, 1]] * 3, dtype=np.float32)}, "field weight holds NaN or infinite"),
    ({"weight": np.full((3, 4), np.nan, dtype=np.float32)}, "field weight holds NaN or infinite"),
    ({"r": np.array([1.0, np.inf, 1.0])}, "field r holds NaN or infinite"),
    ({"metadata": {"dt": "fast"}}, "metadata dt"),
    ({"metadata": {"timesteps": "many"}}, "metadata timesteps"),
    ({"metadata": {"timesteps": 10**8}}, "metadata timesteps"),
    ({"metadata": {"snnx": json.dumps({"timesteps": "25"})}}, "snnx metadata timesteps"),
    ({"metadata": {"snnx": json.dumps({"dt": "0.001"})}}, "snnx metadata dt"),
])
def test_hostile_nir_graphs(tmp_path: Path, kwargs, words: str, capsys: pytest.CaptureFixture) -> None:
    path = _nir(tmp_path, **kwargs)
    assert main(["export", "--from-nir", str(path), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "run" / "model.net").exists()


def test_a_valid_nir_graph_still_exports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _nir(tmp_path, metadata={"dt": 1e-3})
    assert main(["export", "--from-nir", str(path), "-o", str(tmp_path / "run"), "--timesteps", "20"]) == 0
    assert read_netx(tmp_path / "run" / "model.net").input.timesteps == 20


def _npy_header(path: Path, shape: tuple[int, ...], dtype: str = "|u1") -> Path:
    """A .npy file that declares ``shape`` but holds no data (what a hostile file can do)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return path


def test_hostile_spike_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", x=np.zeros((1, 5, 12)))
    cases = [
        (tmp_path / "s.npz", "zip (.npz) archive"),
        (np.save(tmp_path / "empty.npy", np.zeros((0, 5, 12), np.uint8)) or tmp_path / "empty.npy", "samples >= 1"),
        (_npy_header(tmp_path / "long.npy", (1, 2_000_000, 1, 28, 28)), "2,000,000 steps"),
        (_npy_header(tmp_path / "many.npy", (10**7, 10, 784)), "10,000,000 samples"),
        (_npy_header(tmp_path / "obj.npy", (1, 5, 12), "|O"), "object"),
        (tmp_path, "is a folder"),
        (tmp_path / "missing.npy", "not found"),
    ]
    (tmp_path / "text.npy").write_text("1,2,3")
    cases.append((tmp_path / "text.npy", "not a .npy array"))
    for path, words in cases:
        with pytest.raises(SnnxError) as err:
            open_npy(path, "--input")
        assert words in str(err.value), (path, str(err.value))


def _png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG whose IHDR declares w x h pixels (8-bit grey) with a tiny, truncated IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    return path


def test_images_checked_by_header(tmp_path: Path) -> None:
    big = _png_header_only(tmp_path / "big.png", 13000, 13000)
    with pytest.raises(SnnxError, match="13000x13000 pixels, more than"):
        prepare_image(big, (28, 28))
    with pytest.raises(SnnxError, match="is a folder"):
        prepare_image(tmp_path, (28, 28))


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    digit = np.zeros((28, 28))
    digit[6:22, 12:16] = 1.0  # a bar: a "1"
    digit[6:22, 8:10] = 0.4
    Image.fromarray((digit * 255).astype(np.uint8)).save(tmp_path / "d8.png")
    Image.fromarray((digit * 65535).astype(np.uint16)).save(tmp_path / "d16.png")
    assert Image.open(tmp_path / "d16.png").mode == "I;16"
    a = prepare_image(tmp_path / "d8.png", (28, 28)).pixels
    b = prepare_image(tmp_path / "d16.png", (28, 28)).pixels
    assert np.abs(a - b).max() <= 1 / 255 + 1e-6
    assert 0.3 < b[10, 8] < 0.5  # the grey stroke stays grey (clipping would make it 1.0)


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import write_idx

    data = write_idx(tmp_path_factory.mktemp("mnist"), n_train=100, n_test=20)
    run = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "-o", str(run), "--data-dir", str(data), "--set", "train.epochs=1",
                 "--set", "model.hidden=[16]"]) == 0
    assert main(["export", str(run)]) == 0
    assert main(["sim", str(run), "--data-dir", str(data)]) == 0
    return run


def test_energy_constant_that_overflows_is_refused(simulated_run: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    from snnx.loihi.energy_profile import PROFILE_DIR

    profile = json.loads((PROFILE_DIR / "loihi1-davies2018.json").read_text())
    profile["constants"]["synop_pJ"]["value"] = 1e308
    (tmp_path / "huge.json").write_text(json.dumps(profile))
    capsys.readouterr()
    assert main(["deploy", str(simulated_run), "--profile", str(tmp_path / "huge.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a finite number" in err[0], err
    energy = simulated_run / "deploy" / "loihi2" / "energy.json"
    assert not energy.exists() or "Infinity" not in energy.read_text()
