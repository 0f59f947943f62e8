"""Two CPU processes with gloo against one process with the same global batch: the same
validation metrics and final weights, one run folder, and evaluate agrees across both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.conftest import tiny_overrides
from tests.test_cli import dlkit

pytestmark = pytest.mark.slow  # every test here starts 2-process DDP training runs

NO_DROPOUT = ["model.config.hidden_dropout_prob=0", "model.config.attention_probs_dropout_prob=0"]


def _train(data: dict, work: Path, *extra: str) -> Path:
    overrides = [o for o in tiny_overrides(data, work) if "max_epochs" not in o]
    result = dlkit("train", *overrides, *NO_DROPOUT, "trainer.max_epochs=2", *extra, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    folders = [p.parent for p in (work / "runs").rglob("run.json")]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    one = _train(tiny_data, tmp_path_factory.mktemp("one"), "data.batch_size=16")
    two = _train(tiny_data, tmp_path_factory.mktemp("two"), "hardware=ddp_cpu", "data.batch_size=8")
    return one, two


def test_ddp_matches_one_process_with_the_same_global_batch(runs) -> None:
    one, two = runs
    single, ddp = (json.loads((p / "results.json").read_text()) for p in (one, two))
    for key, value in single["validation"].items():
        assert ddp["validation"][key] == pytest.approx(value, abs=1e-5), key
    assert ddp["global_step"] == single["global_step"]
    a, b = (load_file(p / "model" / "model.safetensors") for p in (one, two))
    for name, tensor in a.items():
        assert (tensor - b[name]).abs().max() < 1e-4, name
    state = json.loads((two / "run.json").read_text())
    assert state["status"] == "completed"
    assert state["batch_size"] == {
        "per_device": 8,
        "devices": 2,
        "nodes": 1,
        "accumulation": 1,
        "effective": 16,
    }
    assert state["threads"]["why"].endswith("shared by 2 processes")


def test_one_folder_and_one_set_of_logs(runs) -> None:
    _, two = runs
    assert [p.name for p in two.glob("*.log")] == ["dlkit.log"]
    assert (two / ".hydra" / "config.yaml").is_file()


def test_evaluate_under_ddp_equals_one_process(runs, tmp_path) -> None:
    _, two = runs
    for hardware, name in (("cpu", "one"), ("ddp_cpu", "two")):
        result = dlkit("evaluate", f"run={two}", f"hardware={hardware}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        (two / "eval" / "validation.json").rename(two / "eval" / f"{name}.json")
    one_proc, two_procs = (
        json.loads((two / "eval" / f"{n}.json").read_text()) for n in ("one", "two")
    )
    for key in ("loss", "acc", "f1"):
        assert two_procs[key] == pytest.approx(one_proc[key], abs=1e-6), key
