"""`dlkit tune`: a finished search's artifacts, a killed search continued without losing or
repeating a trial, pruning of a hopeless learning rate, and one-paragraph errors for a bad
search space. Trials are the tiny model of conftest on its tiny data, a few steps each."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from dlkit.commands import tune
from dlkit.tune.study import STUDY_NAME, storage_url
from tests.conftest import compose_root, tiny_overrides

DONE = (TrialState.COMPLETE, TrialState.PRUNED)
# Hydra merges a mapping into a mapping: a space of its own replaces the default one with ~, +.
LR_SPACE = ["~tune.space", "+tune.space={optimizer:{lr:{type:float,low:1e-4,high:1e-2,log:true}}}"]


def _overrides(data: dict[str, Path], work: Path, epochs: int = 1) -> list[str]:
    """conftest's tiny run, shorter: `epochs` epochs of 16 steps, no test split, one thread."""
    dropped = ("trainer.max_epochs", "data.files.test")
    base = [o for o in tiny_overrides(data, work) if not o.startswith(dropped)]
    return [*base, f"trainer.max_epochs={epochs}", "hardware.threads=1", "experiment_name=tiny"]


def _load(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY_NAME, storage=storage_url(folder))


def _done(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=DONE)


def _is_image(path: Path) -> bool:
    """A real PNG with something drawn on it, not a blank canvas."""
    import matplotlib.image as mpimg

    pixels = mpimg.imread(path)
    return pixels.ndim == 3 and min(pixels.shape[:2]) > 100 and float(pixels.std()) > 0.01


def test_six_trials_leave_table_best_yaml_and_plots(tiny_data, tmp_path, capsys) -> None:
    sweep = tmp_path / "sweep"
    space = (
        "+tune.space={optimizer:{lr:{type:float,low:1e-4,high:1e-2,log:true}},"
        "scheduler:{warmup_ratio:{type:float,low:0.0,high:0.2}}}"
    )
    argv = [
        *_overrides(tiny_data, tmp_path),
        "tune.trials=6",
        f"tune.dir={sweep}",
        "~tune.space",
        space,
    ]
    assert tune.main(argv) == 0
    out = "".join(capsys.readouterr().out.split())  # rich wraps long paths at its width

    study = _load(sweep)
    done = _done(study)
    assert len(done) == 6 and len(study.trials) == 6
    assert f"dlkittune:{sweep}" in out and "Best:trial" in out  # the table and the best run
    for trial in done:  # each trial is a normal run folder of the sweep
        record = json.loads((Path(trial.user_attrs["run_dir"]) / "run.json").read_text())
        assert record["status"] == ("completed" if trial.state == TrialState.COMPLETE else "pruned")
        assert Path(trial.user_attrs["run_dir"]).parent == sweep
    rows = (sweep / "trials.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[0].startswith("number,state,value,optimizer.lr")

    best = study.best_trial
    assert f"in{best.user_attrs['run_dir']}" in out
    assert (Path(best.user_attrs["run_dir"]) / "model" / "config.json").is_file()
    for name in ("optimization_history", "param_importances", "intermediate_values"):
        assert _is_image(sweep / "plots" / f"{name}.png"), name

    # best.yaml is an experiment file that composes to what the best trial ran.
    own = tmp_path / "own" / "experiment"
    own.mkdir(parents=True)
    shutil.copy(sweep / "best.yaml", own / "tiny_tuned.yaml")
    cfg = compose_root(["+experiment=tiny_tuned", f"hydra.searchpath=[file://{own.parent}]"])
    assert cfg.optimizer.lr == best.params["optimizer.lr"]
    assert cfg.scheduler.warmup_ratio == best.params["scheduler.warmup_ratio"]
    assert cfg.model.config.hidden_size == 32 and cfg.data.files.train == str(tiny_data["train"])
    assert "tune" not in cfg  # a trial's config is dlkit train's: no search space in it
    command = next(
        line for line in (sweep / "best.yaml").read_text().splitlines() if "dlkit train" in line
    )
    assert f"optimizer.lr={best.params['optimizer.lr']!r}" in command


def _wait_for(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and json.loads(path.read_text() or "{}").get("status") == "running":
            return
        if process.poll() is not None:
            raise AssertionError(f"dlkit tune ended early: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear in {timeout} s")


def test_killed_search_continues_without_losing_or_repeating_a_trial(tiny_data, tmp_path) -> None:
    sweep = tmp_path / "sweep"
    argv = [*_overrides(tiny_data, tmp_path), "tune.trials=6", f"tune.dir={sweep}", *LR_SPACE]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlkit", "tune", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait_for(sweep / "trial_2" / "run.json", process, timeout=120)  # training the third
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = _load(sweep).trials[2]
    assert killed.state == TrialState.RUNNING  # what a SIGKILL leaves in the storage

    assert tune.main(argv) == 0  # the same command again continues the study

    study = _load(sweep)
    done = _done(study)
    assert len(done) == 6
    numbers = [t.number for t in done]
    assert len(set(numbers)) == 6
    params = [t.params["optimizer.lr"] for t in done]
    assert len(set(params)) == 6, params  # no settings trained twice
    assert study.trials[2].state == TrialState.FAIL  # the killed trial, its settings retried
    retry = [t for t in done if t.user_attrs.get("retry_of") == 2]
    assert len(retry) == 1 and retry[0].params == killed.params
    assert json.loads((sweep / "trial_2" / "run.json").read_text())["status"] == "failed"
    assert (sweep / "best.yaml").is_file()


def test_hopeless_learning_rate_is_pruned_before_its_last_validation(tiny_data, tmp_path) -> None:
    """Two sane learning rates first (tune.enqueue), then 1e2: the median pruner stops it
    from its intermediate validation accuracy; with 3 epochs, validations come at steps 16,
    32 and 48."""
    sweep = tmp_path / "sweep"
    argv = [
        *_overrides(tiny_data, tmp_path, epochs=3),
        "tune.trials=3",
        f"tune.dir={sweep}",
        "~tune.space",
        "+tune.space={optimizer:{lr:{type:categorical,choices:[3e-3,5e-3,100.0]}}}",
        "tune.enqueue=[{optimizer.lr:5e-3},{optimizer.lr:3e-3},{optimizer.lr:100.0}]",
        "tune.pruner.n_startup_trials=2",
    ]
    assert tune.main(argv) == 0
    trials = _load(sweep).trials
    assert [t.params["optimizer.lr"] for t in trials] == [5e-3, 3e-3, 100.0]
    assert [t.state for t in trials[:2]] == [TrialState.COMPLETE] * 2
    hopeless = trials[2]
    assert hopeless.state == TrialState.PRUNED
    assert hopeless.user_attrs["pruned_by"] == "pruner"
    assert hopeless.user_attrs["pruned_at"]["step"] < 48
    assert max(hopeless.intermediate_values) < 48  # it never reached its last validation
    record = json.loads((Path(hopeless.user_attrs["run_dir"]) / "run.json").read_text())
    assert record["status"] == "pruned" and not record.get("error")


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("+tune.space.optimizer.lrr={type:float,low:1e-4,high:1e-2}", "Did you mean optimizer.lr"),
        ("tune.space.optimizer.lr.type=gaussian", "tune.space.optimizer.lr.type='gaussian'"),
        ("tune.space.optimizer.lr.low=1.0", "low=1.0 must be below high=0.01"),
        ("tune.space.optimizer.lr.low=0", "a log distribution needs low > 0"),
        ("tune.trials=0", "tune.trials=0"),
        ("tune.direction=up", "tune.direction='up'"),
        ("+tune.space.optimizer.lr2={type:categorical,choices:[1e-3,-1.0]}", "optimizer.lr2"),
        ("+tune.space.data.batch_size={type:categorical,choices:[16,-4]}", "data.batch_size=-4"),
    ],
)
def test_bad_search_space_is_one_paragraph_and_exit_2(
    override: str, named: str, tiny_data, tmp_path, capsys
) -> None:
    argv = [*_overrides(tiny_data, tmp_path), f"tune.dir={tmp_path / 'sweep'}", override]
    assert tune.main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert named in err and "Traceback" not in err
    assert not (tmp_path / "sweep").exists()  # refused before a sweep folder or study exists


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dlkit", "tune", "+experiment=bert_cls", "tune.trials=0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DLKIT_RUN_ROOT": str(tmp_path / "runs")},
    )
    assert result.returncode == 2
    assert "tune.trials=0" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_train_composes_no_search_space() -> None:
    """The tune group is in the defaults list as null: `dlkit train` composes as before, and
    the experiment's own space is picked by name."""
    assert "tune" not in compose_root(["+experiment=bert_cls"])
    assert tune.space_name([], ["+experiment=bert_cls"]) == ("bert_cls", [])
    assert tune.space_name([], ["+experiment=lstm_cls"]) == ("default", [])
    assert tune.space_name(["tune=default", "tune.trials=3"], ["+experiment=bert_cls"]) == (
        "default",
        ["tune.trials=3"],
    )


def test_the_table_takes_run_folders_relative_to_the_working_folder(
    tmp_path, monkeypatch, capsys
) -> None:
    """The default run root is `runs`, relative; the sweep folder is shown absolute."""
    from types import SimpleNamespace

    import optuna

    from dlkit.tune.report import table

    monkeypatch.chdir(tmp_path)
    trial = optuna.trial.create_trial(
        value=0.5,
        params={"optimizer.lr": 1e-3},
        distributions={"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)},
        user_attrs={"run_dir": "runs/bert_cls/tune_x/trial_0"},
    )
    spec = SimpleNamespace(params=[SimpleNamespace(key="optimizer.lr")], monitor="val/acc")
    table([trial], spec, (tmp_path / "runs" / "bert_cls" / "tune_x").resolve())
    out = "".join(capsys.readouterr().out.split())
    assert "trial_0" in out and "runs/bert_cls/tune_x/trial_0" not in out
