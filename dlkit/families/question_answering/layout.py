"""Which files a question answering data config reads, and which one is split by article.

SQuAD's test set is hidden, so a config may hold one SQuAD file split by article instead of a
training and a validation file (`validation_articles`: the file's last articles validate):

- `files.validation` unset: the training file (or the hub's training split) is split.
- the training file absent but the validation file here (the shared data root holds only
  SQuAD's dev file): the validation file is split, and nothing comes from the hub.
- otherwise each split is its own file, or its hub split when the file is absent.

`validation_articles: null` turns the split off. Standard library only: the command-line
check and `dlkit data` read it before torch or `datasets` is imported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlkit.data.layout import Expected, split_files

PAIR = ("train", "validation")  # the two sides of a split by article


def squad_layout(
    files: Mapping[str, Any] | None, hub: Mapping[str, Any] | None, validation_articles: Any
) -> tuple[list[Expected], str | None]:
    """The files the config reads (each with its hub source), and the key of the one split
    by article into training and validation sides (None: no split by article)."""
    expected = split_files(files, hub)
    if not validation_articles:
        return expected, None
    by_key = {e.key: e for e in expected}
    train, validation = by_key.get("train"), by_key.get("validation")
    if validation is None or validation.path is None:  # files.validation unset
        return [e for e in expected if e.key != "validation"], "train"
    if train is not None and train.path and not train.present and validation.present:
        return [e for e in expected if e.key != "train"], "validation"
    return expected, None
