"""The public Python API: light import, callable stages under any import order, typed results,
and README's snnTorch -> NIR -> deploy example run verbatim."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_idx

import snnx
from snnx.run import RunFolder

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- readme-api-example (tests/test_api.py runs this block) -->"


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_snnx_is_light_and_names_the_api() -> None:
    out = _python(
        "import sys, snnx; snnx.train, snnx.export, snnx.simulate, snnx.deploy; "
        "print(sorted(m for m in ('torch', 'lava', 'h5py') if m in sys.modules))"
    )
    assert out.strip() == "[]"
    assert {
        "train",
        "export",
        "simulate",
        "deploy",
        "RunFolder",
        "SimResult",
        "DeployReport",
    } <= set(snnx.__all__)
    for name in snnx.__all__:
        assert getattr(snnx, name) is not None, name
    with pytest.raises(AttributeError):
        snnx.no_such_name  # noqa: B018


# each order imports stage internals before or after touching the public names; every stage
# must still be callable and actually run (a bad run folder gives the stage's own error)
ORDERS = [
    "import snnx.train.trainer, snnx.export.stage, snnx.deploy.stage; import snnx",
    "import snnx; f = snnx.train; import snnx.train.trainer; import snnx.deploy.manifest",
    "from snnx import deploy, export, train; import snnx.export.to_nir, snnx.train.checkpoint; import snnx",
    "import snnx.deploy.stage; import snnx; snnx.simulate; import snnx.sim.stage, snnx.loihi.netx",
]
CALLS = """
from snnx.errors import SnnxError
for name, call, want in (
        ("train", lambda: snnx.train("{tmp}/t", config="{tmp}/none.yaml"), "none.yaml"),
        ("export", lambda: snnx.export("{tmp}/nope"), "snnx train"),
        ("simulate", lambda: snnx.simulate("{tmp}/nope"), "snnx export"),
        ("deploy", lambda: snnx.deploy("{tmp}/nope"), "snnx export")):
    try:
        call()
    except SnnxError as exc:
        assert want in str(exc), (name, str(exc))
    else:
        raise AssertionError(name + " did not run its stage")
print("ok")
"""


@pytest.mark.parametrize("order", ORDERS)
def test_stages_are_callable_whatever_was_imported_first(order: str, tmp_path: Path) -> None:
    assert _python(order + "\n" + CALLS.format(tmp=tmp_path)).strip() == "ok"


def test_stage_results_are_typed_and_frozen(tmp_path: Path) -> None:
    data = write_idx(tmp_path / "mnist", n_train=64, n_test=20)
    run = tmp_path / "run"
    trained = snnx.train(run, overrides=["train.epochs=1", "model.hidden=[16]"], data_dir=data)
    exported = snnx.export(run, timesteps=6)
    sim = snnx.simulate(run, data_dir=data)
    deployed = snnx.deploy(run)
    assert (
        isinstance(trained, snnx.TrainReport)
        and trained.epochs == 1
        and 0 <= trained.best_test_accuracy <= 1
    )
    assert (
        isinstance(exported, snnx.ExportReport)
        and exported.timesteps == 6 == exported.net.input.timesteps
    )
    assert isinstance(sim, snnx.SimResult) and sim.timesteps == 6 and sim.samples == 20
    assert isinstance(deployed, snnx.DeployReport) and Path(deployed.bundle) == RunFolder(
        run
    ).bundle("loihi2")
    assert deployed.manifest["timesteps"] == 6
    for result in (trained, exported, sim, deployed):
        assert dataclasses.is_dataclass(result)
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.run = None  # type: ignore[misc]


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    assert MARKER in text, "README lost its API example"
    match = re.search(r"```python\n(.*?)```", text[text.index(MARKER) :], re.S)
    assert match is not None
    return match.group(1)


def test_readme_api_example_runs_verbatim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code = readme_example()
    assert (
        "snnx.export(from_nir=" in code
        and "snnx.deploy(" in code
        and 'reset_mechanism="zero"' in code
    )
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102 - our own README
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert last[:2] == ["25", "100"] and float(last[3]) > 0
    folder = RunFolder(tmp_path / "runs" / "mine")
    assert folder.load_net().input.timesteps == 25
    assert folder.load_sim().input == "spikes.npy"
    assert folder.manifest("loihi2").is_file()
