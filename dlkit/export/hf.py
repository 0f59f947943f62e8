"""The Hugging Face model folder: weights, config (with label names) and tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase


def save_model_dir(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: Path) -> None:
    """Loadable by `AutoModelFor*.from_pretrained(path)` and `pipeline(model=path)`."""
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def label_names(path: Path) -> list[str]:
    """The label names saved in a model folder's config, in id order."""
    id2label = json.loads((path / "config.json").read_text()).get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]
