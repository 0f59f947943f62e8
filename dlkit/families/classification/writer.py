"""A hub split written as the labelled file its data config expects (`dlkit data get`): the
text and label columns as the hub has them, in the format the file's extension names, so
the reader takes it as it takes any local file (SST-2: `sentence<TAB>label`, as GLUE's)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.files import write_table
from dlkit.errors import DataError


def write(data: Mapping[str, Any], dataset: datasets.Dataset, path: Path, setting: str) -> None:
    roles = ("text_column", "text_pair_column", "label_column")
    columns = [str(data[role]) for role in roles if data.get(role)]
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"The hub copy has no column '{missing[0]}' (it has {dataset.column_names}); set "
            "data.text_column and data.label_column to its columns."
        )
    write_table(dataset.select_columns(columns), path, setting)
