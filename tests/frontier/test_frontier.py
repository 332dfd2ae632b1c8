"""``snnx frontier``: the space file, the shared study (two processes, one SQLite file), resuming
after a killed worker, and frontier.json/png against the trials' own run folders.

Trials use examples/frontier-smoke.yaml on the synthetic data set (a few seconds each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnx.cli import main
from snnx.errors import SnnxError
from snnx.frontier.results import load_frontier
from snnx.frontier.space import load_space, parse_space

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "examples" / "frontier-smoke.yaml"


def _frontier(out: Path, data: Path, trials: int, *extra: str, space: Path = SMOKE) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snnx", "frontier", "-c", str(space), "-o", str(out), "--trials", str(trials),
           "--data-dir", str(data), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def _finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def _check_trials_match_runs(out: Path, doc: dict) -> None:
    """Every complete trial's objectives are its run folder's own deployed figures."""
    for t in doc["trials"]:
        if t["state"] != "COMPLETE":
            continue
        run = out / t["run"]
        summary = json.loads((run / "summary.json").read_text())
        energy = json.loads((run / "deploy" / "loihi2" / "energy.json").read_text())
        assert t["fixed_accuracy"] == summary["fixed_accuracy"]
        assert t["energy_per_inference_uJ"] == pytest.approx(energy["energy_per_inference_uJ"], rel=1e-12)
        assert t["synops_per_inference"] == pytest.approx(energy["synops_per_inference"], rel=1e-12)
        assert summary["samples"] == 100 and summary["backend"] == "fast"
        for key, value in t["settings"].items():  # the trial ran the settings it lists
            section, _, name = key.rpartition(".")
            node = __import__("yaml").safe_load((run / "config.yaml").read_text())
            for part in section.split("."):
                node = node[part]
            assert node[name] == value


def test_two_processes_fill_one_study(tmp_path: Path, synthetic_data: Path) -> None:
    out = tmp_path / "front"
    procs = [_frontier(out, synthetic_data, 3) for _ in range(2)]
    logs = [_finish(p) for p in procs]
    doc = load_frontier(out / "frontier.json")
    done = [t for t in doc["trials"] if t["state"] == "COMPLETE"]
    assert len(done) >= 3 and doc["complete"] == len(done)
    workers = {t["worker"] for t in done}
    assert len(workers) == 2, workers  # both processes ran trials of the one study
    assert all("wrote " in log and "frontier.json" in log for log in logs)
    fresh = [t for t in done if t["same_as"] is None]
    assert len({t["run"] for t in fresh}) == len(fresh)  # one run folder per trial that ran
    _check_trials_match_runs(out, doc)
    # the Pareto set is exactly the non-dominated complete trials
    def dominated(a: dict) -> bool:
        return any(b["fixed_accuracy"] >= a["fixed_accuracy"] and b["energy_per_inference_uJ"]
                   <= a["energy_per_inference_uJ"] and (b["fixed_accuracy"], b["energy_per_inference_uJ"])
                   != (a["fixed_accuracy"], a["energy_per_inference_uJ"]) for b in done)
    assert sorted(doc["pareto"]) == sorted(t["number"] for t in done if not dominated(t))
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p["what"] for p in doc["published"]} >= {"Loihi", "SPOON", "TrueNorth"}


def test_killed_search_resumes_and_retries_the_dead_trial(tmp_path: Path, synthetic_data: Path, capsys) -> None:
    out = tmp_path / "front"
    first = _frontier(out, synthetic_data, 1, "--heartbeat", "1")
    log0 = out / "logs" / "trial-0000.log"
    deadline = time.monotonic() + 120
    while not log0.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, first.communicate()[0]
    time.sleep(1.0)  # inside the trial
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # the same command again (here in-process): the dead trial is found stale and retried
    args = ["frontier", "-c", str(SMOKE), "-o", str(out), "--trials", "1", "--data-dir", str(synthetic_data)]
    assert main([*args, "--heartbeat", "1"]) == 0
    text = capsys.readouterr().out
    doc = load_frontier(out / "frontier.json")
    by_number = {t["number"]: t for t in doc["trials"]}
    assert by_number[0]["state"] == "FAIL"  # the dead worker's trial
    retry = [t for t in doc["trials"] if t["retry_of"] == 0]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETE", text
    assert retry[0]["settings"] == by_number[0]["settings"]  # the same settings, run again
    assert doc["complete"] == 1 and len(doc["trials"]) == 2
    _check_trials_match_runs(out, doc)
    # a finished study: the command again starts no trial
    assert main(args) == 0
    assert "trial " not in capsys.readouterr().out and len(load_frontier(out / "frontier.json")["trials"]) == 2


def test_a_repeated_proposal_reuses_the_trial_that_ran(tmp_path: Path, synthetic_data: Path) -> None:
    """A space of one point and two workers at once: both propose it; one trains, the other waits
    for that trial and takes its figures (no second training run, no two workers waiting for
    each other)."""
    smoke = __import__("yaml").safe_load(SMOKE.read_text())
    space = tmp_path / "one.yaml"
    space.write_text(json.dumps({"fixed": smoke["fixed"], "space": {"model.hidden": [[16]]}, "population": 2}))
    out = tmp_path / "front"
    procs = [_frontier(out, synthetic_data, 2, space=space) for _ in range(2)]
    logs = "".join(_finish(p) for p in procs)
    assert "= trial 0's settings" in logs, logs
    doc = load_frontier(out / "frontier.json")
    first, second = sorted(doc["trials"], key=lambda t: t["number"])
    assert first["same_as"] is None and second["same_as"] == 0 and second["seconds"] == 0
    assert (second["fixed_accuracy"], second["energy_per_inference_uJ"], second["run"]) == (
        first["fixed_accuracy"], first["energy_per_inference_uJ"], first["run"])
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["trial-0000"]  # one training run
    _check_trials_match_runs(out, doc)


@pytest.mark.parametrize(
    "text, words",
    [
        ("space:\n  data.encodng: [rate, latency]\n", "unknown config key 'data.encodng'"),
        ("space:\n  data.timesteps: {int: [0, 8]}\n", "data.timesteps must be in"),
        ("space:\n  data.encoding: [rate, morse]\n", "is not one of"),
        ("space:\n  model.hidden: {int: [8, 2]}\n", "low <= high"),
        ("space:\n  train.lr: {float: [0, 1], log: true}\n", "low <= high"),
        ("fixed:\n  train.epochs: 1\nspace:\n  train.epochs: [1, 2]\n", "both fixed and searched"),
        ("space:\n  sim.backend: [fast, lava]\n", "set by snnx frontier itself"),
        ("sapce:\n  data.timesteps: {int: [4, 8]}\n", "non-empty 'space:'"),
        ("space: {data.timesteps: [4]}\nseeds: 1\n", "unknown top-level key 'seeds'"),
        ("space: [\n", "not valid YAML"),
    ],
)
def test_bad_space_file_is_one_line_exit_2(tmp_path: Path, capsys, text: str, words: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(text)
    assert main(["frontier", "-c", str(space), "-o", str(tmp_path / "f"), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnx: error: space file") and err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "f").exists()  # refused before anything was written


def test_spaces_shipped_are_valid_and_overrides_round_trip() -> None:
    for path in (None, SMOKE, ROOT / "examples" / "frontier.yaml"):
        space = load_space(path)
        assert space.params
    space = parse_space({"space": {"model.hidden": [[64], [128, 64]], "train.lr": {"float": ["1e-3", 5e-3],
                                                                                    "log": True}}})
    over = space.overrides({"model.hidden": [128, 64], "train.lr": 0.002})
    assert "model.hidden=[128, 64]" in over and "train.lr=0.002" in over and "sim.backend=\"fast\"" in over
    with pytest.raises(SnnxError, match="positive integer"):
        from snnx.frontier.search import frontier_command

        frontier_command(Path("unused"), SMOKE, 0, None, None, None)


def test_bad_storage_is_one_line_without_the_password(tmp_path: Path, capsys) -> None:
    url = "postgresql://user:secret@localhost:1/db"
    assert main(["frontier", "-c", str(SMOKE), "-o", str(tmp_path / "f"), "--trials", "1", "--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnx: error: --storage postgresql://user:***@localhost:1/db: cannot open")
    assert err.count("\n") == 1 and "secret" not in err
