"""`dlkit pretrain`: masked- or causal-LM pretraining (`+experiment=bert_mlm` or `gpt_clm`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from dlkit import families
from dlkit.commands import app, run_dir
from dlkit.errors import ConfigError


def pretrain(cfg: DictConfig) -> dict[str, Any]:
    check(cfg)
    from dlkit.commands.runner import fit

    return fit(cfg, "pretrain")


def check(cfg: DictConfig) -> None:
    if not families.of_task(cfg.task).pretrains:
        raise ConfigError(
            f"pretrain needs a language-modelling task, not task={cfg.task.name}: use "
            "+experiment=bert_mlm or +experiment=gpt_clm (or task=masked_lm / causal_lm with "
            "data=corpus). Labelled tasks run with `dlkit train` or `dlkit finetune`."
        )


def main(argv: Sequence[str]) -> int:
    return app.run(pretrain, argv, prepare=run_dir.preparer(check))
