"""`dlkit train`: run whatever the experiment declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from dlkit.commands import app, run_dir


def train(cfg: DictConfig) -> dict[str, Any]:
    from dlkit.commands.runner import fit

    return fit(cfg, "train")


def main(argv: Sequence[str]) -> int:
    return app.run(train, argv, prepare=run_dir.prepare)
