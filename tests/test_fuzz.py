"""Fuzz: arbitrary corruptions of model.net, NIR, config and checkpoint files never end in a
traceback or an exit code other than 0 or 2 (the CLI is driven in-process via snnx.cli.main).

Bounded so that the whole file runs in well under a minute: few examples per target, no
shrinking budget beyond hypothesis' default, no deadline (the machine is shared).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnx.cli import main
from snnx.config import resolve
from snnx.errors import SnnxError

FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One valid file of each kind, written once; every example corrupts a copy."""
    import nir
    from conftest import make_config, make_model, save_run

    from snnx.loihi.netx import write_netx
    from snnx.sim.randnet import random_conv_net

    base = tmp_path_factory.mktemp("fuzz")
    net = write_netx(random_conv_net(np.random.default_rng(0), in_shape=(1, 6, 6), convs=[(2, 3, 2)], dense=[3]),
                     base / "model.net")
    np.save(base / "spikes.npy", (np.random.default_rng(1).random((2, 4, 1, 6, 6)) < 0.3).astype(np.uint8))
    nodes = {"input": nir.Input(np.array([4])),
             "fc": nir.Affine(np.ones((3, 4), np.float32), np.zeros(3, np.float32)),
             "lif": nir.LIF(tau=np.full(3, 0.02), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)),
             "output": nir.Output(np.array([3]))}
    nir.write(base / "g.nir", nir.NIRGraph(nodes, [("input", "fc"), ("fc", "lif"), ("lif", "output")],
                                           metadata={"dt": 1e-3}))
    cfg = make_config(hidden=[4])
    run = save_run(base / "run", cfg, make_model(cfg))
    return {"net": net, "spikes": base / "spikes.npy", "nir": base / "g.nir", "run": run}


def _cli(argv: list[str]) -> None:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    lines = err.getvalue().strip().splitlines()
    assert code in (0, 2), (argv, code, lines)
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("snnx: error: "), lines


def _datasets(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(np.float64),
    st.text(max_size=5),
    st.lists(st.integers(-(2**31), 2**31 - 1), min_size=0, max_size=6).map(lambda v: np.asarray(v, np.int64)),
    st.lists(st.floats(width=32, allow_subnormal=False), min_size=1, max_size=6).map(lambda v: np.asarray(v, np.float32)),
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**5)).map(lambda s: ("fill", s)),
)


def _hdf5_edit(path: Path, names: list[str], edits: list[tuple[int, object, bool]]) -> None:
    with h5py.File(path, "r+") as f:
        for index, value, delete in edits:
            name = names[index % len(names)]
            if name not in f:
                continue
            del f[name]
            if delete:
                continue
            if isinstance(value, tuple) and value[0] == "fill":
                f.create_dataset(name, shape=value[1], dtype="i4", fillvalue=7)
            else:
                f[name] = value


EDITS = st.lists(st.tuples(st.integers(0, 1000), VALUES, st.booleans()), min_size=1, max_size=3)


def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="snnx-fuzz-"))


@FUZZ
@given(edits=EDITS, meta=st.none() | JSON)
def test_fuzz_model_net(seeds: dict[str, Path], edits, meta) -> None:
    work = _workdir()
    try:
        run = work / "run"
        run.mkdir()
        net = shutil.copy(seeds["net"], run / "model.net")
        _hdf5_edit(net, _datasets(seeds["net"]), edits)
        if meta is not None:
            with h5py.File(net, "r+") as f:
                f["snnx"].attrs["json"] = json.dumps(meta)
        _cli(["sim", str(run), "--input", str(seeds["spikes"])])
    finally:
        shutil.rmtree(work)


@FUZZ
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8))
def test_fuzz_model_net_bytes(seeds: dict[str, Path], cut: int, flips) -> None:
    work = _workdir()
    try:
        run = work / "run"
        run.mkdir()
        data = bytearray(seeds["net"].read_bytes())
        for pos, byte in flips:
            data[pos % len(data)] = byte
        if cut:
            data = data[: len(data) - cut % len(data)]
        (run / "model.net").write_bytes(bytes(data))
        _cli(["sim", str(run), "--input", str(seeds["spikes"])])
    finally:
        shutil.rmtree(work)


@FUZZ
@given(edits=EDITS)
def test_fuzz_nir(seeds: dict[str, Path], edits) -> None:
    work = _workdir()
    try:
        path = shutil.copy(seeds["nir"], work / "g.nir")
        _hdf5_edit(path, _datasets(seeds["nir"]), edits)
        _cli(["export", "--from-nir", str(path), "-o", str(work / "out"), "--timesteps", "4"])
    finally:
        shutil.rmtree(work)


CONFIG_KEYS = ["data.timesteps", "data.gain", "data.latency_tau", "data.encoding", "model.kind", "model.hidden",
               "model.conv", "model.heads", "model.patch", "model.neuron.beta", "model.neuron.threshold",
               "model.skip", "train.lr", "train.epochs", "train.batch_size", "train.seed", "sim.samples",
               "export.percentile", "nosuch.key", "model"]


@FUZZ
@given(sets=st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), JSON), max_size=4),
       text=st.one_of(st.none(), st.binary(max_size=60), JSON.map(json.dumps)))
def test_fuzz_config(sets, text) -> None:
    from snnx.train.models import spec_from_config

    work = _workdir()
    try:
        path = None
        if text is not None:
            path = work / "c.yaml"
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
        overrides = [f"{k}={json.dumps(v)}" for k, v in sets]
        try:
            cfg = resolve(path, overrides)
            spec_from_config(cfg.model, (1, 28, 28), 10, cfg.train.qat)  # the model the config describes
        except SnnxError:
            pass
    finally:
        shutil.rmtree(work)


@FUZZ
@given(where=st.lists(st.sampled_from(["spec", "config", "epoch", "metrics", "weights", "weights_sha256",
                                       "format", "optimizer", "spec.layers", "spec.input_shape", "spec.beta",
                                       "spec.layers.0", "spec.layers.0.out", "config.model"]), min_size=1,
                      max_size=3),
       values=st.lists(JSON, min_size=3, max_size=3),
       flips=st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 255)), max_size=4))
def test_fuzz_checkpoint(seeds: dict[str, Path], where, values, flips) -> None:
    work = _workdir()
    try:
        run = Path(shutil.copytree(seeds["run"], work / "run"))
        meta = json.loads((run / "checkpoint.json").read_text())
        for key, value in zip(where, values, strict=False):
            node, parts = meta, key.split(".")
            with contextlib.suppress(TypeError, KeyError, IndexError, ValueError):  # an earlier edit removed it
                for part in parts[:-1]:
                    node = node[int(part)] if isinstance(node, list) else node[part]
                node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
        (run / "checkpoint.json").write_text(json.dumps(meta))
        if flips:
            data = bytearray((run / "checkpoint.safetensors").read_bytes())
            for pos, byte in flips:
                data[pos % len(data)] = byte
            (run / "checkpoint.safetensors").write_bytes(bytes(data))
            meta["weights_sha256"] = __import__("hashlib").sha256(bytes(data)).hexdigest()
            (run / "checkpoint.json").write_text(json.dumps(meta))
        _cli(["export", str(run)])
    finally:
        shutil.rmtree(work)
