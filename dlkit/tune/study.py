"""The Optuna study of a sweep folder and its trial loop.

The study lives in SQLite beside the trials (study.db), so a killed `dlkit tune` continues it
and several processes can share it: before each trial the completed and pruned trials in the
storage are counted, and a trial whose process died while it ran (SIGKILL, a lost node) is
marked failed and its settings queued again, so the study ends with `tune.trials` completed or
pruned trials and none of them twice."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, open_dict
from optuna.trial import TrialState
from rich.markup import escape

from dlkit import console
from dlkit.errors import ConfigError, DlkitError, NonFiniteLoss, Preempted
from dlkit.runs import liveness
from dlkit.runs.folder import RunFolder
from dlkit.tune import pruning, space
from dlkit.tune.space import Spec

STUDY_NAME = "dlkit"
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
_FAILURES_IN_A_ROW = 3  # trials failing one after another: the settings, not the trial


def storage_url(folder: Path) -> str:
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def open_study(spec: Spec, folder: Path, meta: dict[str, Any]) -> optuna.Study:
    """Create the sweep's study or load it (`load_if_exists`); a direction other than the
    stored one is refused. `meta` (experiment, overrides) is kept on a new study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _creation_lock(folder):  # processes starting together would each create the tables
        storage = optuna.storages.RDBStorage(
            storage_url(folder), engine_kwargs={"connect_args": {"timeout": 60}}
        )
        study = optuna.create_study(
            storage=storage,
            study_name=STUDY_NAME,
            direction=spec.direction,
            sampler=sampler(spec, 0),
            pruner=_pruner(spec),
            load_if_exists=True,
        )
    stored = study.direction.name.lower()
    if stored != spec.direction:
        raise ConfigError(
            f"The study in {folder} was started to {stored} {spec.monitor}; this command "
            f"asks to {spec.direction}. Use another tune.dir or tune.direction={stored}."
        )
    if not study.user_attrs:
        for key, value in meta.items():
            study.set_user_attr(key, value)
    for params in spec.enqueue:  # the settings to try first, once per study
        study.enqueue_trial(params, skip_if_exists=True)
    return study


@contextlib.contextmanager
def _creation_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on <folder>/study.lock (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / "study.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sampler(spec: Spec, number: int) -> optuna.samplers.BaseSampler:
    """Seeded with tune.sampler.seed plus a trial's number (a new sampler per trial)."""
    options = {k: v for k, v in spec.sampler.items() if k not in ("name", "seed")}
    seed = spec.sampler.get("seed")
    seed = None if seed is None else int(seed) + number
    if spec.sampler["name"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, **options)


def _pruner(spec: Spec) -> optuna.pruners.BasePruner:
    if spec.pruner["name"] == "none":
        return optuna.pruners.NopPruner()
    options = {k: v for k, v in spec.pruner.items() if k != "name"}
    return optuna.pruners.MedianPruner(**options)


def recover(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose process is gone and queue their settings again; returns
    their numbers. Two processes recovering at once: `tell` lets one of them win."""
    retried = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = {"pid": trial.user_attrs.get("pid"), "host": trial.user_attrs.get("host")}
        if not liveness.process_gone(owner):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):  # finished meanwhile, by another process
            continue
        if trial.params:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        run_dir = trial.user_attrs.get("run_dir")
        if run_dir and (Path(run_dir) / "run.json").is_file():
            RunFolder(run_dir).update(
                status="failed",
                error="the dlkit tune process running this trial was killed; its settings were "
                "queued again as a new trial",
            )
        retried.append(trial.number)
    return retried


def counts(study: optuna.Study) -> tuple[int, int]:
    """(completed or pruned, running) trials in the storage."""
    trials = study.get_trials(deepcopy=False, states=(*DONE, TrialState.RUNNING))
    done = sum(t.state in DONE for t in trials)
    return done, len(trials) - done


def run(study: optuna.Study, spec: Spec, folder: Path, base: Sequence[str]) -> None:
    """Run trials until the study holds `spec.trials` completed or pruned ones."""
    failures = 0
    while True:
        retried = recover(study)
        if retried:
            console.console.print(
                f"[yellow]Trial {', '.join(map(str, retried))} was left running by a killed "
                "process: marked failed, its settings queued again.[/yellow]"
            )
        done, running = counts(study)
        if done >= spec.trials:
            return
        if done + running >= spec.trials:
            console.console.print(
                f"{running} trial(s) still run in other processes; this one stops here."
            )
            return
        try:
            _trial(study, spec, folder, base, done)
            failures = 0
        except _TrialFailed as failed:
            failures += 1
            if failures >= _FAILURES_IN_A_ROW:
                raise failed.error from None


class _TrialFailed(Exception):
    def __init__(self, error: DlkitError) -> None:
        self.error = error


def _trial(study: optuna.Study, spec: Spec, folder: Path, base: Sequence[str], done: int) -> None:
    """One trial: sample, compose, train with the runner of `dlkit train`, tell the study."""
    from dlkit.commands import run_dir
    from dlkit.commands.train import train

    trial = study.ask()
    # Values are drawn at suggest time: seeded by the trial's number, unique in the storage,
    # two processes never draw alike, and a continued study does not repeat its first draws.
    study.sampler = sampler(spec, trial.number)
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("experiment", study.user_attrs.get("experiment"))
    key = f"{folder.resolve()}#{trial.number}"
    argv = sys.argv
    folder_n = folder / f"trial_{trial.number}"
    try:
        params = {p.key: p.suggest(trial) for p in spec.params}
        line = [*base, *space.overrides(params)]
        shown = escape(" ".join(space.overrides(params)))
        console.console.rule(f"trial {trial.number} ({done + 1} of {spec.trials}): {shown}")
        folder_n = run_dir.claim(folder_n)
        trial.set_user_attr("run_dir", str(folder_n))
        cfg = _compose([*line, f"paths.output_dir={folder_n}"], key, spec)
        pruning.register(key, trial)
        sys.argv = [argv[0], *line]  # run.json's command: `dlkit train <these overrides>`
        results = train(cfg)
    except optuna.TrialPruned as stop:
        _pruned(study, trial, folder_n, str(stop), "pruner")
        return
    except NonFiniteLoss as err:  # a hopeless setting: the sampler learns from it as pruned
        _pruned(study, trial, folder_n, str(err).split(".")[0], "non-finite loss")
        return
    except (Preempted, KeyboardInterrupt):  # stopped, not judged: the trial runs again later
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        raise
    except DlkitError as err:
        study.tell(trial, state=TrialState.FAIL)
        console.console.print(f"[red]trial {trial.number} failed: {escape(str(err))}[/red]")
        raise _TrialFailed(err) from err
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    finally:
        pruning.unregister(key)
        sys.argv = argv
    value = monitored(results, spec.monitor)
    if value is None:
        study.tell(trial, state=TrialState.FAIL)
        console.console.print(f"[red]trial {trial.number}: results.json has no {spec.monitor}")
        return
    study.tell(trial, value)
    console.console.print(f"trial {trial.number}: {spec.monitor}={value:.4f}  ({folder_n})")


def _compose(line: list[str], key: str, spec: Spec) -> DictConfig:
    """The trial's config as `dlkit train` composes it, plus the pruning callback. The command
    line and each distribution's values passed `overrides.check` before the first trial; a
    combination of values is range-checked here (hidden size and heads, say)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from dlkit.commands import ranges
    from dlkit.commands.app import config_dir

    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=line)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"This trial's settings do not compose: {err}") from err
    ranges.check(cfg)
    with open_dict(cfg):
        cfg.callbacks.tune_pruning = {
            "_target_": "dlkit.tune.pruning.pruning",
            "key": key,
            "monitor": spec.monitor,
        }
    return cfg


def _pruned(study: optuna.Study, trial: Any, folder: Path, reason: str, by: str) -> None:
    trial.set_user_attr("pruned_by", by)
    study.tell(trial, state=TrialState.PRUNED)
    at = trial.user_attrs.get("pruned_at") if hasattr(trial, "user_attrs") else None
    RunFolder(folder).update(
        status="pruned", error=None, pruned={"by": by, "why": reason, **(at or {})}
    )
    console.console.print(f"[yellow]trial {trial.number} pruned ({reason})[/yellow]")


def monitored(results: dict[str, Any], monitor: str) -> float | None:
    """The monitored metric's final validation value in results.json (val/acc -> acc)."""
    split, _, name = monitor.partition("/")
    section = results.get({"val": "validation"}.get(split, split))
    value = section.get(name) if isinstance(section, dict) else None
    return float(value) if isinstance(value, (int, float)) else None
