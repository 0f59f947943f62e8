"""Texts to predict on, read one row at a time from a file or stdin, so memory stays flat
however large the input. Every unreadable row is an error naming the file and line."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO

from dlkit.errors import DataError

_EXTENSIONS = {".txt": "txt", ".raw": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
FORMATS = ("txt", "csv", "tsv", "jsonl")


class TextStream:
    """Yields (line number, [text] or [text, pair]); blank lines of plain text are skipped
    and counted in `skipped`."""

    def __init__(self, source: str, columns: list[str], input_format: str | None = None) -> None:
        self.name = "<stdin>" if source == "-" else source
        self.path = None if source == "-" else Path(source).expanduser()
        self.columns = columns
        if self.path is not None and self.path.is_dir():
            raise DataError(f"input={self.path} is a folder; name a file in it (or - for stdin).")
        self.format = input_format or self._format()
        if self.format not in FORMATS:
            raise DataError(f"predict.input_format={self.format} is not one of {FORMATS}.")
        if self.path is not None and not self.path.is_file():
            raise DataError(f"Input not found: {self.path}. Pass input=<an existing file> or -.")
        if self.format == "txt" and len(columns) > 1:
            raise DataError(
                f"This model reads sentence pairs ({', '.join(columns)}); plain text has one "
                "text per line. Give a csv, tsv or jsonl file with those columns."
            )
        self.size = self.path.stat().st_size if self.path else None
        self.bytes_read = 0
        self.skipped = 0

    def _format(self) -> str:
        if self.path is None:
            return "txt"
        fmt = _EXTENSIONS.get(self.path.suffix.lower())
        if fmt is None:
            raise DataError(
                f"Cannot tell the format of {self.path} from its extension; rename it or set "
                f"predict.input_format to one of {', '.join(FORMATS)}."
            )
        return fmt

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open("rb") if self.path else nullcontext(sys.stdin.buffer) as handle:
            lines = self._lines(handle)
            if self.format == "txt":
                yield from self._plain(lines)
            elif self.format == "jsonl":
                yield from self._jsonl(lines)
            else:
                yield from self._table(lines)

    def _lines(self, handle: BinaryIO) -> Iterator[tuple[int, str]]:
        for number, raw in enumerate(handle, start=1):
            self.bytes_read += len(raw)
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{self.name}, line {number}: not valid UTF-8 ({err.reason} at byte "
                    f"{err.start}). Re-save the input as UTF-8."
                ) from None

    def _plain(self, lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
        for number, line in lines:
            if line.strip():
                yield number, [line]
            else:
                self.skipped += 1

    def _jsonl(self, lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
        for number, line in lines:
            if not line.strip():
                self.skipped += 1
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{self.name}, line {number}: not valid JSON ({err.msg})."
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{self.name}, line {number}: expected a JSON object per line.")
            yield number, self._texts(number, row, list(row))

    def _table(self, lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
        options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if self.format == "tsv" else {}
        numbers: list[int] = []

        def text_lines() -> Iterator[str]:
            for number, line in lines:
                numbers.append(number)
                yield line

        reader = csv.reader(text_lines(), **options)
        try:
            header = next(reader)
        except StopIteration:
            return
        numbers.clear()
        for row in reader:
            number = numbers[0]  # a quoted field may span lines: the row's first one
            numbers.clear()
            if not any(cell.strip() for cell in row):
                self.skipped += 1
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{self.name}, line {number}: {len(row)} fields where the header has "
                    f"{len(header)}. Fix the row (or its quoting)."
                )
            yield number, self._texts(number, dict(zip(header, row, strict=True)), header)

    def _texts(self, number: int, row: dict, available: list[str]) -> list[str]:
        texts = []
        for column in self.columns:
            if column not in row:
                raise DataError(
                    f"{self.name}, line {number}: no column '{column}' (it has {available}). "
                    "Set predict.text_column=<one of them>."
                )
            value = row[column]
            if isinstance(value, list) and all(isinstance(word, str) for word in value):
                value = " ".join(value)  # pre-tokenized text: a list of words
            if not isinstance(value, str) or not value.strip():
                raise DataError(
                    f"{self.name}, line {number}: '{column}' is empty or not text ({value!r})."
                )
            texts.append(value)
        return texts
