"""Two CPU processes with gloo: the run completes and writes exactly one run folder."""

from __future__ import annotations

import json

from tests.conftest import tiny_overrides
from tests.test_cli import dlkit


def test_ddp_cpu_writes_one_run_folder(tiny_data, tmp_path) -> None:
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if "max_epochs" not in o]
    result = dlkit("train", *overrides, "hardware=ddp_cpu", "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folders = [p.parent for p in (tmp_path / "runs").rglob("run.json")]
    assert len(folders) == 1, folders
    assert [p.name for p in (tmp_path / "runs" / "default").iterdir()] == [folders[0].name]
    run = json.loads((folders[0] / "run.json").read_text())
    assert run["status"] == "completed"
    results = json.loads((folders[0] / "results.json").read_text())
    assert 0.0 <= results["validation"]["acc"] <= 1.0
    assert (folders[0] / "model" / "model.safetensors").is_file()
