"""The run folder of train, pretrain and finetune, settled before Hydra creates it: the folder
of the run that `resume=auto | <run folder>` continues (never a completed one), or a new one
claimed for this run alone, once the settings passed every check that needs no data."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig

from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.folder import read_json

UNFINISHED = ("running", "preempted", "failed")
_NO_RUN_DIR = ("--cfg", "-c", "--info", "--help", "-h", "--hydra-help")
_OTHER_CONFIG = ("-cp", "-cn", "-cd", "--config-path", "--config-name", "--config-dir")


def preparer(check: Callable[[DictConfig], None]) -> Callable[..., list[str]]:
    """`prepare` for a command that refuses some configs outright: `check` runs on the
    composed config before a run folder is claimed."""

    def prepare_checked(argv: Sequence[str], cfg: DictConfig | None = None) -> list[str]:
        return prepare(argv, cfg, check)

    return prepare_checked


def prepare(
    argv: Sequence[str],
    cfg: DictConfig | None = None,
    check: Callable[[DictConfig], None] | None = None,
) -> list[str]:
    """argv with `hydra.run.dir` set to the run to continue (`resume=auto` with nothing to
    continue becomes a fresh run, so a requeued job can always pass it). `cfg` is argv's
    config with its `hydra` node, as the command-line check composed it (else composed here);
    `check` is the command's own refusal of a config, run before a folder is claimed."""
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
        status = read_json(folder / "run.json", "the run folder is damaged.").get("status")
        if status == "completed":
            raise RunFolderError(
                f"resume={value}: that run completed; a finished run is not resumed and its "
                "folder is left as it is. To train further, start a new run from its model: "
                f"dlkit finetune <same settings> model.init_from={folder}."
            )
    if folder is not None:
        kept = [a for a in argv if not a.startswith(("resume=", "hydra.run.dir="))]
        # The run's .hydra/ keeps the command that started it.
        return [*kept, f"hydra.run.dir={folder}", "hydra.output_subdir=null", f"resume={folder}"]
    cfg = cfg if cfg is not None else _compose(argv)
    _check_name(cfg)
    if check is not None:
        check(cfg)
    from dlkit.commands import data_check, signatures

    data_check.check(cfg)  # before signatures, which import lightning: offline in 2 s, not 7
    signatures.check(cfg)
    if "-m" in argv or "--multirun" in argv:  # sweeps compose per job: Hydra's folders
        return argv
    _check_creatable(cfg)
    if _rank() > 0:
        return argv  # rank zero claimed the folder; its launcher passed it on
    folder = claim(Path(str(cfg.hydra.run.dir)).expanduser())
    return [*[a for a in argv if not a.startswith("hydra.run.dir=")], f"hydra.run.dir={folder}"]


def _check_name(cfg: DictConfig) -> None:
    """experiment_name is one folder name under paths.run_root: no path of its own."""
    name = str(cfg.experiment_name)
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise ConfigError(
            f"experiment_name={name!r} must be a single folder name (no '/', '\\', '.' or "
            "'..'): runs live in paths.run_root/<experiment_name>/. Use e.g. "
            "experiment_name=bert_cls_lr3e-4."
        )
    if len(name.encode()) > 200:
        raise ConfigError(
            f"experiment_name is {len(name.encode())} bytes long; file systems allow 255 per "
            "folder name and dlkit adds to it. Use a name of at most 200 bytes."
        )


def claim(folder: Path) -> Path:
    """A run folder no other run has: its run.json is created exclusively, with a suffix on
    the folder (_1, _2, ...) when another run has it, as when two runs of one experiment start
    in the same second. A launcher that starts every process itself (torchrun, srun) names one
    folder for all of them with DLKIT_RUN_STAMP; a run already there is refused, not joined."""
    shared = bool(os.environ.get("DLKIT_RUN_STAMP"))
    for n in range(1000):
        candidate = folder if n == 0 else folder.with_name(f"{folder.name}_{n}")
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            with open(candidate / "run.json", "x", encoding="utf-8") as handle:
                created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                json.dump({"status": "created", "created": created}, handle)
            return candidate
        except FileExistsError:
            if shared:
                raise ConfigError(
                    f"DLKIT_RUN_STAMP names the run folder {candidate}, which already holds a "
                    "run. Give each launch its own stamp (the launch scripts add the job id)."
                ) from None
        except OSError as err:  # a name too long, a read-only or full disk
            raise ConfigError(
                f"Cannot create the run folder {candidate}: {err.strerror}. Point "
                "paths.run_root (or hydra.run.dir) at a writable folder with a shorter path."
            ) from None
    raise ConfigError(f"No free run folder name beside {folder}; clean up {folder.parent}.")


def _rank() -> int:
    from dlkit.commands.app import _rank as rank

    return rank()


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
