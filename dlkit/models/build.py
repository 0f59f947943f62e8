"""Build a transformers model with a family's Auto class: from a config (random init) or from
weights."""

from __future__ import annotations

import logging
from typing import Any

from transformers import AutoConfig, PreTrainedModel

from dlkit.errors import ConfigError

log = logging.getLogger(__name__)


def build_model(
    auto: Any,
    arch: str,
    architecture: dict[str, Any],
    init_from: str | None,
    vocab_size: int,
    special_ids: dict[str, int | None],
    trust_remote_code: bool = False,
    **head_kwargs: Any,
) -> PreTrainedModel:
    """`head_kwargs` (num_labels, id2label, ...) go into the model config; `special_ids`
    (pad/bos/eos token ids of the tokenizer) too, where the tokenizer has them."""
    if init_from:
        try:
            model, info = auto.from_pretrained(
                init_from,
                output_loading_info=True,
                ignore_mismatched_sizes=True,
                trust_remote_code=trust_remote_code,  # a hub repo's own code runs only if asked
                **head_kwargs,
            )
        except Exception as err:  # missing, truncated, pickled code refused, not a model
            raise ConfigError(
                f"Cannot load the model weights in '{init_from}' (model.init_from): "
                f"{' '.join(str(err).split())[:400]}. Give a "
                "local Hugging Face model folder, a dlkit run folder, or a hub name (needs "
                "internet)."
            ) from err
        new = sorted(set(info["missing_keys"]) | {k for k, *_ in info["mismatched_keys"]})
        loaded = [k for k in model.state_dict() if k not in new]
        unused = sorted(info["unexpected_keys"])
        log.info(
            "Loaded %d tensors from %s (%s); newly initialised: %s; not used: %s",
            len(loaded),
            init_from,
            ", ".join(sorted({k.split(".")[0] for k in loaded})),
            new or "none",
            unused or "none",
        )
        # Recorded in run.json by the runner: exactly what came from where.
        model.dlkit_init = {"from": init_from, "loaded": loaded, "new": new, "unused": unused}
        return model
    try:
        specials = {k: v for k, v in special_ids.items() if v is not None}
        config = AutoConfig.for_model(
            arch, vocab_size=vocab_size, **specials, **architecture, **head_kwargs
        )
    except ValueError as err:
        raise ConfigError(f"Unknown model.arch='{arch}': {err}") from err
    return auto.from_config(config)
