from pathlib import Path

import pytest

from snnx.cli import main
from snnx.config import RunConfig, resolve
from snnx.errors import SnnxError


def test_defaults_round_trip_through_yaml(tmp_path: Path) -> None:
    cfg = resolve(None, ["model.hidden=[256,128]", "train.epochs=3", "data.test_subset=null", "train.lr=5e-4"])
    assert cfg.model.hidden == [256, 128] and cfg.train.epochs == 3 and cfg.data.test_subset is None
    assert cfg.train.lr == 5e-4
    cfg.save(tmp_path / "c.yaml", {"versions": {"torch": "x"}})
    assert RunConfig.load(tmp_path / "c.yaml") == cfg


def test_config_file_with_overrides(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("train: {epochs: 7, lr: 0.01}\nmodel: {kind: conv}\n")
    cfg = resolve(tmp_path / "c.yaml", ["train.epochs=2"])
    assert (cfg.train.epochs, cfg.train.lr, cfg.model.kind) == (2, 0.01, "conv")


@pytest.mark.parametrize("override, words", [
    ("train.epochz=3", "unknown config key 'train.epochz'"),
    ("train.epochs=abc", "train.epochs must be int"),
    ("data.encoding=morse", "not one of"),
    ("model.neuron.beta=1.5", "beta must be in"),
    ("nosection.x=1", "unknown config key 'nosection'"),
    ("train.epochs", "expected section.key=value"),
])
def test_bad_overrides_are_one_line_errors(override: str, words: str) -> None:
    with pytest.raises(SnnxError, match=words):
        resolve(None, [override])


def test_bad_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("train: {epochs: [1,\n")
    with pytest.raises(SnnxError, match="not valid YAML"):
        resolve(tmp_path / "bad.yaml", [])
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(SnnxError, match="mapping"):
        resolve(tmp_path / "list.yaml", [])


def test_cli_reports_config_error_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "-o", str(tmp_path / "run"), "--set", "train.epochs=-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "train.epochs must be >= 0" in err[0]
    assert not (tmp_path / "run").exists()
