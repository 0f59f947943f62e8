"""Build a transformers model with a family's Auto class: from a config (random init) or from
weights."""

from __future__ import annotations

import logging
from typing import Any

from transformers import AutoConfig, PreTrainedModel
from transformers.utils import logging as hf_logging

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
    init_config: dict[str, Any] | None = None,
    **head_kwargs: Any,
) -> PreTrainedModel:
    """`head_kwargs` (num_labels, id2label, ...) go into the model config; `special_ids`
    (pad/bos/eos token ids of the tokenizer) too, where the tokenizer has them. `init_config`
    is set last, on a loaded model's config too: a pretrained model's architecture is its own,
    but its dropout is a fine-tuning choice."""
    init_config = init_config or {}
    if init_from:
        try:
            config, unknown = AutoConfig.from_pretrained(
                init_from,
                return_unused_kwargs=True,
                trust_remote_code=trust_remote_code,
                **head_kwargs,
                **init_config,
            )
        except Exception as err:  # missing, not a model folder, hub unreachable
            raise ConfigError(
                f"Cannot read the model config in '{init_from}' (model.init_from): "
                f"{' '.join(str(err).split())[:400]}. Give a local Hugging Face model folder, "
                "a dlkit run folder, or a hub name (needs internet)."
            ) from err
        if unknown:
            raise ConfigError(
                f"model.init_config sets {', '.join(sorted(unknown))}, which the "
                f"{config.model_type} config loaded from '{init_from}' does not have: use its "
                "own names (see its config.json), e.g. hidden_dropout_prob for BERT."
            )
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # its load report table: the one line below says it
        try:
            model, info = auto.from_pretrained(
                init_from,
                config=config,
                output_loading_info=True,
                ignore_mismatched_sizes=True,
                trust_remote_code=trust_remote_code,  # a hub repo's own code runs only if asked
            )
        except Exception as err:  # missing, truncated, pickled code refused, not a model
            raise ConfigError(
                f"Cannot load the model weights in '{init_from}' (model.init_from): "
                f"{' '.join(str(err).split())[:400]}. Give a "
                "local Hugging Face model folder, a dlkit run folder, or a hub name (needs "
                "internet)."
            ) from err
        finally:
            hf_logging.set_verbosity(verbosity)
        new = sorted(set(info["missing_keys"]) | {k for k, *_ in info["mismatched_keys"]})
        loaded = [k for k in model.state_dict() if k not in new]
        unused = sorted(info["unexpected_keys"])
        log.info(
            "Loaded %d tensors from %s; newly initialised: %s; not used: %s (all listed in "
            "run.json)",
            len(loaded),
            init_from,
            _brief(new),
            _brief(unused),
        )
        # Recorded in run.json by the runner: exactly what came from where.
        model.dlkit_init = {"from": init_from, "loaded": loaded, "new": new, "unused": unused}
        return model
    try:
        specials = {k: v for k, v in special_ids.items() if v is not None}
        settings = {**architecture, **init_config}
        config = AutoConfig.for_model(
            arch, vocab_size=vocab_size, **specials, **settings, **head_kwargs
        )
    except ValueError as err:
        raise ConfigError(f"Unknown model.arch='{arch}': {err}") from err
    return auto.from_config(config)


def _brief(names: list[str]) -> str:
    """`2 (classifier)` for classifier.weight and classifier.bias."""
    if not names:
        return "none"
    modules = sorted({n.split(".")[0] for n in names})
    return f"{len(names)} ({', '.join(modules)})"
