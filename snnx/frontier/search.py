"""``snnx frontier``: an Optuna multi-objective study over a declared space, one snnx run per trial.

Each trial is a complete ``snnx run`` (:func:`snnx.pipeline.run_pipeline`: train, export, fast
bit-exact simulation of the whole test set, Loihi 2 deploy with the energy report) in its own
folder ``DIR/trials/trial-NNNN``; its two objectives are read back from that run's summary:
deployed fixed-point accuracy (maximised) and energy per inference in uJ (minimised). NSGA-II
(Optuna's ``NSGAIISampler``) proposes the settings.

The study lives in Optuna's storage (``sqlite:///DIR/frontier.db`` unless ``--storage`` names
another database), so several processes, on one machine or many, running the same command fill
one study; ``--trials N`` is the number of completed trials the study should hold, so a search
that was killed resumes where it stopped when the command is run again. A process that dies
mid-trial stops its heartbeat; after the grace period the next process marks that trial FAIL and
queues a copy with the same settings (Optuna's ``RetryHeartbeatStaleTrialCallback``). A trial
whose settings snnx refuses (an ``SnnxError``) is recorded FAIL with the message and the search
goes on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snnx.errors import SnnxError
from snnx.frontier.results import DIRECTIONS, safe_url, write_frontier
from snnx.frontier.space import Space, load_space

DB_NAME = "frontier.db"
DEFAULT_STUDY = "frontier"
MAX_RETRY = 2  # copies of a trial whose process died


@dataclass(frozen=True)
class FrontierReport:
    """What :func:`snnx.frontier` produced: the files and the study's state when it finished."""

    out: Path
    json: Path
    png: Path
    study: str
    storage: str
    complete: int
    failed: int
    pareto: tuple[int, ...]  # trial numbers of the Pareto set


def frontier(
    out: str | Path,
    *,
    space: str | Path | None = None,
    trials: int,
    storage: str | None = None,
    study: str | None = None,
    data_dir: str | Path | None = None,
    heartbeat_s: int = 60,
) -> FrontierReport:
    """Search the accuracy-energy frontier: an Optuna NSGA-II study, one ``snnx run`` per trial.

    Public as ``snnx.frontier`` (it lives here, above :mod:`snnx.api` and the pipeline, whose
    functions each trial calls). ``space`` is a YAML file of config keys to search (default:
    snnx/frontier/default.yaml); trials run in ``out``/trials/ until the study holds ``trials``
    complete ones. The study lives in ``storage`` (an SQLAlchemy URL; default
    sqlite:///``out``/frontier.db) under the name ``study``, so processes sharing it fill one
    study and a killed search resumes; a worker silent for 2 x ``heartbeat_s`` seconds has its
    trial failed and retried. Writes ``out``/frontier.json and ``out``/frontier.png.
    """
    return frontier_command(Path(out), None if space is None else Path(space), trials, storage, study,
                            None if data_dir is None else Path(data_dir), heartbeat_s)


def default_storage(out: Path) -> str:
    return f"sqlite:///{(Path(out) / DB_NAME).resolve()}"


def frontier_command(
    out: Path,
    space_path: Path | None,
    trials: int,
    storage: str | None,
    study_name: str | None,
    data_dir: Path | None,
    heartbeat_s: int = 60,
) -> FrontierReport:
    """Run trials until the study holds ``trials`` complete ones; write frontier.json/png."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SnnxError(f"--trials must be a positive integer, got {trials!r}")
    if heartbeat_s < 1:
        raise SnnxError(f"--heartbeat must be >= 1 second, got {heartbeat_s}")
    space = load_space(space_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or default_storage(out)
    name = study_name or DEFAULT_STUDY
    study = open_study(url, name, space, trials, heartbeat_s)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    print(f"snnx frontier: study {name!r} in {safe_url(url)}; {_count(study, 'COMPLETE')} of {trials} "
          f"trials complete; worker {worker}", flush=True)

    current: dict[str, int] = {}

    def objective(trial) -> tuple[float, float]:
        current["number"] = trial.number
        return run_trial(trial, space, out, data_dir, worker, poll_s)

    poll_s = max(1.0, heartbeat_s / 2)  # how often a waiting worker looks at the study again
    while True:
        _fail_stale(study)
        done, running = _count(study, "COMPLETE"), _count(study, "RUNNING")
        if done >= trials:
            break
        if done + running >= trials and not _count(study, "WAITING"):
            # the last trials run elsewhere: wait for them (a dead worker's go stale and are retried)
            time.sleep(poll_s)
            continue
        study.optimize(objective, n_trials=1, catch=(SnnxError,), gc_after_trial=True)
        _progress(study, current.get("number"), trials)
        write_frontier(out, study, space, url, trials)
    paths = write_frontier(out, study, space, url, trials)
    pareto = tuple(sorted(t.number for t in study.best_trials))
    report = FrontierReport(out, paths[0], paths[1], name, safe_url(url), _count(study, "COMPLETE"),
                            _count(study, "FAIL"), pareto)
    print(f"wrote {paths[0]} and {paths[1]}: {report.complete} complete, {report.failed} failed, "
          f"Pareto set {list(pareto)}", flush=True)
    return report


def open_study(url: str, name: str, space: Space, trials: int, heartbeat_s: int):
    """The study ``name`` in ``url`` (created on first use) with NSGA-II and heartbeats."""
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from sqlalchemy.exc import IntegrityError, OperationalError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        storage, error = None, None
        for attempt in range(5):
            try:
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine, heartbeat_interval=heartbeat_s, grace_period=2 * heartbeat_s,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(MAX_RETRY))
                break
            except (IntegrityError, OperationalError) as exc:  # another worker creating the same new
                error = exc  # database's tables at this moment, or holding its lock: the next try works
                time.sleep(0.5 + attempt)
            except Exception as exc:  # a bad URL, no driver, an unreachable database
                error = exc
                break
        if storage is None:
            raise SnnxError(f"--storage {safe_url(url)}: cannot open the Optuna storage "
                            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); give an "
                            "SQLAlchemy URL such as sqlite:///frontier.db") from None
        probe = optuna.create_study(storage=storage, study_name=name, directions=list(DIRECTIONS),
                                    load_if_exists=True)
        # a worker joining a study continues its sampler stream from the trials already there
        sampler = optuna.samplers.NSGAIISampler(population_size=space.population_size(trials),
                                                seed=space.seed + len(probe.trials))
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise SnnxError(f"study {name!r} in {safe_url(url)} has directions "
                        f"{[d.name.lower() for d in study.directions]}, not (maximize accuracy, minimize uJ); "
                        "use another --study name")
    known = study.user_attrs.get("space")
    if known is None:
        study.set_user_attr("space", space.describe()["space"])
    elif known != space.describe()["space"]:
        raise SnnxError(f"study {name!r} was started with another space ({sorted(known)}); give its space "
                        "file, or a new --study name for this one")
    return study


def run_trial(trial, space: Space, out: Path, data_dir: Path | None, worker: str,
              poll_s: float = 1.0) -> tuple[float, float]:
    """One trial: its settings from the sampler, a full snnx run, the two objectives."""
    from snnx.pipeline import run_pipeline

    values = {p.key: p.suggest(trial) for p in space.params}
    trial.set_user_attr("settings", values)  # before waiting: a worker proposing them too waits for this one
    same = _same_settings(trial, values, poll_s)
    if same is not None:
        # NSGA-II proposes settings it has tried (small categorical spaces, or two workers
        # started together): a run is reproducible, so its figures are this trial's, for free
        for key in ("run", "synops_per_inference", "float_accuracy", "samples", "cores"):
            trial.set_user_attr(key, same.user_attrs.get(key))
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("same_as", same.number)
        trial.set_user_attr("seconds", 0.0)
        print(f"trial {trial.number}: {_settings(values)} = trial {same.number}'s settings: its figures",
              flush=True)
        return float(same.values[0]), float(same.values[1])
    folder = Path("trials") / f"trial-{trial.number:04d}"
    trial.set_user_attr("run", str(folder))
    trial.set_user_attr("worker", worker)
    log = out / "logs" / f"trial-{trial.number:04d}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"trial {trial.number}: {_settings(values)} -> {out / folder} (log {log})", flush=True)
    t0 = time.perf_counter()
    with log.open("w", encoding="utf-8") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            summary = run_pipeline(out / folder, overrides=space.overrides(values), data_dir=data_dir,
                                   overwrite=True, report=False)
        except SnnxError as exc:
            print(f"snnx: error: {exc}", file=f)
            trial.set_user_attr("error", str(exc))
            raise
    acc, uj = summary.get("fixed_accuracy"), summary.get("energy_per_inference_uJ")
    if acc is None or uj is None:
        raise SnnxError(f"trial {trial.number}: the run has no fixed-point accuracy or energy (see {log})")
    trial.set_user_attr("synops_per_inference", summary.get("synops_per_inference"))
    trial.set_user_attr("float_accuracy", summary.get("float_accuracy"))
    trial.set_user_attr("samples", summary.get("samples"))
    trial.set_user_attr("cores", summary.get("cores"))
    trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
    return float(acc), float(uj)


def _same_settings(trial, values: dict[str, Any], poll_s: float = 1.0):
    """A complete trial of the same study with exactly these settings, else None. If another
    worker is running these settings now, wait for it (two workers whose samplers breed the
    same child would otherwise train it twice); a dead worker's trial goes stale and fails."""
    from optuna.trial import TrialState

    study = trial.study
    while True:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        same = [t for t in trials if t.number != trial.number and t.user_attrs.get("settings") == values]
        done = next((t for t in same if t.state == TrialState.COMPLETE), None)
        # only the earlier of two running twins waits for nobody: no two workers wait for each other
        if done is not None or not any(t.number < trial.number for t in same):
            return done
        time.sleep(poll_s)
        _fail_stale(study)


def _fail_stale(study) -> None:
    """Fail the trials of workers whose heartbeat stopped (this also queues their retries)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _count(study, state: str) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(getattr(TrialState, state),)))


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _progress(study, number: int | None, trials: int) -> None:
    t = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if t is None:
        return
    done = _count(study, "COMPLETE")
    if t.state.name == "COMPLETE":
        acc, uj = t.values
        what = f"{100 * acc:.2f} % at {uj:.4g} uJ in {t.user_attrs.get('seconds', 0):.0f} s"
    else:
        what = f"{t.state.name}: {t.user_attrs.get('error', 'see its log')}"
    front = ", ".join(f"#{b.number} {100 * b.values[0]:.2f} %/{b.values[1]:.3g} uJ"
                      for b in sorted(study.best_trials, key=lambda b: b.values[1]))
    print(f"trial {t.number} {what}; {done}/{trials} complete; Pareto: {front or 'none yet'}", flush=True)
