"""What a run shows and leaves, as a user meets it through the command line: a short summary
and each Lightning line once, no carriage-return bars in logs, metrics.csv one row per step,
results.json saying what each figure is, a short run that still validates, and checkpoints
kept only where they are needed."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tiny_overrides

STEPS = 10  # fewer than an epoch (16 batches) and than the logging interval below


@pytest.fixture(scope="module")
def short_run(tiny_data, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("short")
    run = work / "run"
    overrides = [
        *tiny_overrides(tiny_data, work),
        f"trainer.max_steps={STEPS}",
        "trainer.log_every_n_steps=4",
        f"hydra.run.dir={run}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "dlkit", "train", *overrides],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return run, done


def test_the_console_shows_a_summary_not_the_config_tree(short_run) -> None:
    run, done = short_run
    head = done.stdout.split("\n", 8)[:7]
    assert head[0].startswith("dlkit train")
    assert [line.split()[0] for line in head[1:6]] == ["model", "data", "task", "training", "run"]
    assert "10 steps" in done.stdout and str(run) in done.stdout
    assert "optimizer" not in done.stdout and "_target_" not in done.stdout
    assert "\r" not in done.stdout + done.stderr


def test_lightning_lines_appear_once(short_run) -> None:
    run, done = short_run
    log = (run / "dlkit.log").read_text()
    assert log.count("GPU available") == 1, log  # two Trainers: training and the final metrics
    assert "\r" not in log
    assert "could not find the monitored key" not in log + done.stderr


def test_a_short_run_validates_at_its_last_step(short_run) -> None:
    run, _ = short_run
    results = json.loads((run / "results.json").read_text())
    assert results["global_step"] == STEPS
    assert results["evaluated"] == {
        "weights": "best",
        "step": STEPS,
        "epoch": 0,
        "precision": "32-true",
    }
    during = results["best_during_training"]
    assert during["step"] == STEPS
    assert during["value"] == pytest.approx(results["validation"]["acc"], abs=1e-4)


def test_metrics_csv_has_one_row_per_step_with_train_metrics(short_run) -> None:
    run, _ = short_run
    with open(run / "metrics.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames, list(reader)
    assert columns[:2] == ["step", "epoch"]
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(set(steps)) == [4, 8, STEPS]  # steps done, one row each
    assert all(row["train/loss"] and row["train/acc"] and row["train/lr"] for row in rows)
    assert not any(c.startswith("lr-") for c in columns)  # one learning-rate column
    last = rows[-1]
    assert last["val/acc"] and last["final_validation/acc"]  # the last step's validation


def test_a_finished_run_keeps_last_ckpt_and_model_only(short_run) -> None:
    run, _ = short_run
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    assert (run / "model" / "model.safetensors").is_file()
