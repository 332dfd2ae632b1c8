"""``snnx export RUN --timesteps N`` on a trained run: model.net and quant.json carry N."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from snnx.cli import main
from snnx.io import read_json
from snnx.loihi.netx import read_netx


def _export(run: Path, *extra: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", str(run), *extra]) == 0


def test_timesteps_option_is_recorded_in_model_net_and_quant_json(
    synthetic_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    before = read_netx(run / "model.net")
    assert before.input.timesteps == 25  # the config's data.timesteps
    _export(run, "--timesteps", "12")
    net = read_netx(run / "model.net")
    quant = read_json(run / "quant.json")
    assert net.input.timesteps == 12 and quant["input"]["timesteps"] == 12
    assert net.input.encoding == before.input.encoding == quant["input"]["encoding"] == "rate"
    assert net.input.shape == before.input.shape == (1, 28, 28)
    for a, b in zip(net.synapse_layers, before.synapse_layers, strict=True):
        assert (a.weight == b.weight).all()  # only the input length changes, not the quantization
    _export(run)  # without the option: back to the config's value
    assert read_netx(run / "model.net").input.timesteps == 25


def test_timesteps_below_one_is_refused_and_keeps_the_export(
    synthetic_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    before = (run / "model.net").read_bytes()
    assert main(["export", str(run), "--timesteps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnx: error:") and "--timesteps" in err[0]
    assert (run / "model.net").read_bytes() == before
