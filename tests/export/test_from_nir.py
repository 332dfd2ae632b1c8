"""NIR graphs from other tools: nir's own API, snntorch's exporter, and nodes Loihi cannot run."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch import utils
from snntorch.export_nir import export_to_nir

from snnx.cli import main
from snnx.errors import SnnxError
from snnx.export.from_nir import graph_to_float
from snnx.export.nir_build import build_from_nir
from snnx.loihi.netx import read_netx

pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")


# ----------------------------------------------------------------------------- nir's own API


def _api_graph(rng: np.random.Generator, dt: float = 1e-3) -> nir.NIRGraph:
    """784 -> 30 LIF (r = 1, per-neuron thresholds, v_leak) -> 10 CubaLIF, nodes listed out of order."""
    n1, n2 = 30, 10
    w1 = rng.normal(0, 0.3, (n1, 784))
    w2 = rng.normal(0, 0.5, (n2, n1))
    lif = nir.LIF(tau=np.full(n1, 5e-3), r=np.ones(n1), v_leak=rng.normal(0, 0.2, n1),
                  v_threshold=rng.uniform(0.5, 2.0, n1), v_reset=np.zeros(n1))
    cuba = nir.CubaLIF(tau_syn=np.full(n2, 4e-3), tau_mem=np.full(n2, 1e-2), r=np.full(n2, 2.0),
                       v_leak=np.zeros(n2), v_threshold=np.full(n2, 0.2), v_reset=np.zeros(n2), w_in=np.full(n2, 1.5))
    nodes = {"readout": cuba, "output": nir.Output(output_type={"output": np.array([n2])}),
             "w2": nir.Linear(weight=w2), "hidden": lif, "w1": nir.Affine(weight=w1, bias=np.zeros(n1)),
             "flat": nir.Flatten(input_type={"input": np.array([1, 28, 28])}, start_dim=0, end_dim=-1),
             "input": nir.Input(input_type={"input": np.array([1, 28, 28])})}
    edges = [("w2", "readout"), ("flat", "w1"), ("readout", "output"), ("input", "flat"), ("hidden", "w2"),
             ("w1", "hidden")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})


def _euler(graph: nir.NIRGraph, x: np.ndarray, dt: float) -> np.ndarray:
    """Straight from the NIR equations (forward Euler, float64), with snnx's one-step synapse delay
    and layer l held at zero until the sample reaches it (step l + 1, as netx runs it)."""
    chain = ["input", "flat", "w1", "hidden", "w2", "readout"]
    n = graph.nodes
    steps = x.shape[0] + 2
    s = np.zeros((steps, x.shape[1], 784))
    s[: x.shape[0]] = x.reshape(x.shape[0], x.shape[1], -1)
    for hold, (syn, neu) in enumerate(((chain[2], chain[3]), (chain[4], chain[5])), start=1):
        w = n[syn].weight
        b = getattr(n[syn], "bias", 0.0)
        cur = np.concatenate([np.zeros_like(s[:1] @ w.T), s[:-1] @ w.T + b])
        node = n[neu]
        v = np.zeros(cur.shape[1:])
        i = np.zeros_like(v)
        out = np.zeros_like(cur)
        for t in range(hold, steps):
            if isinstance(node, nir.CubaLIF):
                i = i + dt / node.tau_syn * (-i + node.w_in * cur[t])
                v = v + dt / node.tau_mem * (node.v_leak - v + node.r * i)
            else:
                v = v + dt / node.tau * (node.v_leak - v + node.r * cur[t])
            out[t] = v > node.v_threshold
            v = np.where(out[t] > 0, node.v_reset, v)
        s = out
    return s


def test_graph_from_nir_api_is_read_by_its_equations(tmp_path):
    rng = np.random.default_rng(0)
    g = _api_graph(rng)
    nir.write(tmp_path / "api.nir", g)
    x = (rng.random((10, 32, 1, 28, 28)) < 0.2).astype(np.float64)
    want = _euler(g, x, 1e-3)
    model = build_from_nir(nir.read(tmp_path / "api.nir"))
    with torch.no_grad():
        got = model(torch.as_tensor(x, dtype=torch.float32)).spikes[-1].numpy()
    assert want.sum() > 50
    assert np.mean(want != got) < 1e-3  # float32 vs float64 rounding only


def test_export_from_nir_file_writes_a_loihi_net(tmp_path, capsys):
    g = _api_graph(np.random.default_rng(1))
    nir.write(tmp_path / "api.nir", g)
    run = tmp_path / "run"
    assert main(["export", "--from-nir", str(tmp_path / "api.nir"), "-o", str(run), "--timesteps", "10"]) == 0
    net = read_netx(run / "model.net")
    assert [layer.kind for layer in net.layers] == ["flatten", "dense", "dense"]
    assert net.input.timesteps == 10 and net.dt == 1e-3 and net.source == "nir:api.nir"
    hidden = net.layers[1]
    assert (hidden.du, hidden.dv) == (4095, round(0.2 * 4096))  # alpha = 0, beta = 1 - 1e-3/5e-3
    quant = json.loads((run / "quant.json").read_text())
    assert [q["name"] for q in quant["layers"]] == ["w1", "w2"]
    assert (run / "model.nir").read_bytes() == (tmp_path / "api.nir").read_bytes()


# ----------------------------------------------------------------------------- snntorch


def _snntorch_net(bias: bool) -> torch.nn.Sequential:
    torch.manual_seed(0)
    n1, n2 = 40, 10
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, n1, bias=bias),
        snn.Leaky(beta=torch.full((n1,), 0.9), threshold=torch.full((n1,), 0.5), init_hidden=True,
                  reset_mechanism="zero", reset_delay=False),
        torch.nn.Linear(n1, n2, bias=bias),
        snn.Synaptic(alpha=torch.full((n2,), 0.6), beta=torch.full((n2,), 0.8), threshold=torch.full((n2,), 0.3),
                     init_hidden=True, output=True, reset_mechanism="zero", reset_delay=False),
    )


def _snntorch_graph(tmp_path, bias: bool):
    net = _snntorch_net(bias)
    with torch.no_grad():
        net[1].weight.mul_(4.0)
    g = export_to_nir(net, torch.zeros(1, 1, 28, 28), ignore_dims=[0])
    nir.write(tmp_path / "snntorch.nir", g)
    return net, tmp_path / "snntorch.nir"


def test_snntorch_export_rebuilds_to_the_same_spikes(tmp_path):
    net, path = _snntorch_graph(tmp_path, bias=False)
    g = nir.read(path)
    assert {type(n).__name__ for n in g.nodes.values()} >= {"LIF", "CubaLIF", "Linear", "Flatten"}
    x = (torch.rand(15, 20, 1, 28, 28, generator=torch.Generator().manual_seed(3)) < 0.25).float()
    utils.reset(net)
    with torch.no_grad():
        want = torch.stack([net(x[t])[0] for t in range(x.shape[0])])
        got = build_from_nir(g)(x).spikes[-1][2:]  # two synapse delays
    assert want.sum() > 20
    assert torch.equal(want, got)


def test_snntorch_export_with_bias_exports_and_notes_the_approximation(tmp_path):
    _, path = _snntorch_graph(tmp_path, bias=True)
    run = tmp_path / "run"
    assert main(["export", "--from-nir", str(path), "-o", str(run)]) == 0
    net = read_netx(run / "model.net")
    assert net.input.encoding == "spikes" and net.input.timesteps == 0  # snntorch stores no time steps
    assert (net.layers[1].du, net.layers[1].dv) == (4095, round(0.1 * 4096))
    assert (net.layers[2].du, net.layers[2].dv) == (round(0.4 * 4096) - 1, round(0.2 * 4096))
    quant = json.loads((run / "quant.json").read_text())
    assert quant["layers"][0]["notes"] == []
    assert "steady state" in quant["layers"][1]["notes"][0]


# ----------------------------------------------------------------------------- refusals


def _chain(*mid: tuple[str, nir.NIRNode], shape=(16,), edges=None) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)}), **dict(mid)}
    last = mid[-1][1].output_type["output"]
    nodes["output"] = nir.Output(output_type={"output": np.array(last)})
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=edges or list(zip(names[:-1], names[1:], strict=True)), type_check=False)


def _lif(n: int, **kw) -> nir.LIF:
    p = dict(tau=np.full(n, 2e-3), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))
    p.update(kw)
    return nir.LIF(**p)


def _pool(k: int, s: int | None = None) -> nir.SumPool2d:
    return nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([s or k, s or k]), padding=np.array([0, 0]))


def _conv(c_out: int, c_in: int, k: int, padding: int = 0) -> nir.Conv2d:
    return nir.Conv2d(input_shape=None, weight=np.ones((c_out, c_in, k, k)), stride=1, padding=padding, dilation=1,
                      groups=1, bias=np.zeros(c_out))


def _aff(n_out: int, n_in: int = 16) -> nir.Affine:
    return nir.Affine(weight=np.ones((n_out, n_in)), bias=np.zeros(n_out))


@pytest.mark.parametrize("graph,node,ntype,advice", [
    (lambda: _chain(("fc", _aff(8)), ("li", nir.LI(tau=np.ones(8), r=np.ones(8), v_leak=np.zeros(8)))),
     "li", "LI", "end the network with a LIF"),
    (lambda: _chain(("pool", _pool(2)), ("pool2", _pool(2)), ("if", nir.IF(r=np.ones(1), v_threshold=np.ones(1))),
                    shape=(1, 8, 8)),
     "pool2", "SumPool2d", "two poolings"),
    (lambda: _chain(("pool", _pool(3, 2)), ("conv", _conv(1, 1, 3)), ("if", nir.IF(r=np.ones(1), v_threshold=np.ones(1))),
                    shape=(1, 9, 9)),
     "pool", "SumPool2d", "stride != kernel"),
    (lambda: _chain(("fc", _aff(16)), ("lif", _lif(16)), ("rec", _aff(16, 16)),  # a loop back to the synapse, not
                    edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "fc"), ("lif", "output")]),  # dense_rec
     "fc", "Affine", "recurrence"),
    (lambda: _chain(("fc", _aff(8)), ("lif", _lif(8, v_reset=np.full(8, -0.5)))), "lif", "LIF", "resets the membrane to 0"),
    (lambda: _chain(("fc", _aff(8)), ("lif", _lif(8, tau=np.linspace(1e-3, 2e-3, 8)))), "lif", "LIF", "one decay per layer"),
    (lambda: _chain(("fc", _aff(8)), ("lif", _lif(8)), ("head", _aff(4, 8))), "head", "Affine", "add a LIF layer"),
    (lambda: _chain(("fc", _aff(8)), ("lif", _lif(8, tau=np.full(8, 5e-5)))), "lif", "LIF", "tau >= dt"),
    (lambda: _chain(("delay", nir.Delay(delay=np.ones(16))), ("fc", _aff(8)), ("lif", _lif(8))),
     "delay", "Delay", "remove the Delay"),
])
def test_unsupported_nodes_are_named_with_advice(graph, node, ntype, advice):
    with pytest.raises(SnnxError) as err:
        graph_to_float(graph())
    msg = str(err.value)
    assert f"'{node}'" in msg and ntype in msg and advice in msg and "\n" not in msg


def test_snntorch_rleaky_export_imports_with_its_spikes():
    """snnTorch's RLeaky exports as a flat Affine self-loop around the LIF; snnx imports it as a
    recurrent (dense_rec) layer whose float spikes are snnTorch's own, one step later (Loihi's
    synapse delay, docs/design.md §5, §12)."""
    from snntorch import utils

    from snnx.export.nir_build import build_float_model

    n = 12
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, n), snn.RLeaky(beta=torch.full((n,), 0.9), linear_features=n,
                                                                 init_hidden=True, output=True,
                                                                 reset_mechanism="zero", reset_delay=False))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    fnet = graph_to_float(export_to_nir(net, torch.zeros(1, 16), ignore_dims=[0]))
    assert fnet.layers[0].weight_rec is not None
    x = (torch.rand(30, 8, 16, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    utils.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t])[0] for t in range(30)])
        ours = build_float_model(fnet)(x).spikes[0]
    assert 100 < float(ref.sum()) < ref.numel() / 2
    assert torch.equal(ours[1:], ref)


def test_cli_refusals_exit_2_and_leave_no_files(tmp_path, capsys):
    bad = tmp_path / "li.nir"
    nir.write(bad, _chain(("fc", _aff(8)), ("li", nir.LI(tau=np.ones(8), r=np.ones(8), v_leak=np.zeros(8)))))
    garbage = tmp_path / "garbage.nir"
    garbage.write_bytes(b"not an hdf5 file at all")
    run = tmp_path / "run"
    cases = [(bad, "type LI"), (garbage, "not a readable NIR graph"), (tmp_path / "missing.nir", "not found")]
    for path, words in cases:
        assert main(["export", "--from-nir", str(path), "-o", str(run)]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1
        assert not run.exists() or not any(run.iterdir())
    assert main(["export", "--from-nir", str(bad)]) == 2
    assert "-o" in capsys.readouterr().err
