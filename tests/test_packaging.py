"""A regular (non-editable) install carries the configs and finds them from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # builds and installs a wheel
def test_installed_wheel_ships_and_finds_every_config(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "-q"]
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("dlkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"dlkit/configs/{p.relative_to(ROOT / 'configs').as_posix()}"
        for p in (ROOT / "configs").rglob("*.yaml")
    }
    assert expected and expected <= names

    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}  # the installed copy shadows the checkout
    out = subprocess.run(
        [sys.executable, "-m", "dlkit", "train", "+experiment=bert_cls", "--cfg", "job"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "experiment_name: bert_cls" in out.stdout
    where = subprocess.run(
        [sys.executable, "-c", "from dlkit.commands.app import config_dir; print(config_dir())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == site / "dlkit" / "configs"
