"""`dlkit pretrain`: masked- and causal-LM pretraining (its own issue; not landed yet)."""

from __future__ import annotations

from collections.abc import Sequence

from dlkit.commands.app import not_available


def main(argv: Sequence[str]) -> int:
    return not_available(
        "dlkit pretrain is not available yet: masked- and causal-LM pretraining has not "
        "landed. Train a classifier from scratch with `dlkit train +experiment=bert_cls`."
    )
