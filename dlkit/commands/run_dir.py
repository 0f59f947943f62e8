"""The run folder of train, pretrain and finetune, settled before Hydra creates it: the folder
of the run that `resume=auto | <run folder>` continues, and one that can be written at all."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from dlkit.errors import ConfigError, RunFolderError

UNFINISHED = ("running", "preempted", "failed")
_NO_RUN_DIR = ("--cfg", "-c", "--info", "--help", "-h", "--hydra-help")
_OTHER_CONFIG = ("-cp", "-cn", "-cd", "--config-path", "--config-name", "--config-dir")


def prepare(argv: Sequence[str], cfg: DictConfig | None = None) -> list[str]:
    """argv with `hydra.run.dir` set to the run to continue (`resume=auto` with nothing to
    continue becomes a fresh run, so a requeued job can always pass it). `cfg` is argv's
    config with its `hydra` node, as the command-line check composed it (else composed here)."""
    argv = list(argv)
    if any(a.split("=", 1)[0] in (*_NO_RUN_DIR, *_OTHER_CONFIG) for a in argv):
        return argv  # prints and exits (no run folder), or a config dlkit does not know
    value = next((a.split("=", 1)[1] for a in argv if a.startswith("resume=")), None)
    folder: Path | None = None
    if value == "auto":
        cfg = cfg if cfg is not None else _compose(argv)
        folder = _newest_unfinished(Path(cfg.paths.run_root) / str(cfg.experiment_name))
        if folder is None:
            from dlkit import console

            console.console.print("resume=auto: no unfinished run with a checkpoint; starting one.")
            argv = [a for a in argv if not a.startswith("resume=")]
    elif value not in (None, "null", "None"):
        folder = Path(value).expanduser()
        if not (folder / "run.json").is_file():
            raise RunFolderError(
                f"resume={value}: not a dlkit run folder (no run.json). Pass resume=auto or an "
                "existing run folder."
            )
    if folder is not None:
        kept = [a for a in argv if not a.startswith(("resume=", "hydra.run.dir="))]
        # The run's .hydra/ keeps the command that started it.
        return [*kept, f"hydra.run.dir={folder}", "hydra.output_subdir=null", f"resume={folder}"]
    if "-m" not in argv and "--multirun" not in argv:  # sweeps compose per job: Hydra's
        _check_creatable(cfg if cfg is not None else _compose(argv))
    return argv


def _compose(argv: Sequence[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir

    from dlkit.commands.app import config_dir

    overrides = [a for a in argv if not a.startswith(("-", "resume="))]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _newest_unfinished(experiment: Path) -> Path | None:
    candidates = []
    for record in experiment.glob("*/run.json"):
        state = json.loads(record.read_text())
        has_checkpoint = (record.parent / "checkpoints" / "last.ckpt").is_file()
        if state.get("status") in UNFINISHED and has_checkpoint:
            candidates.append((state.get("started", ""), record.parent))
    return max(candidates)[1] if candidates else None


def _check_creatable(cfg: DictConfig) -> None:
    """Hydra would fail on the folder with a traceback; say which setting to change."""
    target = Path(str(cfg.hydra.run.dir)).expanduser()
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        what = "is not a folder" if not existing.is_dir() else "is not writable"
        raise ConfigError(
            f"Cannot create the run folder {target}: {existing} {what}. Point paths.run_root "
            "(or hydra.run.dir) at a writable folder."
        )
