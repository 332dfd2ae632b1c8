"""NeuroBench's metrics in energy.json against NeuroBench 2.x's own implementation (neurobench, dev group).

The model is the committed snnTorch fixture (tests/export/fixtures/snntorch_zero.nir: a 784-64-10
snn.Leaky network trained briefly on MNIST, reset to zero) on its committed Poisson inputs.
Two checks:

* the definitions: snnx's functions applied to the snnTorch model's own tensors and recorded
  spikes/membranes give exactly NeuroBench's numbers on that model;
* the deployed network: ``snnx export --from-nir`` + ``snnx sim --input`` + ``snnx deploy`` give
  energy.json figures beside NeuroBench's on the float model, apart by what docs/design.md §8.1
  names (int8 zeros, T + L steps on the chip against T forward calls, fixed vs float dynamics).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.static import ConnectionSparsity, Footprint
from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
from neurobench.models import SNNTorchModel

import snnx
from snnx.deploy.energy import activation_sparsity, connection_sparsity, footprint_bytes
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.sim.activity import ActivityAccumulator, membrane_changes

FIXTURES = Path(__file__).resolve().parents[1] / "export" / "fixtures"
sys.path.insert(0, str(FIXTURES))
import fixture_common  # noqa: E402

SAMPLES = 200


def _snntorch_net() -> torch.nn.Sequential:
    """The fixture network as snnTorch runs it (the weights read back from its NIR file)."""
    graph = nir.read(FIXTURES / "snntorch_zero.nir")

    def leaky(n: int, **kw) -> snn.Leaky:
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", **kw)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), leaky(64), torch.nn.Linear(64, 10),
                              leaky(10, output=True))
    with torch.no_grad():
        for i, key in ((1, "1"), (3, "3")):
            net[i].weight.copy_(torch.from_numpy(np.asarray(graph.nodes[key].weight, dtype=np.float32)))
            net[i].bias.copy_(torch.from_numpy(np.asarray(graph.nodes[key].bias, dtype=np.float32)))
    return net.eval()


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray]:
    x, labels = fixture_common.test_inputs()
    return x[:SAMPLES], labels[:SAMPLES]


@pytest.fixture(scope="module")
def neurobench(inputs) -> dict:
    """NeuroBench 2.x on the snnTorch model, its own Benchmark loop."""
    x, labels = inputs
    data = torch.utils.data.TensorDataset(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels.astype(np.int64)))
    loader = torch.utils.data.DataLoader(data, batch_size=100)
    bench = Benchmark(SNNTorchModel(_snntorch_net()), loader, [], [],
                      [[Footprint, ConnectionSparsity], [ActivationSparsity, SynapticOperations, MembraneUpdates]])
    return bench.run(quiet=True)


def _record(net: torch.nn.Sequential, x: torch.Tensor):
    """Run snnTorch step by step: each Linear's input, each Leaky's spikes and membrane after the step."""
    from snntorch import utils

    utils.reset(net)
    ins, spk, mem = ([[], []] for _ in range(3))
    with torch.no_grad():
        for t in range(x.shape[1]):
            h = net[0](x[:, t])
            for j, (lin, lif) in enumerate(((net[1], net[2]), (net[3], net[4]))):
                ins[j].append(h)
                out = lif(lin(h))
                h = out[0] if isinstance(out, tuple) else out
                spk[j].append(h)
                mem[j].append(lif.mem.clone())
    stack = lambda a: [torch.stack(layer, 1).numpy() for layer in a]  # noqa: E731  [B, T, n]
    return stack(ins), stack(spk), stack(mem)


def test_definitions_match_neurobench_on_its_model(inputs, neurobench) -> None:
    x, _ = inputs
    net = _snntorch_net()
    tensors = [p.detach().numpy() for p in net.parameters()] + [b.detach().numpy() for b in net.buffers()]
    assert footprint_bytes(tensors) == neurobench["Footprint"]
    weights = [net[1].weight.detach().numpy(), net[3].weight.detach().numpy()]
    assert round(connection_sparsity(weights), 4) == neurobench["ConnectionSparsity"]
    ins, spk, mem = _record(net, torch.from_numpy(x.astype(np.float32)))
    spikes = sum(int(np.count_nonzero(s)) for s in spk)
    assert activation_sparsity(spikes, sum(s.size for s in spk)) == pytest.approx(neurobench["ActivationSparsity"], abs=1e-12)
    assert sum(membrane_changes(m) for m in mem) / len(x) == neurobench["MembraneUpdates"]
    # synaptic ops: snnx's own accounting (nonzero input x nonzero fan-out) on snnTorch's spikes,
    # through a LoihiNet holding the binarized weights NeuroBench multiplies with
    binary = LoihiNet(InputSpec((784,), "spikes", x.shape[1]), tuple(
        LoihiLayer("dense", (w.shape[0],), weight=(w != 0).astype(np.int64)) for w in weights))
    acc = ActivityAccumulator(binary)
    acc.add(ins[0] != 0, [s != 0 for s in spk])
    synops = sum(layer.synops for layer in acc.result())
    ops = neurobench["SynapticOperations"]
    assert synops == ops["Effective_ACs"] and ops["Effective_MACs"] == 0
    assert ops["Dense"] == (784 * 64 + 64 * 10) * x.shape[1]


def test_energy_json_beside_neurobench(tmp_path: Path, inputs, neurobench) -> None:
    x, labels = inputs
    run = tmp_path / "run"
    snnx.export(from_nir=FIXTURES / "snntorch_zero.nir", out=run, timesteps=x.shape[1])
    np.save(tmp_path / "spikes.npy", x)
    np.save(tmp_path / "labels.npy", labels.astype(np.int64))
    snnx.simulate(run, input=tmp_path / "spikes.npy", labels=tmp_path / "labels.npy")
    nb = snnx.deploy(run, target="loihi2").energy["neurobench"]
    assert nb == json.loads((run / "deploy" / "loihi2" / "energy.json").read_text())["neurobench"]
    theirs = neurobench["SynapticOperations"]
    ours = nb["SynapticOperations"]
    assert ours["Dense"] == theirs["Dense"]  # every synapse at each of the T steps
    assert ours["Effective_MACs"] == theirs["Effective_MACs"] == 0  # binary spikes in
    # int8 zeros (1.5 % of the weights here) and fixed-point dynamics: measured -1.4 %
    assert ours["Effective_ACs"] == pytest.approx(theirs["Effective_ACs"], rel=0.03)
    assert nb["ConnectionSparsity"] >= neurobench["ConnectionSparsity"]  # quantization only adds zeros
    # the same spikes spread over T + L chip steps instead of T forward calls
    steps, t = x.shape[1] + 2, x.shape[1]
    assert nb["ActivationSparsity"] == pytest.approx(1 - (1 - neurobench["ActivationSparsity"]) * t / steps, abs=0.005)
    # integer membranes decay to exactly 0 and stop changing; float ones never do
    assert 0.5 * neurobench["MembraneUpdates"] < nb["MembraneUpdates"] < neurobench["MembraneUpdates"]
    weights = 784 * 64 + 64 * 10
    assert weights <= nb["Footprint"] <= weights + 2 * 74 + 2 * 16  # int8 weights, biases, 4 scalars a layer
    assert nb["footprint_float32_bytes"] == 4 * (weights + 74 + 8)
