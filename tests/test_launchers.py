"""The cluster launchers: the sbatch script parses and shows its srun line; the torchrun
script trains with 2 CPU processes into one run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent
SBATCH = ROOT / "scripts" / "slurm" / "train.sbatch"
TORCHRUN = ROOT / "scripts" / "torchrun_train.sh"


def test_sbatch_script_parses_and_dry_runs() -> None:
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    out = subprocess.run(
        ["bash", str(SBATCH), "+experiment=bert_cls", "hardware=multi_node"],
        env={**os.environ, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:2] == ["srun", "--kill-on-bad-exit=1"]
    assert out[2:] == [
        "dlkit",
        "train",
        "resume=auto",
        "+experiment=bert_cls",
        "hardware=multi_node",
    ]


@pytest.mark.slow  # torchrun starts two training processes
def test_torchrun_script_trains_with_two_cpu_processes(tiny_data, tmp_path) -> None:
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if "max_epochs" not in o]
    env = {
        **os.environ,
        "NPROC": "2",
        "TORCHRUN": str(Path(sys.executable).parent / "torchrun"),
        "DLKIT_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        ["bash", str(TORCHRUN), "hardware=ddp_cpu", "trainer.max_epochs=1", *overrides],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = [p.parent for p in (tmp_path / "runs").rglob("run.json")]
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed" and state["batch_size"]["devices"] == 2
    assert [p.name for p in run.glob("*.log")] == ["dlkit.log"]
    assert (run / "model" / "model.safetensors").is_file()
