"""Generation settings (task.generate): one place sets them on the model's generation
config, so validation, `dlkit evaluate`, `dlkit predict` and whoever loads model/ (its
generation_config.json) generate the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import GenerationConfig, PreTrainedModel

from dlkit.errors import ConfigError

# task.generate keys -> GenerationConfig fields (1 beam: greedy search)
SETTINGS = ("num_beams", "max_new_tokens", "length_penalty", "no_repeat_ngram_size")


def apply(model: PreTrainedModel, settings: Mapping[str, Any] | None) -> None:
    unknown = sorted(set(settings or {}) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"task.generate sets {', '.join(unknown)}; the generation settings are "
            f"{', '.join(SETTINGS)}."
        )
    if not hasattr(model, "generation_config"):
        return  # not a transformers model that generates: nothing to carry the settings
    config = model.generation_config or GenerationConfig.from_model_config(model.config)
    for key in ("decoder_start_token_id", "pad_token_id", "eos_token_id"):
        setattr(config, key, getattr(model.config, key))
    for key, value in (settings or {}).items():
        if value is not None:
            setattr(config, key, value)
    if config.num_beams == 1:  # beam-only settings would warn on every greedy call
        config.length_penalty = GenerationConfig().length_penalty
        config.early_stopping = GenerationConfig().early_stopping
    config.validate()
    model.generation_config = config
