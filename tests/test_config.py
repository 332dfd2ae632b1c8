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
    assert code == 2 and len(err) == 1 and "train.epochs must be in [0, 100000]" in err[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("overrides, words", [
    (["data.timesteps=10000000"], "data.timesteps must be in [1, 10000]"),
    (["model.hidden=[1000000000]"], "model.hidden sizes must be in"),
    (["model.kind=attention", "model.patch=0"], "model.patch in [1, 28]"),
    (["model.kind=attention", "model.heads=0"], "model.heads must be in"),
    (["model.kind=conv", "model.conv=0c5s2"], "model.conv block '0c5s2': channels must be in"),
    (["model.kind=conv", "model.conv=16c0s2"], "kernel in"),
    (["model.kind=conv", "model.conv=16c5s0"], "stride in"),
    (["data.latency_tau=0"], "data.latency_tau must be > 0"),
    (["data.latency_tau=-3"], "data.latency_tau must be > 0"),
    (["data.gain=.nan"], "data.gain must be a finite number"),
    (["train.lr=.inf"], "train.lr must be a finite number"),
    (["model.neuron.threshold=.inf"], "model.neuron.threshold must be a finite number"),
    (["train.lr=1e999"], "finite number"),
    (["train.epochs=1000000000000"], "train.epochs must be in"),
])
def test_hostile_values_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture, overrides: list[str],
                                            words: str) -> None:
    argv = ["train", "-o", str(tmp_path / "run")]
    for item in overrides:
        argv += ["--set", item]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("snnx: error: ") and words in err[0], err
    assert not (tmp_path / "run").exists()


def test_non_utf8_and_folder_configs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("train: {epochs: 1}  # caf\xe9\n".encode("latin-1"))
    for path, words in ((bad, "is not UTF-8"), (tmp_path, "is a folder")):
        code = main(["train", "-c", str(path), "-o", str(tmp_path / "run")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "run").exists()
