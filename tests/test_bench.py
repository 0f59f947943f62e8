"""`make bench` runs dlkit, a plain PyTorch loop and transformers' Trainer on the same model
and data; their losses agree step by step, which shows the three compute the same thing."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FILLER, NEGATIVE, POSITIVE

ROOT = Path(__file__).resolve().parents[1]


def write_sst2(folder: Path, rows: int, seed: int, name: str) -> None:
    """SST-2's layout: tsv without quoting, so a bare quote is part of the sentence."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sentence\tlabel"]
    for _ in range(rows):
        label = rng.randint(0, 1)
        words = rng.choices(FILLER, k=rng.randint(2, 12)) + [
            rng.choice((NEGATIVE, POSITIVE)[label])
        ]
        if rng.random() < 0.1:
            words.insert(0, '"')
        lines.append(f"{' '.join(words)}\t{label}")
    (folder / name).write_text("\n".join(lines) + "\n")


@pytest.mark.slow  # runs the bench
def test_the_three_ways_reach_the_same_loss_at_the_same_step(tmp_path: Path) -> None:
    write_sst2(tmp_path / "data" / "sst2", 512, seed=1, name="train.tsv")
    write_sst2(tmp_path / "data" / "sst2", 64, seed=2, name="dev.tsv")
    out = tmp_path / "bench"
    command = [sys.executable, str(ROOT / "scripts" / "bench" / "run.py")]
    options = ["--data-dir", str(tmp_path / "data"), "--out", str(out), "--rounds", "1"]
    options += ["--sizes", "1L-64H", "--datasets", "sst2", "--steps", "14", "--batch-size", "8"]
    options += ["--dlkit-override", "trainer.log_every_n_steps=7"]
    done = subprocess.run([*command, *options], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    (config,) = results["configs"]
    assert config["same_loss"], config["max_loss_diff_to_plain"]
    assert max(config["max_loss_diff_to_plain"].values()) < 1e-5
    losses = config["loss_at_steps"]
    assert losses["plain"][0] > losses["plain"][-1]  # it trains: the loss moves
    accuracies = {way: config["median"][way]["val_acc"] for way in ("plain", "trainer", "dlkit")}
    assert len(set(accuracies.values())) == 1, accuracies
    for way in ("plain", "trainer", "dlkit"):
        median = config["median"][way]
        assert median["samples_per_second"] > 0 and median["peak_rss_mib"] > 100
        assert 0 < median["first_step_s"] < median["wall_s"]
    speed = {way: config["median"][way]["samples_per_second"] for way in ("plain", "dlkit")}
    assert config["dlkit_speed_by_round"]["vs plain"] == [round(speed["dlkit"] / speed["plain"], 3)]
    table = (out / "results.md").read_text()
    assert all(f"| 1L-64H | sst2 | {way} |" in table for way in ("plain", "trainer", "dlkit"))
    assert "dlkit ran with `trainer.log_every_n_steps=7`" in table
    dlkit_run = out / "work" / "1L-64H-sst2-dlkit-r0" / "run"
    assert "log_every_n_steps: 7" in (dlkit_run / "config.yaml").read_text()
