"""Build a transformers model for a task head: from a config (random init) or from weights."""

from __future__ import annotations

import logging
from typing import Any

from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    PreTrainedModel,
)

from dlkit.errors import ConfigError
from dlkit.models import baselines  # noqa: F401  (registers bilstm/cnn with the Auto classes)

log = logging.getLogger(__name__)

# Each task family names its head; new families add a line here.
HEADS = {"sequence_classification": AutoModelForSequenceClassification}


def build_model(
    arch: str,
    head: str,
    architecture: dict[str, Any],
    init_from: str | None,
    vocab_size: int,
    pad_token_id: int | None,
    **head_kwargs: Any,
) -> PreTrainedModel:
    """`head_kwargs` (num_labels, id2label, ...) go into the model config."""
    auto = HEADS[head]
    if init_from:
        try:
            model, info = auto.from_pretrained(
                init_from, output_loading_info=True, ignore_mismatched_sizes=True, **head_kwargs
            )
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"Cannot load model weights from model.init_from='{init_from}': {err}. Give a "
                "local Hugging Face model folder, a dlkit run folder, or a hub name (needs "
                "internet)."
            ) from err
        new = sorted(set(info["missing_keys"]) | {k for k, *_ in info["mismatched_keys"]})
        log.info("Loaded weights from %s; newly initialised: %s", init_from, new or "none")
        model.dlkit_new_weights = new
        return model
    try:
        config = AutoConfig.for_model(
            arch, vocab_size=vocab_size, pad_token_id=pad_token_id, **architecture, **head_kwargs
        )
    except ValueError as err:
        raise ConfigError(f"Unknown model.arch='{arch}': {err}") from err
    return auto.from_config(config)
