"""`dlkit runs` (list, show, compare, plot) on a synthetic run root holding every kind of run
folder, in the formats training writes; and the per-run plots/ of a finished run."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dlkit import cli
from dlkit.runs import plots

HEAVY = ("torch", "lightning", "transformers", "datasets", "matplotlib", "pandas")
CLS_STEPS = [50, 100, 150, 200]


def _config(experiment: str, monitor: str, mode: str, lr: float, run: Path) -> dict[str, Any]:
    """config.yaml as training writes it (resolved, the run's own folder inside)."""
    return {
        "paths": {"run_root": "runs", "output_dir": str(run.resolve())},
        "model": {"name": "bert_tiny", "config": {"hidden_size": 32}},
        "task": {"name": experiment, "monitor": monitor, "monitor_mode": mode},
        "optimizer": {"_target_": "torch.optim.AdamW", "lr": lr, "betas": [0.9, 0.999]},
        "callbacks": {"checkpoint": {"dirpath": f"{run.resolve()}/checkpoints"}},
        "experiment_name": experiment,
        "seed": 42,
    }


def _metrics_csv(steps: list[int], acc: list[float], name: str = "acc") -> str:
    """metrics.csv as MetricsCSV writes it: step and epoch first, train rows, then val rows
    at the validation steps, and the final metrics on the last row."""
    lines = [f"step,epoch,train/loss,train/lr,val/{name},val/loss,final_validation/{name}"]
    for i, step in enumerate(steps):
        val = f"{acc[i]},{1 - acc[i]:.3f}" if i % 2 else ","
        final = str(max(acc)) if i == len(steps) - 1 else ""
        lines.append(f"{step},0,{0.7 - 0.1 * i},{1e-4 * (i + 1)},{val},{final}")
    return "\n".join(lines) + "\n"


def make_run(
    root: Path,
    name: str,
    status: str,
    experiment: str = "bert_cls",
    lr: float = 5e-4,
    acc: float = 0.8,
    overrides: tuple[str, ...] = (),
    **record: Any,
) -> Path:
    """A run folder: run.json, config.yaml, .hydra/overrides.yaml, metrics.csv and, for a
    completed run, results.json."""
    run = root / experiment / name
    (run / ".hydra").mkdir(parents=True)
    monitor, metric = ("val/f1", "f1") if experiment == "bert_ner" else ("val/acc", "acc")
    (run / "config.yaml").write_text(
        yaml.safe_dump(_config(experiment, monitor, "max", lr, run), sort_keys=False)
    )
    (run / ".hydra" / "overrides.yaml").write_text(
        "".join(f"- {o}\n" for o in (f"+experiment={experiment}", *overrides))
    )
    (run / "metrics.csv").write_text(_metrics_csv(CLS_STEPS, [acc - 0.1, acc - 0.05] * 2, metric))
    data = {
        "status": status,
        "created": "2026-12-03T10:00:00+0000",
        "started": f"2026-12-03T10:{len(list(root.glob('*/*'))):02d}:00+0000",
        "command": ["dlkit", "train", f"+experiment={experiment}", *overrides],
        "experiment": experiment,
        "seed": 42,
        "versions": {"python": "3.11.7", "torch": "2.13.0+cpu"},
        "updated": "2026-12-03T11:00:00+0000",
        **record,
    }
    if status == "completed":
        data["finished"] = "2026-12-03T11:30:00+0000"
        results = {
            "experiment": experiment,
            "validation": {"loss": round(1 - acc, 6), metric: acc},
            "monitor": monitor,
            "evaluated": {"weights": "best", "step": 200, "epoch": 0, "precision": "32-true"},
            "best_during_training": {"value": acc, "step": 200, "precision": "32-true"},
            "global_step": 200,
            "samples_per_second": 80.0,
        }
        if experiment == "bert_ner":
            results["test"] = {metric: acc - 0.05, "loss": 0.3}
        (run / "results.json").write_text(json.dumps(results, indent=2))
    (run / "run.json").write_text(json.dumps(data, indent=2))
    return run


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Every kind of run: completed (two families), failed, preempted, running, stale,
    damaged, a Hydra multirun's jobs and a tune trial."""
    root = tmp_path / "runs"
    host = socket.gethostname()
    make_run(root, "2026-12-03_10-00-00", "completed", lr=5e-4, acc=0.81)
    make_run(
        root,
        "2026-12-03_10-10-00",
        "completed",
        lr=1e-4,
        acc=0.86,
        overrides=("optimizer.lr=1e-4",),
    )
    make_run(root, "2026-12-03_10-20-00", "failed", error="NonFiniteLoss: loss is nan at step 150")
    make_run(root, "2026-12-03_10-30-00", "preempted", preempted=150)
    make_run(root, "2026-12-03_10-40-00", "running", pid=os.getpid(), host=host)
    make_run(root, "2026-12-03_10-50-00", "running", pid=_dead_pid(), host=host)
    damaged = make_run(root, "2026-12-03_11-00-00", "completed")
    (damaged / "run.json").write_text('{"status": "compl')
    for job, lr in (("0", 3e-4), ("1", 3e-5)):
        make_run(
            root,
            f"multirun_2026-12-03_12-00-00/{job}",
            "completed",
            lr=lr,
            acc=0.7 + lr * 100,
            overrides=(f"optimizer.lr={lr}",),
        )
    (root / "bert_cls" / "multirun_2026-12-03_12-00-00" / "multirun.yaml").write_text("{}\n")
    make_run(root, "2026-12-03_09-00-00", "completed", experiment="bert_ner", acc=0.77)
    make_run(root, "tune_2026-12-03_13-00-00/trial_0", "pruned", experiment="bert_ner")
    (root / "bert_ner" / "tune_2026-12-03_13-00-00" / "trials.csv").write_text("number\n0\n")
    return root


def runs(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["runs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _tsv(out: str) -> list[dict[str, str]]:
    header, *lines = out.splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]


# -- list -----------------------------------------------------------------------------------
def test_list_shows_every_run_with_its_status_as_tsv(root: Path, capsys) -> None:
    code, out, _ = runs(["list", "--root", str(root)], capsys)
    assert code == 0
    rows = {row["run"]: row for row in _tsv(out)}
    status = {name: row["status"] for name, row in rows.items()}
    assert status == {
        "bert_cls/2026-12-03_10-00-00": "completed",
        "bert_cls/2026-12-03_10-10-00": "completed",
        "bert_cls/2026-12-03_10-20-00": "failed",
        "bert_cls/2026-12-03_10-30-00": "preempted",
        "bert_cls/2026-12-03_10-40-00": "running",
        "bert_cls/2026-12-03_10-50-00": "stale",  # says running; its process is gone
        "bert_cls/2026-12-03_11-00-00": "unreadable",
        "bert_cls/multirun_2026-12-03_12-00-00/0": "completed",
        "bert_cls/multirun_2026-12-03_12-00-00/1": "completed",
        "bert_ner/2026-12-03_09-00-00": "completed",
        "bert_ner/tune_2026-12-03_13-00-00/trial_0": "pruned",  # a `dlkit tune` trial
    }
    best = rows["bert_cls/2026-12-03_10-10-00"]
    assert (best["metric"], best["value"], best["steps"]) == ("val/acc", "0.86", "200")
    assert best["overrides"] == "optimizer.lr=1e-4"  # +experiment= is the experiment column
    assert best["duration"] == "1h28m" and best["started"] == "2026-12-03 10:02:00"
    assert rows["bert_cls/2026-12-03_10-30-00"]["steps"] == "150"
    assert rows["bert_cls/2026-12-03_10-40-00"]["value"] == "0.75"  # best so far, metrics.csv
    assert "not valid JSON" in rows["bert_cls/2026-12-03_11-00-00"]["note"]
    assert "nan at step 150" in rows["bert_cls/2026-12-03_10-20-00"]["note"]
    assert "resume=" in rows["bert_cls/2026-12-03_10-50-00"]["note"]
    assert rows["bert_ner/2026-12-03_09-00-00"]["metric"] == "val/f1"


def test_list_json_filters_and_sorts(root: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DLKIT_RUN_ROOT", str(root))  # paths.run_root's own variable
    code, out, _ = runs(
        ["list", "bert_cls", "--status", "completed", "--sort", "val/acc", "--json"], capsys
    )
    assert code == 0
    listed = json.loads(out)
    assert [r["value"] for r in listed] == sorted((r["value"] for r in listed), reverse=True)
    assert {r["experiment"] for r in listed} == {"bert_cls"}
    assert {r["status"] for r in listed} == {"completed"}
    assert listed[0]["run"] == "bert_cls/2026-12-03_10-10-00" and len(listed) == 4
    assert listed[0]["metrics"]["val/loss"] == pytest.approx(0.14)
    code, out, _ = runs(
        ["list", "--sort", "steps", "--reverse", "--status", "preempted,failed"], capsys
    )
    assert [row["status"] for row in _tsv(out)] == ["failed", "preempted"]  # 200, 150 steps


def test_list_imports_nothing_heavy(root: Path) -> None:
    code = (
        "import sys\nfrom dlkit.cli import main\n"
        f"code = main(['runs', 'list', '--root', {str(root)!r}])\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == "HEAVY= 0", out.stdout + out.stderr
    assert "bert_ner/2026-12-03_09-00-00\tbert_ner" in out.stdout


# -- show, compare ----------------------------------------------------------------------------
def test_show_says_what_run_json_and_results_json_say(root: Path, capsys, monkeypatch) -> None:
    code, out, _ = runs(["show", "bert_cls/2026-12-03_10-10-00", "--root", str(root)], capsys)
    assert code == 0
    assert "status      completed" in out
    assert "monitor     val/acc (max) = 0.8600" in out
    assert "command     dlkit train +experiment=bert_cls optimizer.lr=1e-4" in out
    assert "best_during_training  value 0.86, step 200, precision 32-true" in out
    assert "files       metrics.csv\n" in out
    monkeypatch.chdir(root.parent)  # a path as given works as well as one under the root
    code, out, _ = runs(["show", "runs/bert_cls/2026-12-03_10-20-00", "--json"], capsys)
    shown = json.loads(out)
    assert shown["run.json"]["error"].startswith("NonFiniteLoss") and shown["results.json"] == {}


def test_compare_shows_only_the_differing_keys(root: Path, capsys) -> None:
    pair = ["bert_cls/2026-12-03_10-00-00", "bert_cls/2026-12-03_10-10-00"]
    code, out, _ = runs(["compare", *pair, "--root", str(root), "--json"], capsys)
    assert code == 0
    compared = json.loads(out)
    assert compared["config"] == {"optimizer.lr": {pair[0]: 0.0005, pair[1]: 0.0001}}
    assert compared["metrics"]["val/acc"] == {pair[0]: 0.81, pair[1]: 0.86}
    ner = "bert_ner/2026-12-03_09-00-00"  # another family: its own keys and metrics
    code, out, _ = runs(["compare", pair[0], ner, "--root", str(root)], capsys)
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.splitlines()}
    assert rows["task.monitor"] == ["val/acc", "val/f1"]
    assert rows["test/f1"] == ["-", "0.72"] and rows["val/acc"] == ["0.81", "-"]
    assert "seed" not in rows and "callbacks.checkpoint.dirpath" not in rows


# -- plot -------------------------------------------------------------------------------------
def _assert_real_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 200
    assert float(np.var(pixels[..., :3])) > 1e-3  # drawn on, not a blank canvas
    assert (pixels[..., :3].mean(axis=2) < 0.9).mean() > 0.01  # lines and text, not specks
    colour = np.abs(pixels[..., 0] - pixels[..., 2])  # the curves; axes and text are grey
    assert (colour > 0.3).mean() > 0.001


def test_plot_overlays_runs_in_a_png(root: Path, capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "cmp.png"
    argv = ["plot", "bert_cls/2026-12-03_10-00-00", "bert_cls/multirun_2026-12-03_12-00-00/1"]
    code, out, err = runs([*argv, "--root", str(root), "--out", str(out_file)], capsys)
    assert code == 0, err
    assert out.strip() == str(out_file)
    _assert_real_png(out_file)
    code, out, _ = runs([*argv, "--root", str(root), "--metric", "train/lr"], capsys)
    default = Path(out.strip())
    assert default.parent == root / "plots" and default.name.startswith("train_lr_")
    _assert_real_png(default)


def test_finished_run_plots_are_real_pngs(root: Path) -> None:
    run = root / "bert_cls" / "2026-12-03_10-10-00"
    written = plots.write_run_plots(run)
    assert sorted(p.name for p in written) == ["lr.png", "train_loss.png", "validation.png"]
    assert all(p.parent == run / "plots" for p in written)
    for path in written:
        _assert_real_png(path)


def test_a_plot_that_fails_never_fails_the_run(tmp_path: Path, caplog, monkeypatch) -> None:
    def broken(run_dir: Path) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "write_run_plots", broken)
    with caplog.at_level(logging.WARNING, logger="dlkit"):
        assert plots.write_run_plots_safely(tmp_path) == []
    assert "plots/ not written" in caplog.text and "No space left" in caplog.text


# -- mistakes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["show", "bert_cls/nope"], "Run not found: bert_cls/nope"),
        (["compare", "bert_cls/2026-12-03_10-00-00", "nope"], "Run not found: nope"),
        (
            ["plot", "bert_cls/2026-12-03_10-00-00", "--metric", "val/bleu"],
            "--metric val/bleu: not in metrics.csv",
        ),
        (["list", "gpt"], "No runs of experiment 'gpt'"),
        (["list", "--status", "done"], "--status done: not a run status"),
        (["list", "--sort", "val/bleu"], "--sort val/bleu: no listed run has that metric"),
        (["list", "--root", "{root}/missing"], "No run root at"),
    ],
)
def test_mistakes_are_one_message_and_exit_code_2(root: Path, capsys, argv, says) -> None:
    argv = [a.format(root=root) for a in argv]
    code, out, err = runs([*argv, *([] if "--root" in argv else ["--root", str(root)])], capsys)
    assert code == 2
    assert says in " ".join(err.split())
    assert "Traceback" not in err and out == ""


def test_a_mistake_from_the_program_has_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DLKIT_RUN_ROOT": str(tmp_path / "nowhere")}
    out = subprocess.run(
        [sys.executable, "-m", "dlkit", "runs", "list"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 2
    assert "No run root at" in out.stderr and "DLKIT_RUN_ROOT" in out.stderr
    assert "Traceback" not in out.stderr
