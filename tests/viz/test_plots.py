"""Plots and report data on a real (briefly trained, exported) run: real numbers, not pictures."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from snnx.artifacts import schema_id
from snnx.data.datasets import load_split
from snnx.deploy.manifest import Manifest
from snnx.errors import SnnxError
from snnx.run import EnergyReport
from snnx.sim.reference import encode_images
from snnx.sim.result import SimResult
from snnx.sim.trace import fixed_trace, float_trace, load_run_models
from snnx.viz import figures
from snnx.viz.plots import energy_per_layer, gather, make_plots, weight_pairs
from snnx.viz.report import json_table, report_command, viewer_data

ALL_PLOTS = {"input_raster", "rasters", "membranes", "weights", "training", "layer_spikes", "confusion"}


@pytest.fixture(scope="module")
def report_data(tiny_run: Path, mnist_dir: Path):
    return make_plots(tiny_run, mnist_dir, samples=500)


@pytest.fixture()
def few_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports on 100 test images: these tests check content, not accuracy."""
    monkeypatch.setattr("snnx.viz.plots.REPORT_SAMPLES", 100)


def test_every_plot_is_a_png_in_run_plots(report_data, tiny_run: Path) -> None:
    assert {f.key for f in report_data.figures} == ALL_PLOTS
    assert set(report_data.missing) == {"energy", "accuracy_energy"} and "snnx deploy" in report_data.missing["energy"]
    for f in report_data.figures:
        assert f.path == tiny_run / "plots" / f"{f.key}.png"
        with Image.open(f.path) as img:
            assert img.format == "PNG" and min(img.size) > 200
    assert not list((tiny_run / "plots").glob(".*.tmp"))  # atomic writes leave no temporaries


def test_fixed_point_matches_float_on_the_report_images(report_data) -> None:
    """A QAT export is (nearly) lossless: predictions and spike counts agree."""
    fs, xs, labels = report_data.float_summary, report_data.fixed_summary, report_data.labels
    assert len(labels) == 500 and (fs.predictions == labels).mean() > 0.7
    assert (fs.predictions == xs.predictions).mean() > 0.95
    np.testing.assert_allclose(xs.spikes_per_sample, fs.spikes_per_sample, rtol=0.05)
    for fl, fx in zip(report_data.float_trace.layers, report_data.fixed_trace.layers, strict=True):
        assert fl.name == fx.name and fx.threshold == pytest.approx(fl.threshold, rel=1e-3)


def test_fixed_membranes_in_float_units_equal_the_float_ones(tiny_run: Path, mnist_dir: Path) -> None:
    """Without biases (whose first steps Lava's staggered reset discards) the float model and
    the bit-accurate network differ only by rounding: same spikes, and the recorded fixed-point
    membranes, recomputed before reset and divided by 64 * scale, equal the float ones."""
    models = load_run_models(tiny_run)
    for layer in models.model.layers:
        layer.synapse.bias.data.zero_()
    models.net = replace(models.net, layers=[replace(layer, bias=None) for layer in models.net.layers])
    images = load_split("mnist", train=False, data_dir=mnist_dir, subset=8).floats(slice(None))
    x = encode_images(models.encoding(), images, seed=1)
    fl, fx = float_trace(models.model, x), fixed_trace(models.net, x)
    upstream = fl.layers[0].spikes.shape[1]  # steps before any spike below this layer differs
    for a, b in zip(fl.layers, fx.layers, strict=True):
        same = a.spikes == b.spikes
        assert same.mean() > 0.99
        first_diff = int(np.argmin(same.all(axis=(0, 2)))) if not same.all() else a.spikes.shape[1]
        # a spike that differs below at step t changes this layer's v from step t + 1
        until = min(first_diff, upstream)
        np.testing.assert_allclose(b.v[:, :until], a.v[:, :until], atol=0.01 * a.threshold)
        upstream = min(upstream, first_diff + 1)
        assert np.abs(b.v).max() > a.threshold  # the comparison covers threshold crossings


def test_fixed_membrane_crosses_threshold_exactly_where_it_spikes(report_data) -> None:
    for layer in report_data.fixed_trace.layers:
        assert np.array_equal(layer.spikes > 0, layer.v > layer.threshold * (1 + 1e-9))


def test_weight_pairs_are_float_and_deployed_weights(tiny_run: Path) -> None:
    models = load_run_models(tiny_run)
    names, weights, quantized = weight_pairs(models)
    assert len(names) == len(weights) == len(quantized) == 2
    for w, q, layer in zip(weights, quantized, models.net.synapse_layers, strict=True):
        assert w.shape == q.shape == layer.weight.shape
        assert np.abs(w - q).max() <= 1.0 / layer.scale + 1e-6  # within one grid step (even ints)


def test_viewer_data_is_consistent_with_the_traces(report_data) -> None:
    data = json.loads(json.dumps(viewer_data(report_data)))  # must be plain JSON
    assert data["models"] == ["float", "fixed"] and data["latency"] == 2 and data["steps"] == 27
    for s, sample in enumerate(data["samples"]):
        assert sample["label"] == report_data.labels[s]
        assert sum(map(len, sample["input"]["spikes"])) == report_data.float_trace.inputs[s].sum()
        for i, layer in enumerate(sample["layers"]):
            for key, run in (("float", report_data.float_trace), ("fixed", report_data.fixed_trace)):
                spikes = run.layers[i].spikes[s]
                assert sum(map(len, layer[key]["spikes"])) == spikes.sum()
                v = np.array(layer[key]["v"])
                assert v.shape == (len(layer["neurons"]), 27)
                np.testing.assert_allclose(v, run.layers[i].v[s][:, layer["neurons"]].T, atol=1e-4)
        out = sample["layers"][-1]["float"]["spikes"]
        counts = np.bincount([n for step in out[2:] for n in step], minlength=10)
        assert int(counts.argmax()) == sample["prediction"]["float"]


def _energy_json(layers: list[dict]) -> dict:
    """An energy.json as `snnx deploy` writes it (the fields the typed reader requires)."""
    return {"schema": schema_id("energy"), "energy_per_inference_uJ": 0.875, "synops_per_inference": 43210,
            "spikes_per_inference": 120.0, "latency_us": 27.0, "cores": 2, "timesteps": 25, "samples": 500,
            "layers": layers}


def test_energy_per_layer_reads_the_components_in_uJ(tmp_path: Path) -> None:
    layers = [{"name": "dense 100", "energy_pJ": {"synops": 2e6, "static": 1e5}},
              {"name": "dense 10", "energy_pJ": {"synops": 5e5, "static": 1e5}}]
    energy = EnergyReport.from_dict(_energy_json(layers), tmp_path / "energy.json")
    names, parts = energy_per_layer(energy)
    assert names == ["dense 100", "dense 10"] and list(parts) == ["synops", "static"]
    np.testing.assert_allclose([parts["synops"], parts["static"]], [[2.0, 0.5], [0.1, 0.1]])
    assert energy_per_layer(EnergyReport.from_dict(_energy_json([]), tmp_path / "energy.json")) is None
    with pytest.raises(SnnxError, match="energy_pJ"):  # a guessed layout is refused, not guessed at
        EnergyReport.from_dict(_energy_json([{"name": "a", "synops_energy_uJ": 1.0}]), tmp_path / "energy.json")


def test_figures_from_plain_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    preds = np.where(rng.random(200) < 0.9, labels, (labels + 1) % 10)
    paths = [
        figures.plot_confusion(labels, {"float": labels, "fixed point": preds}, tmp_path / "c.png"),
        figures.plot_energy(["a", "b"], {"synops_energy_uJ": [1.0, 0.5]}, tmp_path / "e.png"),
        figures.plot_input_raster(rng.random((25, 49)), tmp_path / "direct.png"),  # analog input
        figures.plot_layer_spikes(["1", "2"], [300.0, 20.0], None, tmp_path / "s.png", samples=5),
    ]
    for p in paths:
        with Image.open(p) as img:
            assert img.format == "PNG"


def test_json_table_renders_nested_values_escaped() -> None:
    out = json_table({"a": 0.123456789, "layers": [{"n": 1, "x": "<b>"}, {"n": 2}], "v": [1, 2.5]})
    assert "0.123457" in out and "&lt;b&gt;" in out and "<b>" not in out and "1, 2.5" in out
    assert out.count("<table") == 2


def test_report_without_sim_and_deploy_names_the_commands(tiny_run: Path, mnist_dir: Path,
                                                            tmp_path: Path, few_samples) -> None:
    run = tmp_path / "r"
    run.mkdir()
    for name in ("checkpoint.json", "checkpoint.safetensors", "config.yaml"):  # trained only: no metrics, export, sim, deploy
        shutil.copy(tiny_run / name, run / name)
    text = report_command(run, mnist_dir).read_text(encoding="utf-8")
    text = text.replace(f"`snnx export {run}` first", "")  # quant.json's own message must remain
    for command in ("snnx export", "snnx sim", "snnx deploy", "snnx train -o"):
        assert f"`{command} {run}" in text, command
    assert "float accuracy" in text and "fixed-point accuracy" not in text


def test_report_shows_sim_and_energy_figures(tiny_run: Path, mnist_dir: Path, tmp_path: Path,
                                            few_samples) -> None:
    run = tmp_path / "full"
    shutil.copytree(tiny_run, run)
    sim = SimResult(backend="fast", samples=500, float_accuracy=0.8123, fixed_accuracy=0.8101, agreement=0.9975,
                    spikes_per_sample=[], layers=[{"name": "dense 100", "spikes_per_sample": 321.5}], timesteps=25,
                    steps=27, encoding="rate", dataset="mnist", seconds=1.0, backend_seconds=0.5)
    energy = _energy_json([{"name": "dense 100", "energy_pJ": {"synops": 7e5, "neuron_updates": 1e5}},
                           {"name": "dense 10", "energy_pJ": {"synops": 5e4, "neuron_updates": 2.5e4}}])
    energy["accuracy"] = 0.8101  # the deployed point on the accuracy-energy plot
    sim.save(run / "sim.json")
    (run / "provenance.json").unlink(missing_ok=True)  # hand-made artifacts: no provenance to check
    bundle = run / "deploy" / "loihi2"
    bundle.mkdir(parents=True)
    (bundle / "energy.json").write_text(json.dumps(energy))
    shutil.copyfile(run / "model.net", bundle / "model.net")
    Manifest("loihi2", "model.net", {}, {}, 25, 2, 27, 32, 1).save(bundle)  # report verifies bundles
    text = report_command(run, mnist_dir).read_text(encoding="utf-8")
    for shown in ("81.23 %", "81.01 %", "99.75 %", "0.875", "43,210", "321.5", 'id="fig-energy"',
                  'id="fig-accuracy_energy"', "81.01 % at 0.875 µJ", "Renner et al."):
        assert shown in text, shown
    assert (run / "plots" / "energy.png").exists() and (run / "plots" / "accuracy_energy.png").exists()
    (run / "sim.json").write_text("{ not json")
    before = (run / "report.html").read_bytes()
    with pytest.raises(SnnxError, match="sim.json is not valid JSON"):
        report_command(run, mnist_dir)
    assert (run / "report.html").read_bytes() == before  # the earlier report is kept


def test_report_numbers_equal_snnx_sim_on_the_same_images(tiny_run: Path, mnist_dir: Path, tmp_path: Path) -> None:
    """The report encodes test images exactly as `snnx sim` does: same predictions, same spikes."""
    from snnx.sim.stage import sim_command

    run = tmp_path / "sim"
    shutil.copytree(tiny_run, run)
    with contextlib.redirect_stdout(io.StringIO()):
        sim_command(run, "fast", 300, None, None, mnist_dir)
    sim = json.loads((run / "sim.json").read_text())
    d = gather(run, mnist_dir, samples=300)
    fs, xs = d.float_summary, d.fixed_summary
    assert sim["float_accuracy"] == pytest.approx((fs.predictions == d.labels).mean(), abs=1e-9)
    assert sim["fixed_accuracy"] == pytest.approx((xs.predictions == d.labels).mean(), abs=1e-9)
    assert sim["agreement"] == pytest.approx((fs.predictions == xs.predictions).mean(), abs=1e-9)
    fixed_spikes = [row["fixed"] for row in sim["spikes_per_sample"]]
    np.testing.assert_allclose(xs.spikes_per_sample, fixed_spikes, rtol=1e-6)


def test_report_of_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnnxError, match="not found"):
        report_command(tmp_path / "nope", None)
    with pytest.raises(SnnxError, match="neither checkpoint.json nor model.net"):
        report_command(tmp_path, None)
