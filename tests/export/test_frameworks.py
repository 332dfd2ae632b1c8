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
from snnx.loihi.netx import read_netx
from snnx.sim.fast import FastSimulator, predictions

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
    net = read_netx(run / "model.net")
    sim = FastSimulator(net, x.shape[1])
    counts = [sim.run(x[lo : lo + 500].reshape(-1, x.shape[1], *net.input.shape)).counts for lo in range(0, len(x), 500)]
    return predictions(np.concatenate(counts))


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
    assert agree["sinabs_lif"] < agree["sinabs_lif_reset"]


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
    net = read_netx(run / "model.net")
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
    net = read_netx(run / "model.net")
    ours = FastSimulator(net, x.shape[1]).run(x).counts
    theirs = np.load(FIXTURES / "sinabs_cnn.npz")["counts"].astype(np.int64)
    assert theirs.sum() > 0
    # 8-bit weights vs Sinabs' float32: counts stay within a spike or two of Sinabs' own
    assert np.abs(ours - theirs).mean() <= 1.0


# ----------------------------------------------------------------------------- pooling and Scale on their own


def _pool_graph(avg: bool) -> nir.NIRGraph:
    """conv -> IF -> (Avg|Sum)Pool2d -> Scale -> IF -> Flatten -> Affine -> LIF: pooling between neurons."""
    rng = np.random.default_rng(3)
    pool_cls = nir.AvgPool2d if avg else nir.SumPool2d
    ones = lambda *s: np.ones(s)  # noqa: E731
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
        "conv": nir.Conv2d(
            input_shape=(8, 8),
            weight=rng.normal(0.3, 0.5, (4, 2, 3, 3)),
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.zeros(4),
        ),
        "if1": nir.IF(
            r=ones(4, 8, 8) * 1e4, v_threshold=ones(4, 8, 8)
        ),  # r = 1/dt: v += I per step
        "pool": pool_cls(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        ),
        "scale": nir.Scale(scale=np.array([1.0, 0.5, 2.0, 1.0])),
        "if2": nir.IF(r=ones(4, 4, 4) * 1e4, v_threshold=np.full((4, 4, 4), 0.5 if avg else 1.5)),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0.1, 0.4, (10, 64)), bias=np.zeros(10)),
        "lif": nir.LIF(
            tau=np.full(10, 1e-3),
            r=np.ones(10),
            v_leak=np.zeros(10),
            v_threshold=np.full(10, 0.2),
            v_reset=np.zeros(10),
        ),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    names = list(nodes)
    return nir.NIRGraph(
        nodes=nodes,
        edges=list(zip(names[:-1], names[1:], strict=True)),
        metadata={"dt": 1e-4},
        type_check=False,
    )


@pytest.mark.parametrize("avg", [False, True])
def test_pooling_between_neurons_is_a_grouped_convolution_bit_exact_with_lava(
    tmp_path, capsys, avg
):
    nir.write(tmp_path / "pool.nir", _pool_graph(avg))
    run = tmp_path / "run"
    assert (
        main(
            [
                "export",
                "--from-nir",
                str(tmp_path / "pool.nir"),
                "-o",
                str(run),
                "--timesteps",
                "12",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "grouped convolution" in out and "Scale" in out
    pool = read_netx(run / "model.net").synapse_layers[1]
    assert pool.kind == "conv" and pool.groups == 4 and pool.weight.shape == (4, 1, 2, 2)
    assert (
        np.all(pool.weight == pool.weight[:, :, :1, :1]) and pool.name == "pool"
    )  # constant per channel
    x = (np.random.default_rng(4).random((6, 12, 2, 8, 8)) < 0.3).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["sim", str(run), "--input", str(tmp_path / "x.npy"), "--backend", "both"]) == 0
    result = json.loads((run / "sim.json").read_text())
    assert result["lava_fast_identical"] is True and all(
        la["spikes"] > 0 for la in result["layers"]
    )


def test_pooled_chain_matches_its_float_equations():
    """The composed synapses compute what the chain of NIR nodes computes (float64, one step, IF inputs)."""
    import torch
    import torch.nn.functional as F

    g = _pool_graph(avg=True)
    fnet = graph_to_float(g)
    s = torch.as_tensor((np.random.default_rng(5).random((3, 4, 8, 8)) < 0.5).astype(np.float64))
    pooled = F.avg_pool2d(s, 2) * torch.tensor([1.0, 0.5, 2.0, 1.0]).reshape(1, 4, 1, 1)
    pool_layer = fnet.layers[1]
    got = F.conv2d(
        s,
        torch.as_tensor(pool_layer.weight),
        None,
        pool_layer.stride,
        pool_layer.padding,
        groups=pool_layer.groups,
    )
    assert pool_layer.threshold == 0.5  # IF with r = 1/dt: gain 1, the graph's threshold
    assert torch.allclose(got, pooled, atol=1e-12)


# ----------------------------------------------------------------------------- dead networks and --labels


def _dense_graph(w1: np.ndarray, theta: float) -> nir.NIRGraph:
    n = w1.shape[0]
    nodes = {
        "input": nir.Input(input_type={"input": np.array([w1.shape[1]])}),
        "fc": nir.Linear(weight=w1),
        "lif": nir.LIF(
            tau=np.full(n, 1e-4),
            r=np.ones(n),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, theta),
            v_reset=np.zeros(n),
        ),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    return nir.NIRGraph(
        nodes=nodes,
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        metadata={"dt": 1e-4},
        type_check=False,
    )


@pytest.mark.parametrize(
    "w,theta,words",
    [
        (np.full((10, 100), -0.1), 1.0, "can never reach its threshold"),  # only inhibition
        (
            np.full((10, 100), 0.0101),
            1.0,
            "silent on 8 random inputs",
        ),  # tau = dt: needs all 100 inputs at once
    ],
)
def test_a_network_that_cannot_spike_is_warned_about_in_one_line(tmp_path, capsys, w, theta, words):
    nir.write(tmp_path / "g.nir", _dense_graph(w, theta))
    assert (
        main(
            [
                "export",
                "--from-nir",
                str(tmp_path / "g.nir"),
                "-o",
                str(tmp_path / "r"),
                "--timesteps",
                "5",
            ]
        )
        == 0
    )
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert len(warnings) == 1 and words in warnings[0]


def test_a_live_network_gets_no_warning(tmp_path, capsys):
    _, out = _export(tmp_path, "snntorch_zero", capsys)
    assert "warning" not in out


def test_sim_labels_give_the_accuracy_of_a_users_spikes(tmp_path, capsys, inputs):
    x, labels = inputs
    run, _ = _export(tmp_path, "spikingjelly", capsys)
    np.save(tmp_path / "x.npy", x[:300])
    np.save(tmp_path / "y.npy", labels[:300].astype(np.int64))
    assert (
        main(
            [
                "sim",
                str(run),
                "--input",
                str(tmp_path / "x.npy"),
                "--labels",
                str(tmp_path / "y.npy"),
            ]
        )
        == 0
    )
    result = json.loads((run / "sim.json").read_text())
    want = np.mean(_predictions(run, x[:300]) == labels[:300])
    assert result["fixed_accuracy"] == pytest.approx(want) and want > 0.5
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "labels,words",
    [
        (np.zeros(3), "has 3 labels but"),
        (np.zeros((300, 2)), "1-D array"),
        (np.full(300, 0.5), "integer classes"),
    ],
)
def test_bad_labels_are_one_line_errors(tmp_path, capsys, inputs, labels, words):
    x, _ = inputs
    run, _ = _export(tmp_path, "spikingjelly", capsys)
    np.save(tmp_path / "x.npy", x[:300])
    np.save(tmp_path / "y.npy", labels)
    rc = main(
        ["sim", str(run), "--input", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and words in err and err.count("\n") == 1
    assert not (run / "sim.json").exists()
