"""``snnx deploy`` on a folder holding only a foreign model.net: bundle and core map, energy only from counts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snnx.cli import main
from snnx.deploy.manifest import verify_bundle
from snnx.deploy.mapping import core_map
from snnx.deploy.stage import DeployReport, deploy_command
from snnx.errors import SnnxError
from snnx.loihi.netx import write_netx
from snnx.sim.fast import simulate
from snnx.sim.randnet import random_dense_net, random_inputs
from snnx.sim.stage import sim_command


@pytest.fixture()
def foreign(tmp_path: Path):
    """A folder with only a netx model.net (input encoding unknown), a spike file and its labels."""
    rng = np.random.default_rng(5)
    net = random_dense_net(rng, [40, 24, 6], extreme=False)
    net = replace(net, input=replace(net.input, encoding="spikes", timesteps=0),
                  layers=[replace(layer, vth=60) for layer in net.layers])
    run = tmp_path / "foreign"
    write_netx(net, run / "model.net")
    x = random_inputs(rng, net, 10, 7, rate=0.4)
    np.save(tmp_path / "spikes.npy", x)
    np.save(tmp_path / "labels.npy", simulate(net, x).predictions)
    return run, net, tmp_path / "spikes.npy", tmp_path / "labels.npy"


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_without_sim_json_bundle_and_core_map_but_no_invented_energy(foreign, capsys):
    run, net, spikes, _ = foreign
    assert main(["deploy", str(run)]) == 0
    out = capsys.readouterr().out
    assert "energy: not computed" in out and "--input spikes.npy" in out and "[samples, T, 40]" in out
    bundle = run / "deploy" / "loihi2"
    assert sorted(files(bundle)) == ["core_map.json", "energy.md", "manifest.json", "model.net"]
    manifest = verify_bundle(bundle)
    assert manifest.timesteps is None and manifest.reset_interval is None and manifest.latency_steps == 2
    assert "sim.json" not in manifest.inputs and "snnx sim" in manifest.energy_missing
    assert "T is not recorded" in manifest.input["how_to_run"]
    report = DeployReport.load(bundle)
    assert not report.has_energy and report.energy == {}
    cmap = json.loads((bundle / "core_map.json").read_text())
    assert cmap["schema"] == "snnx.core_map/2"
    assert cmap["total_cores"] == core_map(net)["total_cores"] == 2
    md = (bundle / "energy.md").read_text()
    assert "Energy not computed" in md and "uJ" not in md
    assert not (run / "sim.json").exists()  # deploy does not simulate


def test_with_sim_on_the_users_spikes_energy_and_accuracy(foreign):
    run, net, spikes, labels = foreign
    sim = sim_command(run, "fast", None, spikes, None, None, labels)
    assert sim.fixed_accuracy == 1.0
    report = deploy_command(run, "loihi2", False, None, None)
    assert report.has_energy and report.energy["accuracy"] == 1.0
    assert report.energy["input"] == str(spikes) and report.energy["samples"] == 10
    assert report.energy["synops_per_inference"] == pytest.approx(sum(e["synops"] for e in sim.layers))
    bundle = run / "deploy" / "loihi2"
    manifest = verify_bundle(bundle)
    assert manifest.timesteps == 7 and manifest.steps_per_sample == 9 and manifest.reset_interval == 8
    assert "sim.json" in manifest.inputs
    assert f"10 samples of {spikes}" in (bundle / "energy.md").read_text()


def test_errors_are_one_line_and_keep_the_previous_bundle(foreign, capsys):
    run, net, spikes, labels = foreign
    sim_command(run, "fast", None, spikes, None, None, labels)
    assert main(["deploy", str(run)]) == 0
    bundle = run / "deploy" / "loihi2"
    before = files(bundle)
    capsys.readouterr()
    assert main(["deploy", str(run), "--target", "nir"]) == 2  # no model.nir in a netx-only folder
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.nir not found" in err and "--target loihi2" in err
    write_netx(replace(net, layers=[replace(net.layers[0], vth=61), net.layers[1]]), run / "model.net")
    assert main(["deploy", str(run)]) == 2  # sim.json counted another model.net
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "stale" in err and "snnx sim" in err
    assert files(bundle) == before
    assert main(["deploy", str(run.parent / "nothing")]) == 2
    assert "model.net not found" in capsys.readouterr().err
    with pytest.raises(SnnxError, match="--target 'tpu'"):
        deploy_command(run, "tpu", False, None, None)


NETX = Path(__file__).parents[1] / "sim" / "fixtures" / "netx"


@pytest.mark.parametrize(("name", "offset", "cores"), [("bootstrap_mnist_like.net", 0, None),
                                                       ("lavadl/mnist_tutorial.net", 1, [3, 1, 1])])
def test_lavadl_files_deploy_with_netx_reset_offset_and_port(tmp_path, name, offset, cores):
    """A lava-dl Input block adds no latency: its manifest says reset_offset 0 and names the port a
    source can drive; the tutorial net maps to the compiler's 3 + 1 + 1 cores."""
    run = tmp_path / "lavadl"
    run.mkdir()
    (run / "model.net").write_bytes((NETX / name).read_bytes())
    assert main(["deploy", str(run)]) == 0
    manifest = verify_bundle(run / "deploy" / "loihi2")
    assert manifest.reset_offset == offset
    assert ("in_layer.neuron.a_in" in manifest.input["port"]) == (offset == 0)
    if cores is not None:
        cmap = json.loads((run / "deploy" / "loihi2" / "core_map.json").read_text())
        assert [entry["cores"] for entry in cmap["layers"]] == cores
