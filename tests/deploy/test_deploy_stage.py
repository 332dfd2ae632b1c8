"""``snnx deploy`` end to end on a briefly trained MNIST run: bundle, numbers, refusals, atomicity."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from snnx.deploy.manifest import verify_bundle
from snnx.deploy.stage import DeployReport, deploy_command
from snnx.errors import SnnxError
from snnx.loihi.netx import read_netx


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_run, mnist_dir) -> Path:
    """A copy of the session's tiny MNIST run, simulated on 200 test images."""
    from snnx.sim.stage import sim_command

    run = tmp_path_factory.mktemp("deploy") / "run"
    shutil.copytree(tiny_run, run)
    with contextlib.redirect_stdout(io.StringIO()):
        sim_command(run, "fast", 200, None, None, mnist_dir)
    return run


def deploy(
    run: Path, target: str = "loihi2", profile: str | None = None
) -> tuple[DeployReport, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report = deploy_command(run, target, False, profile, None)
    return report, out.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_loihi2_bundle_numbers_come_from_sim_json(run):
    report, stdout = deploy(run)
    bundle = run / "deploy" / "loihi2"
    assert {p.name for p in bundle.iterdir()} == {
        "model.net",
        "manifest.json",
        "core_map.json",
        "energy.json",
        "energy.md",
        "energy_layers.png",
    }
    energy = json.loads((bundle / "energy.json").read_text())
    sim = json.loads((run / "sim.json").read_text())
    for key, sim_key in [("synops_per_inference", "synops"), ("spikes_per_inference", "spikes")]:
        assert energy[key] == pytest.approx(sum(layer[sim_key] for layer in sim["layers"]))
    assert energy["synops_per_inference"] > 0 and energy["accuracy"] == sim["fixed_accuracy"]
    assert energy["energy_per_inference_uJ"] == pytest.approx(
        energy["dynamic_energy_per_inference_uJ"] + energy["static_energy_per_inference_uJ"]
    )
    # synops priced at 23.6 pJ are part of the dynamic energy
    assert energy["energy_by_component_uJ"]["synops"] == pytest.approx(
        energy["synops_per_inference"] * 23.6e-6
    )
    assert [layer["name"] for layer in energy["layers"]] == [
        layer["name"] for layer in sim["layers"]
    ]
    assert energy["profile"]["name"] == "loihi1-davies2018" and len(energy["reference_points"]) == 2
    # what snnx run reads, by attribute
    assert report.energy["energy_per_inference_uJ"] == energy["energy_per_inference_uJ"]
    assert report.core_map["total_cores"] >= 2 and report.core_map["chips"] == 1
    assert "Loihi 2 core map" in stdout and "energy per inference" in stdout
    md = (bundle / "energy.md").read_text()
    assert "23.6" in md and "Davies" in md and "Horowitz" in md and "Renner" in md
    assert (bundle / "energy_layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ann_macs_equal_the_ann_twin_of_the_checkpoint(run):
    from snnx.train.ann import macs_per_inference
    from snnx.train.checkpoint import Checkpoint

    report, _ = deploy(run)
    assert report.energy["ann"]["macs_per_inference"] == macs_per_inference(
        Checkpoint.load(run / "checkpoint.json").spec
    )


def test_manifest_describes_inputs_and_is_verified(run):
    deploy(run)
    bundle = run / "deploy" / "loihi2"
    m = verify_bundle(bundle)
    net = read_netx(bundle / "model.net")
    assert m.input["shape"] == list(net.input.shape) and m.input["encoding"] == "rate"
    assert m.timesteps == 25 and m.steps_per_sample == 25 + net.num_synapse_layers
    assert m.reset_interval == 32 and m.output["readout_window"] == [3, 27]
    assert set(m.files) == {
        "model.net",
        "core_map.json",
        "energy.json",
        "energy.md",
        "energy_layers.png",
    }
    assert DeployReport.load(bundle).energy == json.loads((bundle / "energy.json").read_text())


def test_modified_bundle_is_refused(run, tmp_path):
    deploy(run)
    copy = tmp_path / "bundle"
    shutil.copytree(run / "deploy" / "loihi2", copy)
    data = bytearray((copy / "model.net").read_bytes())
    data[-1] ^= 1
    (copy / "model.net").write_bytes(bytes(data))
    with pytest.raises(SnnxError, match="model.net was modified"):
        DeployReport.load(copy)


def test_nir_target_has_the_graph_and_the_same_manifest(run):
    deploy(run)
    deploy(run, "nir")
    m = verify_bundle(run / "deploy" / "nir")
    assert m.target == "nir" and m.model == "model.nir"
    assert (run / "deploy" / "nir" / "model.nir").read_bytes() == (run / "model.nir").read_bytes()
    loihi2 = verify_bundle(run / "deploy" / "loihi2")
    assert (m.input, m.output, m.reset_interval) == (
        loihi2.input,
        loihi2.output,
        loihi2.reset_interval,
    )


def test_user_profile_file(run, tmp_path):
    base = json.loads(
        (Path(__file__).parents[2] / "snnx/loihi/profiles/loihi1-davies2018.json").read_text()
    )
    base["name"] = "double-synops"
    base["constants"]["synop_pJ"]["value"] = 47.2
    path = tmp_path / "double.json"
    path.write_text(json.dumps(base))
    default, _ = deploy(run)
    mine, _ = deploy(run, profile=str(path))
    extra = default.energy["synops_per_inference"] * 23.6e-6
    assert mine.energy["energy_per_inference_uJ"] == pytest.approx(
        default.energy["energy_per_inference_uJ"] + extra
    )
    assert mine.energy["profile"]["name"] == "double-synops"


def test_errors_leave_the_previous_bundle_untouched(run, tmp_path, monkeypatch):
    deploy(run)
    bundle = run / "deploy" / "loihi2"
    before = snapshot(bundle)
    with pytest.raises(SnnxError, match="energy profile 'nope' not found"):
        deploy(run, profile="nope")

    def broken_plot(path, energy):
        raise RuntimeError("disk full")

    monkeypatch.setattr("snnx.deploy.stage.plot_energy", broken_plot)
    with pytest.raises(RuntimeError):
        deploy(run)
    assert snapshot(bundle) == before
    assert [p.name for p in (run / "deploy").iterdir() if p.name.startswith(".")] == []


def test_missing_inputs_are_one_line_errors(run, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    with pytest.raises(SnnxError, match="run `snnx export"):
        deploy(partial)
    assert not (partial / "deploy").exists()
    shutil.copy(run / "model.net", partial / "model.net")  # no sim.json: core map, no energy figures
    report, stdout = deploy(partial)
    assert not report.has_energy and "energy: not computed" in stdout and "run `snnx sim" in report.energy_missing
    assert not (partial / "deploy" / "loihi2" / "energy.json").exists()
    with pytest.raises(SnnxError, match="--target 'tpu'"):
        deploy(run, "tpu")


def test_stale_sim_json_is_refused(run, tmp_path):
    other = tmp_path / "stale"
    other.mkdir()
    shutil.copy(run / "model.net", other / "model.net")
    sim = json.loads((run / "sim.json").read_text())
    sim["layers"][0]["neurons"] += 1
    (other / "sim.json").write_text(json.dumps(sim))
    with pytest.raises(SnnxError, match="does not match model.net"):
        deploy(other)


def test_cli_run_flag_without_lava_loihi_is_one_line_exit_2(run, capsys):
    from snnx.cli import main
    from snnx.deploy.hw import lava_loihi_available

    if lava_loihi_available():
        pytest.skip("lava-loihi is installed here")
    assert main(["deploy", str(run), "--run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lava-loihi" in err and "--backend lava" in err
    assert "NameError" not in err
    assert main(["deploy", str(run), "--target", "nir", "--run"]) == 2


@pytest.mark.lava
def test_hardware_run_path_in_lava_simulator_equals_fast_sim(run, mnist_dir):
    """``--run``'s streaming (power-of-two reset interval, sink readout) with Lava's simulator config."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from snnx.config import RunConfig
    from snnx.deploy.hw import run_bundle_on_loihi2
    from snnx.sim.fast import simulate
    from snnx.sim.reference import encoded_test_set

    deploy(run)
    bundle, config = run / "deploy" / "loihi2", RunConfig.load(run / "config.yaml")
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_bundle_on_loihi2(
            bundle, config, 24, mnist_dir, Loihi2SimCfg(select_tag="fixed_pt")
        )
    net = read_netx(bundle / "model.net")
    x, y = encoded_test_set(net, config, 24, mnist_dir)
    assert result["reset_interval"] == 32
    assert result["predictions"] == simulate(net, x).predictions.tolist()
