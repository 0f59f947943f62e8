"""A hub split written as the corpus source its data config expects (`dlkit data get`): one
line per line of its text column (WikiText's rows are its file's lines), or a jsonl file with
the source's text column."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.files import TABLES
from dlkit.data.layout import Expected
from dlkit.errors import DataError
from dlkit.families.language_modeling.sources import entry_of, text_column


def write(data: Mapping[str, Any], item: Expected, dataset: datasets.Dataset, path: Path) -> None:
    entry = entry_of(data, item.key)
    column = text_column(entry)
    if column not in dataset.column_names:
        raise DataError(
            f"The hub copy has no text column '{column}' (it has {dataset.column_names}); set "
            f"the text_column of {item.setting}.hub."
        )
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        table = dataset.select_columns(column)
        name = str(entry.get("text_column") or "text")
        if name != column:
            table = table.rename_column(column, name)
        table.to_json(str(path), lines=True, force_ascii=False)
        return
    if suffix in TABLES:
        raise DataError(f"{item.setting}={path}: cannot write a {suffix} corpus file; use .jsonl.")
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for batch in dataset.select_columns(column).iter(batch_size=10_000):
            handle.writelines(str(text or "").rstrip("\n") + "\n" for text in batch[column])
