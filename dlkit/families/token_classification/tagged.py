"""Tag columns of a `datasets` split as tag names: a hub copy such as CoNLL-2003 stores
ClassLabel ids, whose names its features hold; files store the names themselves."""

from __future__ import annotations

from typing import Any

import datasets


def names(dataset: datasets.Dataset, column: str) -> list[Any]:
    """The column's rows, each list of ClassLabel ids as a list of their names; other rows
    as they are (the reader's checks name a row that is not a list)."""
    rows = dataset.select_columns(column)[:][column]
    label = getattr(dataset.features[column], "feature", None)
    if not isinstance(label, datasets.ClassLabel):
        return rows
    return [label.int2str(list(row)) if isinstance(row, list) else row for row in rows]


def per_token_columns(dataset: datasets.Dataset, exclude: tuple[str, ...]) -> list[str]:
    """The other columns holding one value per token (CoNLL-2003's pos_tags, chunk_tags), in
    the dataset's order: a CoNLL file keeps them between the word and its tag."""
    return [
        column
        for column, feature in dataset.features.items()
        if column not in exclude and hasattr(feature, "feature")
    ]
