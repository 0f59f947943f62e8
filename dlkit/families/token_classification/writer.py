"""A hub split written as the tagged file its data config expects (`dlkit data get`): CoNLL
text for .txt/.conll/.iob/.bio (one word per line, the hub's other per-word columns such as
CoNLL-2003's POS and chunk tags between it and its tag, a blank line after each sentence),
or a tokens and a tags column in json, jsonl or parquet. Tags are written by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.conll import SUFFIXES
from dlkit.data.files import write_table
from dlkit.errors import DataError
from dlkit.families.token_classification import tagged


def write(data: Mapping[str, Any], dataset: datasets.Dataset, path: Path, setting: str) -> None:
    hub = data.get("hub") or {}
    tokens = str(hub.get("tokens_column") or data.get("tokens_column") or "tokens")
    tags = str(hub.get("tags_column") or data.get("tags_column") or "tags")
    missing = [c for c in (tokens, tags) if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"The hub copy has no column '{missing[0]}' (it has {dataset.column_names}); set "
            "data.hub.tokens_column and data.hub.tags_column to its columns."
        )
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        # The reader takes the tag from data.tag_column: as the last column, any may go between.
        between = tagged.per_token_columns(dataset, (tokens, tags))
        if data.get("tag_column", -1) != -1:
            between = []
        _write_conll(dataset, [tokens, *between, tags], path, setting)
        return
    rows = {
        str(data.get("tokens_column") or "tokens"): dataset.select_columns(tokens)[:][tokens],
        str(data.get("tags_column") or "tags"): tagged.names(dataset, tags),
    }
    write_table(datasets.Dataset.from_dict(rows), path, setting)


def _write_conll(dataset: datasets.Dataset, columns: list[str], path: Path, setting: str) -> None:
    values = [tagged.names(dataset, column) for column in columns]
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*values, strict=True):
            words = row[0]
            if any(len(fields) != len(words) for fields in row):
                raise DataError(
                    f"A row of the hub copy has {len(words)} words but not as many values in "
                    f"each of {', '.join(columns)}; it cannot be written as CoNLL ({setting})."
                )
            for fields in zip(*row, strict=True):
                text = [str(f) for f in fields]
                if any(not f or f != "".join(f.split()) for f in text):
                    raise DataError(
                        f"A word or tag of the hub copy ({text}) is empty or holds white space, "
                        f"which CoNLL text cannot hold; set {setting} to a .jsonl file."
                    )
                handle.write(" ".join(text) + "\n")
            if words:
                handle.write("\n")
