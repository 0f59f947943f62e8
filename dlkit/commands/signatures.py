"""Every `_target_` of the composed config, and the `trainer.*` and `hardware.*` settings
that go to `lightning.Trainer`, checked against the signature of what they call, before a
run folder exists or data is read: an argument the callable does not take is named with the
arguments it does take."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlkit.errors import ConfigError

_HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def check(cfg: DictConfig) -> None:
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    for where, node in _targets(plain, ""):
        _check_arguments(f"{where}._target_={node['_target_']}", _load(where, node), node, where)
    from lightning import Trainer

    options = {**plain.get("trainer", {}), **plain.get("hardware", {})}
    options.pop("threads", None)  # dlkit's own (training/threads.py)
    _check_arguments("lightning.Trainer", Trainer, options, "trainer")


def _targets(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node
        for key, value in node.items():
            yield from _targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")


def _load(where: str, node: dict) -> Callable:
    module, _, name = str(node["_target_"]).rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(
            f"{where}._target_={node['_target_']} cannot be imported ({err}). Name an "
            "importable class or function, e.g. torch.optim.AdamW."
        ) from None


def _check_arguments(what: str, fn: Callable, node: dict, where: str) -> None:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return  # a builtin without a signature: only calling it can tell
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    names = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in node:
        if key in _HYDRA_KEYS or key in names:
            continue
        near = difflib.get_close_matches(str(key), names, n=2)
        hint = f"Did you mean {' or '.join(near)}?" if near else f"It takes {', '.join(names)}."
        raise ConfigError(
            f"{where}.{key}: {what} takes no argument '{key}'. {hint} Remove the key (~{where}."
            f"{key}) or fix its name."
        )
