"""Checkpoints checked before Lightning touches them: readable without executing pickled
code (weights_only), from the same model and task, and from a run with the same config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.folder import RunFolder, flatten
from dlkit.runs.trust import read_saved_config

# How a run is observed may change on resume; what it computes may not.
_MAY_DIFFER = (
    "resume",
    "callbacks",
    "logger",
    "paths",
    "trust_remote_code",
    "keep_best_ckpt",
    "compile",  # how fast, not what: the weights and the order are the same
    "hardware.threads",
)


def load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunFolderError(f"Checkpoint not found: {path}.") from None
    except Exception as err:  # truncated zip, unpickling refused, not a checkpoint at all
        raise RunFolderError(
            f"Cannot read the checkpoint {path}: {str(err).splitlines()[0]}. It is corrupt, "
            "truncated, or not a dlkit/Lightning checkpoint (only plain tensors and values are "
            "loaded, never pickled code). Resume from another checkpoint or start a new run."
        ) from None
    if not isinstance(state, dict) or "state_dict" not in state:
        raise RunFolderError(f"{path} holds no model weights ('state_dict'); not a checkpoint.")
    return state


def step(path: Path) -> int:
    return int(load(path).get("global_step", 0))


def check_matches(saved: dict[str, torch.Tensor], module: torch.nn.Module, path: Path) -> None:
    """The checkpoint's weights (`saved`, read from `path`) have the tensor names and shapes of
    the model built from the config, or a message says what differs (another model size,
    another task head)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    reshaped = [
        f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in saved and tuple(saved[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or reshaped:
        parts = [
            f"{len(items)} {what} (e.g. {', '.join(items[:3])})"
            for what, items in (
                ("tensors the model needs are missing", missing),
                ("tensors belong to another model or task head", unexpected),
                ("tensors have other shapes (checkpoint vs config)", reshaped),
            )
            if items
        ]
        raise RunFolderError(
            f"The checkpoint {path} does not fit the configured model: {'; '.join(parts)}. "
            "It was written by another model or task; use the run's own config or another run."
        )


def resumable(run: RunFolder, cfg: DictConfig) -> tuple[Path, dict[str, Any]]:
    """checkpoints/last.ckpt of a run whose saved config matches this one, and its content
    (read once: the step for run.json, the weights for `check_matches`)."""
    if not run.config_file.is_file():
        raise RunFolderError(
            f"resume: {run.path} is not a dlkit run folder (no config.yaml). Pass "
            "resume=<run folder> or resume=auto."
        )
    last = run.last_checkpoint
    if not last.is_file():
        raise RunFolderError(
            f"Nothing to resume in {run.path}: no checkpoints/last.ckpt (the run stopped before "
            "its first checkpoint). Start it again without resume=."
        )
    stored = read_saved_config(run.path, frozenset(), trusted=True)  # compared, never built
    saved = flatten(OmegaConf.to_container(stored, resolve=True))
    now = _as_recorded(saved, flatten(OmegaConf.to_container(cfg, resolve=True)))
    differ = [  # settings added by a later dlkit (absent from the saved config) are not compared
        f"{key} ({saved.get(key)!r} -> {now.get(key)!r})"
        for key in sorted(saved)
        if not key.startswith(_MAY_DIFFER) and saved[key] != now.get(key)
    ]
    if differ:
        raise ConfigError(
            f"resume continues {run.path} with its own config, but these settings differ: "
            f"{'; '.join(differ[:5])}{' ...' if len(differ) > 5 else ''}. Drop the overrides "
            "that change them (one you did not give means a config file or an environment "
            "variable changed since the run started), or start a new run."
        )
    return last, load(last)


def _as_recorded(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """This command's settings as the run records them: config.yaml holds what ran (the
    precision this CPU runs; a loaded model's own architecture), not what was asked."""
    from dlkit.training.precision import cpu_precision

    now = dict(now)
    if now.get("hardware.accelerator") == "cpu" and "trainer.precision" in now:
        now["trainer.precision"] = cpu_precision(str(now["trainer.precision"]), warn=False)
    if saved.get("model.init_from"):
        now |= {k: v for k, v in saved.items() if k.startswith("model.config.")}
    return now
