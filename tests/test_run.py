"""The run folder: model.net's input spec is the one truth after export; JSON artifacts are versioned."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CLASSIC, write_idx
from PIL import Image

from snnx.artifacts import check_schema, read_artifact, schema_id
from snnx.cli import main
from snnx.run import RunFolder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx(tmp_path_factory.mktemp("mnist"), n_train=64, n_test=20)


@pytest.fixture(scope="module")
def run12(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """Trained with 25 input steps (the default), then exported with --timesteps 12."""
    run = tmp_path_factory.mktemp("run") / "r"
    assert (
        main(
            [
                "train",
                "-o",
                str(run),
                "--data-dir",
                str(data_dir),
                "--set",
                "train.epochs=1",
                *(a for c in CLASSIC for a in ("--set", c)),
                "--set",
                "model.hidden=[16]",
            ]
        )
        == 0
    )
    assert main(["export", str(run), "--timesteps", "12"]) == 0
    return run


def test_export_timesteps_is_what_every_later_stage_uses(
    run12: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = RunFolder(run12)
    assert folder.load_config().data.timesteps == 25  # config.yaml still says what training used
    assert folder.load_net().input.timesteps == 12
    assert folder.input_encoding().timesteps == 12 and folder.input_encoding().source == "model.net"

    assert main(["sim", str(run12), "--data-dir", str(data_dir)]) == 0
    assert "T = 12" in capsys.readouterr().out
    sim = folder.load_sim()
    assert sim.timesteps == 12 and sim.steps == 12 + 2

    assert main(["deploy", str(run12)]) == 0
    manifest = json.loads(folder.manifest().read_text())
    assert manifest["timesteps"] == 12 and manifest["input"]["timesteps"] == 12
    assert manifest["steps_per_sample"] == 12 + 2
    assert folder.load_energy().timesteps == 12

    image = tmp_path / "digit.png"
    pixels = np.zeros((28, 28), np.uint8)
    pixels[5:9, 4:24] = 255
    Image.fromarray(pixels).save(image)
    capsys.readouterr()
    assert main(["predict", str(run12), "--image", str(image), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["timesteps"] == 12

    from snnx.sim.trace import load_run_models

    assert load_run_models(run12).encoding().timesteps == 12  # what the report encodes with
    assert main(["report", str(run12), "--data-dir", str(data_dir)]) == 0
    assert '"timesteps":12' in folder.report.read_text()


def test_every_json_artifact_names_its_schema(run12: Path, data_dir: Path) -> None:
    assert main(["sim", str(run12), "--data-dir", str(data_dir)]) == 0
    assert main(["deploy", str(run12)]) == 0
    folder = RunFolder(run12)
    for kind, path in (
        ("quant", folder.quant),
        ("sim", folder.sim),
        ("energy", folder.energy()),
        ("core_map", folder.core_map()),
        ("manifest", folder.manifest()),
    ):
        assert json.loads(path.read_text())["schema"] == schema_id(kind), path


def test_a_foreign_or_future_artifact_is_one_line_naming_file_and_command(
    run12: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["sim", str(run12), "--data-dir", str(data_dir)]) == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run12.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    (copy / "provenance.json").unlink(missing_ok=True)  # hand-edited artifacts: test the schema check alone
    sim = json.loads((copy / "sim.json").read_text())
    sim["schema"] = "snnx.sim/99"
    (copy / "sim.json").write_text(json.dumps(sim))
    assert main(["deploy", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnx: error:"), err
    assert "sim.json" in err[0] and "snnx.sim/99" in err[0] and f"snnx sim {copy}" in err[0]

    del sim["schema"]
    (copy / "sim.json").write_text(json.dumps(sim))
    assert main(["deploy", str(copy)]) == 2
    assert "no schema key" in capsys.readouterr().err
    assert not (copy / "deploy").exists()


def test_check_schema_refuses_another_kind(tmp_path: Path) -> None:
    from snnx.errors import SnnxError

    path = tmp_path / "run" / "deploy" / "loihi2" / "energy.json"
    with pytest.raises(SnnxError, match=r"expected 'snnx.energy/1'.*snnx deploy .*run"):
        check_schema("energy", {"schema": schema_id("core_map")}, path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema": schema_id("energy"), "x": 1}))
    assert read_artifact("energy", path) == {"schema": "snnx.energy/1", "x": 1}
    with pytest.raises(SnnxError, match="not found; run `snnx deploy"):
        read_artifact("energy", path.with_name("missing.json"))
