"""`dlkit finetune`: train starting from pretrained weights, which it insists on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from dlkit.commands import app, run_dir
from dlkit.errors import ConfigError


def finetune(cfg: DictConfig) -> dict[str, Any]:
    check(cfg)
    from dlkit.commands.runner import fit

    return fit(cfg, "finetune")


def check(cfg: DictConfig) -> None:
    if not cfg.model.get("init_from"):
        raise ConfigError(
            "finetune needs model.init_from: a hub model name (model.init_from=bert-base-uncased), "
            "a local Hugging Face model folder, or a dlkit run folder. To train from random "
            "initialisation use `dlkit train` instead."
        )


def main(argv: Sequence[str]) -> int:
    return app.run(finetune, argv, prepare=run_dir.preparer(check))
