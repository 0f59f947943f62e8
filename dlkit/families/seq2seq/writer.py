"""A hub split written as the files its data config expects (`dlkit data get`): a table as
any table is, or parallel text, one line per pair (the source side at the configured path,
the target side beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.files import write_table
from dlkit.errors import DataError
from dlkit.families.seq2seq.sides import is_table, target_file


def write(
    data: Mapping[str, Any], dataset: datasets.Dataset, path: Path, final: Path, setting: str
) -> None:
    """`path` is where the source side (or the table) goes first, `final` where it ends up:
    the target side is written beside `final`, under a temporary name until complete."""
    if is_table(final):
        write_table(dataset, path, setting)
        return
    source, target = str(data.get("source_column")), str(data.get("target_column"))
    for column in (source, target):
        if column not in dataset.column_names:
            raise DataError(
                f"The hub copy has no column '{column}' (it has {dataset.column_names}); set "
                "data.source_column and data.target_column to its columns."
            )
    other = target_file(final, str(data.get("source_lang")), str(data.get("target_lang")))
    partial = other.with_name(f".{other.name}.partial")
    for file, column in ((path, source), (partial, target)):
        texts = [" ".join(str(t).split()) for t in dataset[column]]  # one line per text
        file.write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    partial.replace(other)
