"""Nothing is lost: run folders claimed atomically, refusals that change nothing, a
metrics.csv in every run, a full disk that ends cleanly, and records of what actually ran."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlkit.commands.run_dir import claim
from dlkit.errors import ConfigError
from tests.conftest import compose_root, tiny_overrides

ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _dlkit(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlkit", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DLKIT_CACHE_DIR": str(cwd / "cache")},
    )


# -- one folder per run ---------------------------------------------------------------------
def _claim_in_process(folder: str) -> str:
    return str(claim(Path(folder)))


def test_runs_started_together_get_their_own_folders(tmp_path: Path) -> None:
    folder = tmp_path / "exp" / "2026-12-03_10-00-00"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        claimed = pool.map(_claim_in_process, [str(folder)] * 8)
    assert len(set(claimed)) == 8
    assert str(folder) in claimed and str(folder) + "_7" in claimed
    assert all(
        json.loads((Path(c) / "run.json").read_text())["status"] == "created" for c in claimed
    )


def test_a_launcher_stamp_that_names_a_taken_folder_is_refused(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "exp" / "stamp"
    claim(folder)
    monkeypatch.setenv("DLKIT_RUN_STAMP", "stamp")
    with pytest.raises(ConfigError, match="already holds a run"):
        claim(folder)


def test_a_folder_name_the_file_system_refuses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot create the run folder"):
        claim(tmp_path / ("x" * 300))


@pytest.mark.slow  # two training processes
def test_two_trainings_in_the_same_second(tiny_data, tmp_path: Path) -> None:
    """Both exit 0, each with its own complete run folder."""
    argv = [
        "train",
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.max_steps=2",
        "experiment_name=same",
        "hydra.run.dir=${paths.run_root}/same/fixed",  # as if both started in one second
    ]
    runs = [_dlkit(argv, tmp_path) for _ in range(2)]
    for process in runs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    folders = sorted((tmp_path / "runs" / "same").iterdir())
    assert [f.name for f in folders] == ["fixed", "fixed_1"]
    for folder in folders:
        assert json.loads((folder / "run.json").read_text())["status"] == "completed"
        assert (folder / "model" / "config.json").is_file()


# -- refusals change nothing ----------------------------------------------------------------
def test_a_refused_resume_changes_nothing(trained, tiny_data, tmp_path: Path) -> None:
    """A checkpoint of another model size: exit 2, and run.json, metrics and checkpoints are
    byte for byte as before (dlkit.log gains the attempt's lines)."""
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "failed"}))
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state["state_dict"] = {k: torch.zeros(3) for k in state["state_dict"]}
    torch.save(state, run / "checkpoints" / "last.ckpt")
    before = _digest(run)
    process = _dlkit(["train", *tiny_overrides(tiny_data, tmp_path), f"resume={run}"], tmp_path)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2, err[-2000:]
    assert "does not fit the configured model" in err
    after = _digest(run)
    assert {name: after.get(name) for name in before} == before
    assert set(after) - set(before) <= {"dlkit.log"}  # the attempt is logged, nothing else


def test_a_moved_run_folder_resumes_without_blaming_overrides(trained, tiny_data, tmp_path):
    from dlkit.runs import checkpoint
    from dlkit.runs.folder import RunFolder

    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(trained[0], moved)
    cfg = compose_root([*tiny_overrides(tiny_data, tmp_path), f"paths.output_dir={moved}"])
    last, state = checkpoint.resumable(RunFolder(moved), cfg)
    assert last == moved / "checkpoints" / "last.ckpt" and "state_dict" in state


# -- what a run records ---------------------------------------------------------------------
def test_a_short_run_has_metrics_and_records_the_precision_that_ran(tiny_data, tmp_path):
    from omegaconf import OmegaConf

    from dlkit.commands.train import train
    from dlkit.training.precision import cpu_precision
    from dlkit.training.threads import usable_cpus

    run = tmp_path / "short"
    overrides = [
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.max_steps=3",
        "trainer.log_every_n_steps=50",
        "trainer.precision=16-mixed",
        f"paths.output_dir={run}",
    ]
    results = train(compose_root(overrides))
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    assert "final_validation/acc" in header.split(",") and rows
    ran = cpu_precision("16-mixed")  # bf16-mixed, or 32-true on a CPU without bf16 kernels
    assert OmegaConf.load(run / "config.yaml").trainer.precision == ran
    state = json.loads((run / "run.json").read_text())
    adjusted = state["adjusted"]
    assert adjusted["trainer.precision"] == {"asked": "16-mixed", "ran": ran, "why": "this machine"}
    assert state["threads"]["setting"] == "auto"
    assert state["threads"]["usable"] == usable_cpus()[0] >= state["threads"]["threads"] >= 1
    assert results["global_step"] == 3


def test_a_loaded_model_records_its_own_architecture(trained, tiny_data, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from dlkit.commands.finetune import finetune

    run = tmp_path / "tuned"
    overrides = [
        *tiny_overrides(tiny_data, tmp_path),
        f"model.init_from={trained[0]}",
        "model.config.hidden_size=64",
        "trainer.max_steps=2",
        f"paths.output_dir={run}",
    ]
    finetune(compose_root(overrides))
    assert OmegaConf.load(run / "config.yaml").model.config.hidden_size == 32
    change = json.loads((run / "run.json").read_text())["adjusted"]["model.config.hidden_size"]
    assert change == {"asked": 64, "ran": 32, "why": "loaded from model.init_from"}


# -- a full disk ----------------------------------------------------------------------------
def test_a_full_disk_at_the_end_fails_cleanly(tiny_data, tmp_path: Path, monkeypatch) -> None:
    from dlkit.commands import runner
    from dlkit.commands.train import train
    from dlkit.runs.disk import DiskFull

    def full(model, tokenizer, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.safetensors.tmp").write_bytes(b"")  # what a failed write leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "save_model_dir", full)
    run = tmp_path / "full"
    overrides = [*tiny_overrides(tiny_data, tmp_path), "trainer.max_steps=4"]
    with pytest.raises(DiskFull, match="is full") as caught:
        train(compose_root([*overrides, f"paths.output_dir={run}"]))
    assert caught.value.exit_code == 1 and "MiB free" in str(caught.value)
    assert json.loads((run / "run.json").read_text())["status"] == "failed"
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 4


# -- exports --------------------------------------------------------------------------------
@pytest.mark.slow  # two export processes
def test_two_exports_of_one_run_at_once(trained, tmp_path: Path) -> None:
    import onnx

    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    exports = [_dlkit(["export", f"run={run}", "format=onnx"], tmp_path) for _ in range(2)]
    for process in exports:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    folder = run / "exports" / "onnx"
    parity = json.loads((folder / "parity.json").read_text())
    assert parity["passed"]
    written = onnx.load(str(folder / "model.onnx")).opset_import
    assert parity["opset"] == next(o.version for o in written if o.domain in ("", "ai.onnx"))
    assert sorted(p.name for p in (run / "exports").iterdir()) == ["onnx"]


def test_resume_compares_with_what_ran(trained, tiny_data, tmp_path: Path) -> None:
    """config.yaml records the precision the CPU ran; the same command resumes it."""
    import yaml

    from dlkit.runs import checkpoint
    from dlkit.runs.folder import RunFolder
    from dlkit.training.precision import cpu_precision

    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["trainer"]["precision"] = cpu_precision("16-mixed")
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    overrides = [*tiny_overrides(tiny_data, tmp_path), f"paths.output_dir={run}"]
    checkpoint.resumable(RunFolder(run), compose_root([*overrides, "trainer.precision=16-mixed"]))
    with pytest.raises(ConfigError, match="trainer.precision"):
        checkpoint.resumable(
            RunFolder(run), compose_root([*overrides, "trainer.precision=64-true"])
        )
