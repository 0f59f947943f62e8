"""Runs that survive: killed or pre-empted at any step, resumed, and ending exactly where the
uninterrupted run ends (CPU, fp32)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dlkit.errors import PREEMPTED
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent
STEPS_PER_EPOCH = 16  # 256 rows, batch 16


def _overrides(data: dict, work: Path) -> list[str]:
    keep = [o for o in tiny_overrides(data, work) if not o.startswith("trainer.max_epochs")]
    return [*keep, "trainer.max_epochs=2", "callbacks.resume_checkpoint.every_n_train_steps=5"]


def _dlkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DLKIT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "dlkit", "train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def _signal_at(step: int, name: str = "SIGKILL") -> list[str]:
    return [
        "+callbacks.signal._target_=tests.signals.SignalAtStep",
        f"+callbacks.signal.step={step}",
        f"+callbacks.signal.name={name}",
    ]


def _final(run: Path) -> tuple[dict, dict, str]:
    weights = load_file(run / "model" / "model.safetensors")
    results = json.loads((run / "results.json").read_text())
    return weights, results["validation"], (run / "metrics.csv").read_text()


def _assert_same(run: Path, reference: Path) -> None:
    weights, metrics, csv_text = _final(run)
    ref_weights, ref_metrics, ref_csv = _final(reference)
    assert weights.keys() == ref_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, ref_weights[name]), name
    assert metrics == ref_metrics
    assert csv_text == ref_csv


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory) -> tuple[Path, list[str]]:
    work = tmp_path_factory.mktemp("resume")
    overrides = _overrides(tiny_data, work)
    result = _dlkit(*overrides, f"hydra.run.dir={work / 'reference'}", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work, overrides


@pytest.mark.parametrize(
    "kill_at",
    # mid-epoch; and across the epoch boundary (last ckpt at 15), slow: two more processes
    [12, pytest.param(STEPS_PER_EPOCH + 2, marks=pytest.mark.slow)],
)
def test_killed_then_resumed_matches_uninterrupted(reference, kill_at: int) -> None:
    work, overrides = reference
    run = work / f"killed_{kill_at}"
    killed = _dlkit(*overrides, *_signal_at(kill_at), f"hydra.run.dir={run}", cwd=work)
    assert killed.returncode == -9
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    resumed = _dlkit(*overrides, f"resume={run}", cwd=work)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed" and state["resumed"][0]["step"] == kill_at // 5 * 5
    _assert_same(run, work / "reference")


def test_sigterm_checkpoints_and_resume_auto_finishes(reference) -> None:
    work, overrides = reference
    stopped = _dlkit(*overrides, *_signal_at(7, "SIGTERM"), cwd=work)
    assert stopped.returncode == PREEMPTED, stopped.stderr[-3000:]
    assert "SIGTERM" in stopped.stderr and "Traceback" not in stopped.stderr
    (run,) = (work / "runs" / "default").iterdir()
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "preempted"
    saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == 7
    finished = _dlkit(*overrides, "resume=auto", cwd=work)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert [p.name for p in (work / "runs" / "default").iterdir()] == [run.name]
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    _assert_same(run, work / "reference")


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(reference) -> None:
    work, overrides = reference
    run = work / "nan"
    settings = [
        "optimizer.lr=1e30",
        "trainer.gradient_clip_val=null",
        "callbacks.resume_checkpoint.every_n_train_steps=2",
    ]
    result = _dlkit(*overrides, *settings, f"hydra.run.dir={run}", cwd=work)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "The training loss is nan at step" in result.stderr
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "failed" and "NonFiniteLoss" in state["error"]
    saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] < int(state["error"].split("at step ")[1].split()[0])
    assert all(torch.isfinite(t).all() for t in saved["state_dict"].values())


@pytest.mark.slow  # six training processes
def test_two_processes_killed_then_resumed_match_uninterrupted(reference) -> None:
    """Each process's data share, position and dropout generator come back (dropout is on)."""
    work, overrides = reference
    ddp = [*[o for o in overrides if not o.startswith("data.batch_size")], "data.batch_size=8"]
    ddp += ["hardware=ddp_cpu"]
    whole = _dlkit(*ddp, f"hydra.run.dir={work / 'ddp_reference'}", cwd=work)
    assert whole.returncode == 0, whole.stderr[-3000:]
    run = work / "ddp_killed"
    killed = _dlkit(*ddp, *_signal_at(12), f"hydra.run.dir={run}", cwd=work)
    assert killed.returncode != 0
    resumed = _dlkit(*ddp, f"resume={run}", cwd=work)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same(run, work / "ddp_reference")
