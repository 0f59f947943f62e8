"""The registry of task families: `task.family` in a config names one of these.

A family is one package under dlkit/families/ (its data, LightningModule and metrics,
predictor, export outputs and checks); adding one is a package and a line here."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from dlkit.errors import ConfigError
from dlkit.families.family import Family

# family name -> "package:attribute" of its Family
FAMILIES = {
    "sequence_classification": "dlkit.families.classification:FAMILY",
    "masked_lm": "dlkit.families.language_modeling:MASKED_LM",
    "causal_lm": "dlkit.families.language_modeling:CAUSAL_LM",
    "token_classification": "dlkit.families.token_classification:FAMILY",
    "question_answering": "dlkit.families.question_answering:FAMILY",
    "seq2seq": "dlkit.families.seq2seq:FAMILY",
}


def get(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"task.family={name} is not a task family; known: {', '.join(FAMILIES)}.")
    package, attribute = FAMILIES[name].split(":")
    return getattr(importlib.import_module(package), attribute)


def of_task(task: Mapping[str, Any]) -> Family:
    """The family of a task config; run folders from before families were named say `head`."""
    return get(str(task.get("family") or task.get("head")))


def of_data(target: str) -> Family | None:
    """The family whose datamodule a data config's `_target_` names (None: no dlkit family);
    the families that share a datamodule share what it expects and writes."""
    for name in FAMILIES:
        family = get(name)
        if target in family.data_targets:
            return family
    return None
