"""The garbage collector is paused while a command starts, and back on, with what start-up built
frozen, once the work starts; a config error or a finished command leaves it on."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest

from dlkit.commands import collector
from tests.conftest import compose_root, tiny_overrides


class GcProbe(L.Callback):
    """Writes the collector's state as training starts (Hydra imports this module anew)."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out.write_text(f"{gc.isenabled()} {gc.get_freeze_count()}")


@pytest.fixture(autouse=True)
def collector_on():
    yield
    gc.enable()
    gc.unfreeze()


def app_run(fn: str, argv: list[str], tmp_path: Path) -> str:
    script = (
        "import gc\nfrom dlkit.commands import app\nseen = []\n"
        f"code = app.run({fn}, {argv!r} + app.in_place(quiet=True))\n"
        "print(code, seen, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_command_runs_with_the_collector_paused_and_ends_with_it_on(tmp_path: Path) -> None:
    seen_in_command = "lambda cfg: seen.append(gc.isenabled())"
    assert app_run(seen_in_command, ["seed=1"], tmp_path) == "0 [False] True True"


def test_a_config_error_leaves_the_collector_on(tmp_path: Path) -> None:
    never = "lambda cfg: seen.append('ran')"
    assert app_run(never, ["trainer.max_epochs=abc"], tmp_path).startswith("2 [] True")


def test_training_runs_with_the_collector_on_and_start_up_frozen(tiny_data, tmp_path) -> None:
    from dlkit.commands.runner import fit

    overrides = [
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.max_steps=2",
        f"paths.output_dir={tmp_path / 'run'}",
        "+callbacks.gc_probe._target_=tests.test_collector.GcProbe",
        f"+callbacks.gc_probe.out={tmp_path / 'probe'}",
    ]
    cfg = compose_root(overrides)
    collector.pause()
    fit(cfg, "train")
    enabled, frozen = (tmp_path / "probe").read_text().split()
    assert enabled == "True" and int(frozen) > 1000  # start-up's objects are out of its way
