"""`dlkit train`: run whatever the experiment declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from dlkit.commands import app, resume


def train(cfg: DictConfig) -> dict[str, Any]:
    from dlkit.commands.runner import fit

    return fit(cfg, "train")


def main(argv: Sequence[str]) -> int:
    return app.run(train, resume.prepare(argv))
