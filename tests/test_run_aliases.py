"""`runs/<experiment>/latest` and `/best`: which run they pick, paths inside them, and the
folder they resolved to said on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlkit.errors import RunFolderError
from dlkit.runs.folder import resolve


def _run(experiment: Path, name: str, acc: float, finished: str, status="completed") -> Path:
    run = experiment / name
    (run / "exports" / "onnx").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": status, "finished": finished}))
    (run / "results.json").write_text(
        json.dumps({"monitor": "val/acc", "validation": {"acc": acc}})
    )
    (run / "config.yaml").write_text("task:\n  monitor: val/acc\n  monitor_mode: max\n")
    return run


def test_latest_and_best(tmp_path: Path, capsys) -> None:
    experiment = tmp_path / "runs" / "bert_cls"
    good = _run(experiment, "a", 0.85, "2026-12-01T10:00:00")
    smoke = _run(experiment, "b", 0.51, "2026-12-02T10:00:00")  # a 20-step smoke test
    _run(experiment, "c", 0.99, "2026-12-03T10:00:00", status="failed")
    assert resolve(experiment / "latest") == smoke
    assert f"{experiment / 'latest'} -> {smoke}" in capsys.readouterr().err
    assert resolve(experiment / "best") == good
    assert resolve(experiment / "latest" / "exports" / "onnx") == smoke / "exports" / "onnx"
    assert resolve(good) == good  # a real folder is itself, silently
    assert capsys.readouterr().err.count("->") == 2


def test_best_follows_the_monitor_mode(tmp_path: Path) -> None:
    experiment = tmp_path / "runs" / "bert_mlm"
    low = _run(experiment, "a", 3.1, "2026-12-01T10:00:00")
    _run(experiment, "b", 4.2, "2026-12-02T10:00:00")
    for run in experiment.iterdir():
        (run / "config.yaml").write_text("task:\n  monitor_mode: min\n")
    assert resolve(experiment / "best") == low


def test_no_completed_run(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="No completed run"):
        resolve(tmp_path / "runs" / "none" / "best")
