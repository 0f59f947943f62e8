"""A run folder is data. Before evaluate, export or predict builds anything from a run's
config.yaml, every `_target_` in it must be a class that dlkit's own config groups name (or a
torch optimizer), checked before anything is imported; code that ships with a folder (a
`_target_` of its own, `auto_map` modules, a TorchScript program) runs only when this command's
line says `trust_remote_code=true`, never because the folder says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from dlkit.errors import RunFolderError

TRUST_KEY = "trust_remote_code"
# Classes a run may name without a config group naming them: `optimizer._target_=` overrides.
_OPTIMIZERS = "Adadelta Adafactor Adagrad Adam AdamW Adamax ASGD LBFGS NAdam RAdam RMSprop"
OPTIMIZERS = frozenset(f"torch.optim.{name}" for name in [*_OPTIMIZERS.split(" "), "Rprop", "SGD"])


def known_targets(config_root: Path) -> frozenset[str]:
    """Every `_target_` written in dlkit's config groups, read as plain YAML."""
    found: set[str] = set(OPTIMIZERS)
    for file in sorted(config_root.rglob("*.yaml")):
        found.update(target for _, target in _targets(yaml.safe_load(file.read_text()), ""))
    return frozenset(found)


def _targets(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(key path, value) of every `_target_`, in mappings and lists at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield path, value
            else:
                yield from _targets(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")


def read_saved_config(run_path: Path, allowed: frozenset[str], trusted: bool) -> DictConfig:
    """A run's config.yaml as values: refused if it names a class outside `allowed` (unless
    `trusted`); every `trust_remote_code` in it is reset to `trusted`."""
    file = run_path / "config.yaml"
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RunFolderError(
            f"{file} is not valid YAML ({' '.join(str(err).split())}). The run folder is "
            "damaged; copy config.yaml again from where the run was made."
        ) from None
    if not isinstance(raw, dict):
        raise RunFolderError(f"{file} holds no settings (a mapping is expected); it is damaged.")
    if not trusted:
        for where, target in _targets(raw, ""):
            if target not in allowed:
                raise RunFolderError(
                    f"{file} names {where}={target}, which is not a class dlkit's config groups "
                    "build. A run folder is data: dlkit builds only its own classes from it, so "
                    "a shared folder cannot run code. If you wrote this run yourself with your "
                    "own config group, add trust_remote_code=true to this command."
                )
    _reset_trust(raw, trusted)
    return OmegaConf.create(raw)


def _reset_trust(node: Any, trusted: bool) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == TRUST_KEY:
                node[key] = trusted
            else:
                _reset_trust(value, trusted)
    elif isinstance(node, list):
        for value in node:
            _reset_trust(value, trusted)


def check_model_code(folder: Path, trusted: bool) -> None:
    """A model folder whose config names Python modules of its own (`auto_map`) is code:
    refused unless trusted, before transformers is asked to load it."""
    if trusted:
        return
    for name in ("config.json", "tokenizer_config.json"):
        file = folder / name
        try:
            text = file.read_text(encoding="utf-8") if file.is_file() else ""
        except (OSError, UnicodeDecodeError):
            continue  # unreadable: loading it reports the damage
        if '"auto_map"' in text:
            raise RunFolderError(
                f"{file} has an auto_map: the model ships Python modules of its own, which "
                "loading would run. dlkit does not run code from a folder unless this command "
                "says trust_remote_code=true; add it only if you trust whoever made the folder."
            )
