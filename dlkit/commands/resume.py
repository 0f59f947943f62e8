"""`resume=auto | <run folder>`: choose the run folder before Hydra makes a new one, so a
resumed run continues in its own folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from dlkit.errors import RunFolderError

UNFINISHED = ("running", "preempted", "failed")


def prepare(argv: Sequence[str]) -> list[str]:
    """argv with `hydra.run.dir` pointing at the run to continue; `resume=auto` with nothing
    to continue becomes a fresh run (so a requeued job script can always pass it)."""
    value = next((a.split("=", 1)[1] for a in argv if a.startswith("resume=")), None)
    if value in (None, "null", "None"):
        return list(argv)
    if value == "auto":
        folder = _newest_unfinished(_experiment_dir(argv))
        if folder is None:
            from dlkit import console

            console.console.print("resume=auto: no unfinished run with a checkpoint; starting one.")
            return [a for a in argv if not a.startswith("resume=")]
    else:
        folder = Path(value).expanduser()
        if not (folder / "run.json").is_file():
            raise RunFolderError(
                f"resume={value}: not a dlkit run folder (no run.json). Pass resume=auto or an "
                "existing run folder."
            )
    kept = [a for a in argv if not a.startswith(("resume=", "hydra.run.dir="))]
    return [*kept, f"hydra.run.dir={folder}", f"resume={folder}"]


def _experiment_dir(argv: Sequence[str]) -> Path:
    """runs/<experiment_name>/ as this command line composes it."""
    from hydra import compose, initialize_config_dir

    from dlkit.commands.app import config_dir

    overrides = [a for a in argv if not a.startswith(("-", "resume=", "hydra."))]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return Path(cfg.paths.run_root) / str(cfg.experiment_name)


def _newest_unfinished(experiment: Path) -> Path | None:
    candidates = []
    for record in experiment.glob("*/run.json"):
        state = json.loads(record.read_text())
        if (
            state.get("status") in UNFINISHED
            and (record.parent / "checkpoints/last.ckpt").is_file()
        ):
            candidates.append((state.get("started", ""), record.parent))
    return max(candidates)[1] if candidates else None
