"""MLflow and W&B: a run killed mid-training and resumed is one tracker run holding both halves'
metrics, the resolved config as params, the run folder as a tag and model/ as an artifact. Read
back with mlflow's own client and from W&B's offline files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlkit.errors import ConfigError
from dlkit.training import wandb_files
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent


def _dlkit(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlkit", "train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT), "DLKIT_CACHE_DIR": str(cwd / "cache")},
        timeout=600,
    )


def _killed_and_resumed(data: dict, work: Path, logger: str, env: dict[str, str]) -> Path:
    """Two epochs of 16 steps, killed at step 12 (last checkpoint at 10), then resumed."""
    keep = [o for o in tiny_overrides(data, work) if not o.startswith("trainer.max_epochs")]
    overrides = [
        *keep,
        "trainer.max_epochs=2",
        "callbacks.resume_checkpoint.every_n_train_steps=5",
        f"logger={logger}",
        "experiment_name=tracked",
    ]
    run = work / "runs" / "tracked" / "run1"
    kill = [
        "+callbacks.signal._target_=tests.signals.SignalAtStep",
        "+callbacks.signal.step=12",
    ]
    killed = _dlkit(*overrides, *kill, f"hydra.run.dir={run}", cwd=work, env=env)
    assert killed.returncode == -9, killed.stderr[-3000:]
    resumed = _dlkit(*overrides, f"resume={run}", cwd=work, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    return run


def test_mlflow_run_killed_and_resumed_is_one_run(tiny_data, tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    run = _killed_and_resumed(tiny_data, tmp_path, "[csv,mlflow]", dict(os.environ))
    assert (run / "metrics.csv").is_file()  # the run folder keeps its own curve too
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tracked")
    (tracked,) = client.search_runs([experiment.experiment_id])
    assert tracked.info.status == "FINISHED"
    assert tracked.info.run_name == "tracked/run1"
    assert tracked.data.tags["dlkit.run_dir"] == str(run.resolve())
    assert tracked.data.tags["dlkit.status"] == "completed"
    params = tracked.data.params
    assert params["optimizer.lr"] == "0.005" and params["model.config.hidden_size"] == "32"
    assert params["trainer.max_epochs"] == "2" and params["logger.mlflow.log_model"] == "True"
    steps = {m.step for m in client.get_metric_history(tracked.info.run_id, "train/loss")}
    assert min(steps) < 10 and max(steps) > 12  # before the kill and after the resume
    results = json.loads((run / "results.json").read_text())
    final = tracked.data.metrics["final_validation/acc"]
    assert final == pytest.approx(results["validation"]["acc"])
    artifacts = {a.path for a in client.list_artifacts(tracked.info.run_id, "model")}
    assert {"model/config.json", "model/model.safetensors"} <= artifacts
    assert json.loads((run / "trackers.json").read_text())["mlflow"]["run_id"] == (
        tracked.info.run_id
    )


def test_wandb_offline_run_killed_and_resumed_is_one_run(tiny_data, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc key: offline
    run = _killed_and_resumed(tiny_data, tmp_path, "wandb", env)
    run_id = json.loads((run / "trackers.json").read_text())["wandb"]["id"]
    halves = sorted((run / "wandb").glob("offline-run-*"))
    assert len(halves) == 2 and all(h.name.endswith(f"-{run_id}") for h in halves)
    logged, configs, artifacts = set(), [], []
    for half in halves:
        file = half / f"run-{run_id}.wandb"
        logged |= {r["trainer/global_step"] for r in wandb_files.history(file) if "train/loss" in r}
        for record in wandb_files.records(file):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                assert record.run.run_id == run_id
            elif kind == "config":
                configs += [(u.key, u.value_json) for u in record.config.update]
            elif kind == "artifact":
                artifacts.append(record.artifact.type)
    # Every step metrics.csv has a training loss for, before the kill and after the resume
    # (wandb lost the killed process's buffered records; the resume replays them).
    with open(run / "metrics.csv") as handle:
        expected = {int(r["step"]) - 1 for r in csv.DictReader(handle) if r.get("train/loss")}
    assert logged == expected and min(logged) < 10 and max(logged) > 12
    config = dict(configs)
    assert json.loads(config["optimizer"])["lr"] == 0.005
    assert json.loads(config["dlkit_run_dir"]) == str(run.resolve())
    assert artifacts == ["model"]


def test_a_missing_tracker_package_is_a_config_error(monkeypatch, tmp_path) -> None:
    import importlib.util

    from dlkit.training import trackers

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'dlkit\[mlflow\]'"):
        trackers.MLflowTracker(str(tmp_path), str(tmp_path), "x")


def test_trackers_json_that_is_not_json_is_named(tmp_path) -> None:
    from dlkit.errors import RunFolderError
    from dlkit.training import trackers

    (tmp_path / "trackers.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="trackers.json"):
        trackers.MLflowTracker(str(tmp_path), str(tmp_path), "x")


def test_wandb_replay_sends_only_the_steps_the_run_lacks(tmp_path, monkeypatch) -> None:
    """A run whose first process flushed steps 0-5 (a SIGTERM, say): the resume's replay of the
    checkpoint's rows (steps done 1-10) sends 6-9 only."""
    import wandb

    from dlkit.training.trackers import WandbTracker

    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    first = wandb.init(mode="offline", dir=str(tmp_path), id="abcd1234", project="dlkit")
    for step in range(6):
        first.log({"train/loss": 1.0, "trainer/global_step": step})
    first.finish()
    (tmp_path / "trackers.json").write_text(json.dumps({"wandb": {"id": "abcd1234"}}))
    tracker = WandbTracker(str(tmp_path), "x", log_model=False)
    tracker.replay_restored([{"step": s, "train/loss": 0.5, "epoch": 0} for s in range(1, 11)])
    tracker.experiment.finish()
    halves = sorted((tmp_path / "wandb").glob("offline-run-*-abcd1234"))
    assert len(halves) == 2
    resumed = _written_history(halves[1] / "run-abcd1234.wandb")
    assert [r["trainer/global_step"] for r in resumed] == [6, 7, 8, 9]


def _written_history(path, timeout: float = 60.0) -> list[dict]:
    """wandb's own process writes the file; under load `finish()` can return before it has
    (seen once with two test workers on two cores), so wait for the rows to land."""
    deadline = time.monotonic() + timeout
    while not (rows := list(wandb_files.history(path))) and time.monotonic() < deadline:
        time.sleep(0.5)
    return rows
