"""Labelled text (single sentences or pairs) for sequence classification."""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
from transformers import PreTrainedTokenizerBase

from dlkit.data.files import check_file, load_split
from dlkit.data.hub import Fetched, fetch_missing
from dlkit.data.labelled import LabelledData
from dlkit.data.layout import split_files
from dlkit.data.rows import BadRow, TableFile, every_row_bad
from dlkit.errors import DataError

SPLITS = ("train", "validation", "test", "eval")


class TextClassificationData(LabelledData):
    """Reads every configured split and derives the label set from the training split. A bad
    row: not UTF-8, the wrong shape, an empty text, no label, a label the training data
    lacks."""

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        text_column: str,
        label_column: str,
        text_pair_column: str | None = None,
        label_names: dict[Any, str] | None = None,
        hub: dict[str, Any] | None = None,
        on_bad_row: str = "error",
        max_length: int = 128,
        group_by_length: bool = False,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        cache_dir: str = ".cache/dlkit",
    ) -> None:
        super().__init__(
            name,
            files,
            on_bad_row,
            max_length,
            group_by_length,
            batch_size,
            eval_batch_size,
            num_workers,
            pin_memory,
            cache_dir,
        )
        self.hub = hub or {}
        self.text_columns = [c for c in (text_column, text_pair_column) if c]
        self.label_column = label_column
        # What a file's label values mean ({0: negative, 1: positive}): the names are the
        # label set, in the order given, and what config.json and predictions show.
        self.label_map = {str(k): str(v) for k, v in (label_names or {}).items()}

    # -- loading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = SPLITS, label_names: list[str] | None = None) -> None:
        """Read and validate the raw splits. `label_names` fixes the label set (evaluation of
        a trained model); otherwise it comes from the training split's usable rows."""
        tables: dict[str, TableFile] = {}
        expected = [e for e in split_files(self.files, self.hub) if e.key in splits]
        fetched = fetch_missing(self.name, expected, self._ds_cache)
        for split in splits:
            table = self._read(split, fetched)
            if table is None:
                continue
            if not len(table.dataset):  # text files were checked for rows by the scan
                raise DataError(
                    f"{table.source} has no data rows. Point data.files.{split} at data."
                )
            self._check_columns(table)
            tables[split] = self._drop(table, self._missing_values(table))
        fixed = label_names is not None
        if label_names is None and self.label_map:
            label_names = list(self.label_map.values())
        elif label_names is None:
            if "train" not in tables:
                raise DataError(
                    "No training data: set data.files.train to a labelled file "
                    "(the label set is read from it)."
                )
            label_names = _label_names(_values(tables["train"].dataset, self.label_column))
        self.label_names = list(label_names)
        for split, table in tables.items():
            if fixed or split != "train" or self.label_map:
                table = self._drop(table, self._unknown_labels(table, fixed))
            self.report_skipped(table.source, table.skipped, len(table.dataset))
            self.raw[split], self.sources[split] = table.dataset, table.source
            self.skipped[split] = sorted(table.skipped)

    def _read(self, split: str, fetched: dict[str, Fetched]) -> TableFile | None:
        """The local file of a split, or its hub copy when the file is absent."""
        if split in fetched:
            return TableFile(fetched[split].source, fetched[split].dataset)
        if split not in self.files:
            return None
        path = check_file(self.files[split], f"data.files.{split}")
        return load_split(path, self._ds_cache, skip=self.on_bad_row == "skip")

    @property
    def _ds_cache(self) -> Path:
        return self.cache_dir / "datasets"

    def _check_columns(self, table: TableFile) -> None:
        columns = table.dataset.column_names
        for role, column in [("text", c) for c in self.text_columns] + [
            ("label", self.label_column)
        ]:
            if column not in columns:
                setting = "data.label_column" if role == "label" else "data.text_column"
                raise DataError(
                    f"{table.source}: no {role} column '{column}'; the file has columns "
                    f"{columns}. Set {setting}=<one of them>."
                )

    def _missing_values(self, table: TableFile) -> dict[int, BadRow]:
        """Rows whose text is empty or not text, or whose label is missing, by row index."""
        bad: dict[int, BadRow] = {}
        for column in self.text_columns:
            for row, text in enumerate(_values(table.dataset, column)):
                if row not in bad and not isinstance(text, str) and text is not None:
                    kind = type(text).__name__
                    detail = f"'{column}' holds {kind} {reprlib.repr(text)}, not text"
                    fix = (
                        f"Check that data.text_column names the text ('{column}' reads as "
                        "numbers), or write the values as strings"
                    )
                    bad[row] = table.bad(row, "not text", detail, fix)
                elif row not in bad and not (isinstance(text, str) and text.strip()):
                    detail = f"'{column}' is {reprlib.repr(text)}"
                    bad[row] = table.bad(row, "empty text", detail, "Fill it in or remove the row")
        for row, label in enumerate(_values(table.dataset, self.label_column)):
            if row not in bad and _missing(label):
                detail = f"'{self.label_column}' is {reprlib.repr(label)}"
                bad[row] = table.bad(row, "missing label", detail, "Fill it in or remove the row")
        return bad

    def _unknown_labels(self, table: TableFile, fixed: bool) -> dict[int, BadRow]:
        known = set(self.label_names) | set(self.label_map)
        origin = (
            "of the trained model"
            if fixed
            else "named by data.label_names"
            if self.label_map
            else "read from the training data"
        )
        return {
            row: table.bad(
                row,
                "unknown label",
                f"{reprlib.repr(label)} is not in the label set {self.label_names} {origin}",
                "Fix the label or remove the row",
            )
            for row, label in enumerate(_values(table.dataset, self.label_column))
            if str(label) not in known
        }

    def _drop(self, table: TableFile, bad: dict[int, BadRow]) -> TableFile:
        """The first bad row is an error, or under skip every bad row is dropped; a split
        with no row left is an error either way."""
        if not bad:
            return table
        if self.on_bad_row == "error":
            raise bad[min(bad)].error(table.source)
        kept = table.without(bad)
        if not len(kept.dataset):
            raise DataError(every_row_bad(table.source, kept.skipped))
        return kept

    def train_texts(self) -> Iterator[str]:
        for column in self.text_columns:
            yield from _values(self.raw["train"], column)

    # -- tokenization --------------------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        settings = {
            "columns": self.text_columns,
            "label_column": self.label_column,
            "aliases": self.label_map,
        }
        self.encode_splits(tokenizer, _encode, settings)


def _values(dataset: datasets.Dataset, column: str) -> list:
    """One column as a list, read in one batch (`dataset[column]` decodes row by row: SST-2's
    checks took a second that way)."""
    return dataset.select_columns(column)[:][column]


def _missing(label: object) -> bool:
    if isinstance(label, float):
        return math.isnan(label)
    return label is None or not str(label).strip()


def _label_names(values: list) -> list[str]:
    """Sorted; integer labels (csv and tsv give them as text) in numeric order."""
    present = {str(v) for v in values}
    if all(re.fullmatch(r"-?\d+", v) for v in present):
        return sorted(present, key=int)
    return sorted(present)


def _encode(batch: dict, tokenizer, columns, label_column, label2id, max_length, aliases) -> dict:
    texts = [batch[c] for c in columns]
    encoded = tokenizer(*texts, truncation=True, max_length=max_length)
    encoded["labels"] = [label2id[aliases.get(str(v), str(v))] for v in batch[label_column]]
    return encoded
