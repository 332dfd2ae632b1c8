"""quant.json is read back as a typed value (QuantReport) through the run folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from snnx.errors import SnnxError
from snnx.export.quantize import LayerQuant, QuantReport
from snnx.run import RunFolder


def test_quant_json_reads_back_as_the_report_export_wrote(synthetic_run: Path) -> None:
    folder = RunFolder(synthetic_run)
    report = folder.load_quant()
    assert isinstance(report, QuantReport) and all(isinstance(q, LayerQuant) for q in report.layers)
    raw = json.loads(folder.quant.read_text())
    assert report.to_dict() == raw  # the typed value is the whole file: writing it back is lossless
    net = folder.load_net()
    assert [q.vth for q in report.layers] == [layer.vth for layer in net.synapse_layers]
    assert report.input["timesteps"] == net.input.timesteps


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d["layers"][0].pop("vth"), "no 'vth'"),
        (lambda d: d["layers"][1].update(scale="big"), "a number expected"),
        (lambda d: d["layers"][0].update(du=1.5), "an integer expected"),
        (lambda d: d.update(layers={}), "layers must be a list"),
    ],
)
def test_a_broken_quant_json_is_one_line_naming_file_and_command(
    synthetic_run: Path, tmp_path: Path, change, words: str
) -> None:
    run = tmp_path / "r"
    run.mkdir()
    shutil.copy(RunFolder(synthetic_run).quant, run / "quant.json")
    data = json.loads((run / "quant.json").read_text())
    change(data)
    (run / "quant.json").write_text(json.dumps(data))
    with pytest.raises(SnnxError) as err:
        RunFolder(run).load_quant()
    msg = str(err.value)
    assert "\n" not in msg and "quant.json" in msg and words in msg and f"snnx export {run}" in msg
