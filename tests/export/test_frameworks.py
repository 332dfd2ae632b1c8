"""Graphs exactly as other frameworks' NIR exporters write them (fixtures made once with the real packages).

Each fixture under ``fixtures/`` was made by ``make_<framework>.py`` in that framework's own venv: a small
784-64-10 network trained briefly on MNIST, exported by the framework's exporter, and the framework's own
float output spike counts on 1,000 Poisson-coded MNIST test images (``mnist_poisson.npz``). Here snnx
exports each graph to Loihi fixed point and simulates the same input spikes: the predictions must agree
with the framework's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

from snnx.cli import main
from snnx.export.from_nir import graph_to_float, read_graph
from snnx.export.loihinet import LoihiNet
from snnx.sim.fast import Stream

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import fixture_common  # noqa: E402  (numpy only: shared with the generator scripts)

# fixture, --framework, agreement threshold (honest: measured 96-99 %; see README's interop table)
CASES = [
    ("snntorch_zero", "snntorch", 0.97),
    ("norse", "norse", 0.97),
    ("sinabs_lif_reset", "sinabs", 0.97),
    ("rockpool", "rockpool", 0.95),
    ("spikingjelly", "spikingjelly", 0.97),
]


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray]:
    return fixture_common.test_inputs()


def _export(tmp_path: Path, name: str, capsys, *args: str) -> tuple[Path, str]:
    run = tmp_path / name
    assert (
        main(
            [
                "export",
                "--from-nir",
                str(FIXTURES / f"{name}.nir"),
                "-o",
                str(run),
                "--timesteps",
                "25",
                *args,
            ]
        )
        == 0
    )
    return run, capsys.readouterr().out


def _predictions(run: Path, x: np.ndarray) -> np.ndarray:
    net = LoihiNet.load(run / "model.net")
    stream = Stream(net, x.shape[1])
    for lo in range(0, len(x), 500):
        stream.add(x[lo : lo + 500].reshape(-1, x.shape[1], *net.input.shape))
    return stream.result().predictions


def _theirs(name: str) -> np.ndarray:
    return np.load(FIXTURES / f"{name}.npz")["counts"].astype(np.int64)


@pytest.mark.parametrize("name,framework,threshold", CASES)
def test_graph_as_the_framework_writes_it_agrees_with_the_framework(
    tmp_path, capsys, inputs, name, framework, threshold
):
    x, labels = inputs
    run, out = _export(tmp_path, name, capsys, "--framework", framework)
    assert f"read as {framework} (--framework)" in out
    theirs = _theirs(name)
    assert theirs.sum(axis=1).mean() > 1  # the framework's network is not dead on these images
    ours = _predictions(run, x)
    agreement = np.mean(ours == theirs.argmax(axis=1))
    assert agreement >= threshold, f"{name}: {100 * agreement:.1f} % agreement with {framework}"
    assert np.mean(ours == labels) > 0.5  # and both classify: agreement on garbage would not count


@pytest.mark.parametrize(
    "name,framework", [(c[0], c[1]) for c in CASES] + [("sinabs_cnn", "sinabs")]
)
def test_auto_recognises_the_exporter_and_says_so_in_one_line(tmp_path, capsys, name, framework):
    _, out = _export(tmp_path, name, capsys)
    lines = [line for line in out.splitlines() if line.startswith("snnx: read as")]
    assert len(lines) == 1 and lines[0].startswith(f"snnx: read as {framework} (")


@pytest.mark.parametrize("name", ["norse", "sinabs_lif", "rockpool"])
def test_graphs_nir_strict_type_check_refuses_are_read(name):
    with pytest.raises(ValueError, match="Type inference error"):
        nir.read(FIXTURES / f"{name}.nir")  # batch dims in Input, scalar parameters
    fnet = graph_to_float(read_graph(FIXTURES / f"{name}.nir"))
    assert fnet.input_shape == (784,) and [la.out_shape for la in fnet.layers] == [(64,), (10,)]


def test_framework_units_give_the_framework_decays():
    """Each exporter's units for tau, read into the decays the framework itself computes with."""

    def layer0(name: str, framework: str):
        return graph_to_float(read_graph(FIXTURES / f"{name}.nir"), framework=framework).layers[0]

    assert layer0("snntorch_zero", "snntorch").beta == pytest.approx(
        0.9, abs=1e-6
    )  # snn.Leaky(beta=0.9)
    assert layer0("spikingjelly", "spikingjelly").beta == pytest.approx(
        0.5, abs=1e-6
    )  # LIFNode(tau=2)
    norse_layer = layer0("norse", "norse")  # LIFCell: tau_syn_inv 200, tau_mem_inv 100 at dt = 1 ms
    assert (norse_layer.alpha, norse_layer.beta) == (
        pytest.approx(0.8, abs=1e-6),
        pytest.approx(0.9, abs=1e-6),
    )
    tau = float(np.asarray(read_graph(FIXTURES / "sinabs_lif_reset.nir").nodes["1"].tau))
    assert layer0("sinabs_lif_reset", "sinabs").beta == pytest.approx(np.exp(-1 / tau), abs=1e-9)
    rp = layer0("rockpool", "rockpool")  # LIFTorch: tau 20 ms at dt 1 ms, exp decay
    assert (rp.alpha, rp.beta) == (
        pytest.approx(np.exp(-0.05), abs=1e-6),
        pytest.approx(np.exp(-0.05), abs=1e-6),
    )


def test_the_wrong_framework_is_not_silently_plausible(tmp_path, capsys):
    """Norse's dt*tau read with the NIR equations gives tau < dt: refused with the way out."""
    rc = main(
        [
            "export",
            "--from-nir",
            str(FIXTURES / "norse.nir"),
            "-o",
            str(tmp_path / "r"),
            "--framework",
            "nir",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "tau >= dt" in err and "--framework" in err
    assert not (tmp_path / "r").exists()  # a failed export leaves no empty run folder


@pytest.mark.parametrize(
    "name,words",
    [
        ("snntorch_subtract", ["reset_mechanism", "subtract", "Loihi"]),
        ("snntorch_synaptic", ["reset_delay=True", "Loihi"]),
        ("sinabs_lif", ["MembraneSubtract", "MultiSpike", "Loihi"]),
        ("rockpool", ["subtraction", "Loihi"]),
    ],
)
def test_resets_the_graph_cannot_carry_are_named(tmp_path, capsys, name, words):
    _, out = _export(tmp_path, name, capsys)
    notes = [
        line
        for line in out.splitlines()
        if line.startswith("snnx: ") and all(w in line for w in words)
    ]
    assert len(notes) == 1, out


def test_subtract_and_delayed_reset_graphs_disagree_more_than_zero_reset(tmp_path, capsys, inputs):
    """The warning is not decoration: the reset NIR cannot carry costs agreement."""
    x, _ = inputs
    agree = {}
    for name in ("snntorch_zero", "snntorch_synaptic", "sinabs_lif", "sinabs_lif_reset"):
        run, _ = _export(tmp_path, name, capsys)
        agree[name] = np.mean(_predictions(run, x) == _theirs(name).argmax(axis=1))
    assert agree["snntorch_synaptic"] < agree["snntorch_zero"]
    assert agree["sinabs_lif"] < agree["sinabs_lif_reset"] - 0.03


def test_snntorch_exporter_failures_are_recorded():
    """What snnTorch 1.0's own exporter does with a scalar beta (no graph exists for snnx to read)."""
    text = (FIXTURES / "snntorch_export_failures.txt").read_text()
    assert "snn.Leaky(beta=0.95)" in text and "Type inference error" in text


# ----------------------------------------------------------------------------- the NIR paper's Sinabs CNN


def _cnn_events() -> np.ndarray:
    z = np.load(FIXTURES / "sinabs_cnn.npz")
    shape = tuple(int(s) for s in z["shape"])
    return np.unpackbits(z["events"], count=int(np.prod(shape))).reshape(shape).astype(np.uint8)


def test_sinabs_cnn_exports_with_pooling_as_convolutions(tmp_path, capsys):
    run, out = _export(tmp_path, "sinabs_cnn", capsys)
    net = LoihiNet.load(run / "model.net")
    kinds = [(la.kind, la.shape) for la in net.layers if la.kind != "flatten"]
    # conv 8x32x32, then SumPool2d(2) merged into the 3x3 conv (6x6 kernel, stride 2), then pooling into dense
    assert kinds == [("conv", (8, 32, 32)), ("conv", (16, 16, 16)), ("dense", (10,))]
    assert net.layers[1].weight.shape[2:] == (6, 6) and net.layers[1].stride == (2, 2)
    assert "SumPool2d" in out or "pooling" in out


def test_sinabs_cnn_lava_and_fast_simulator_give_identical_spikes(tmp_path, capsys):
    run, _ = _export(tmp_path, "sinabs_cnn", capsys)
    x = _cnn_events()[:4]
    np.save(tmp_path / "events.npy", x)
    assert (
        main(["sim", str(run), "--input", str(tmp_path / "events.npy"), "--backend", "both"]) == 0
    )
    result = json.loads((run / "sim.json").read_text())
    assert result["lava_fast_identical"] is True
    assert all(
        layer["spikes"] > 0 for layer in result["layers"]
    )  # every layer is active: a real comparison


def test_sinabs_cnn_agrees_with_sinabs(tmp_path, capsys):
    run, _ = _export(tmp_path, "sinabs_cnn", capsys)
    x = _cnn_events()
    net = LoihiNet.load(run / "model.net")
    stream = Stream(net, x.shape[1])
    stream.add(x)
    ours = stream.result().counts
    theirs = np.load(FIXTURES / "sinabs_cnn.npz")["counts"].astype(np.int64)
    assert theirs.sum() > 0
    # 8-bit weights vs Sinabs' float32: counts stay within a spike or two of Sinabs' own
    assert np.abs(ours - theirs).mean() <= 1.0
