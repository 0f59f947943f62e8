"""Strategies that YAML cannot spell as Trainer arguments: FSDP's auto-wrap policy is a set
of module classes, named in the config by import path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.utils import get_class
from lightning.pytorch.strategies import FSDPStrategy

from dlkit.errors import ConfigError


def fsdp(layers: Sequence[str], **options: Any) -> FSDPStrategy:
    classes = set()
    for path in layers:
        try:
            classes.add(get_class(path))
        except Exception as err:  # ImportError, AttributeError, ValueError: the name is wrong
            raise ConfigError(
                f"hardware.strategy.layers: cannot import '{path}' ({err}). Name each "
                "transformer block class by its import path."
            ) from None
    return FSDPStrategy(auto_wrap_policy=classes, **options)
