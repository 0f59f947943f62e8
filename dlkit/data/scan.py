"""The line-by-line scan of a text data file before `datasets` reads it: every line UTF-8,
every row the header's shape (csv/tsv) or a JSON object (jsonl), the line each row starts on,
and, under on_bad_row=skip, a cleaned copy without the bad rows."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from dlkit.data.rows import BadRow, every_row_bad
from dlkit.errors import DataError

# What pandas skips as a blank line: nothing but spaces and tabs, unless tab is the delimiter.
_BLANK = {",": " \t\r\n", "\t": " \r\n"}

_Record = tuple[int, list[str], list[str]]  # first line, fields, the lines' texts


def _physical_lines(handle: BinaryIO, split_cr: bool) -> Iterator[bytes]:
    """Lines with their terminators. pandas also ends a line at a lone '\\r'; the JSON reader
    ends lines at '\\n' only."""
    for raw in handle:
        if split_cr and b"\r" in raw:
            yield from raw.splitlines(keepends=True)
        else:
            yield raw


class Scan:
    """One streaming pass over a text file. Records the first line of each data row in
    `lines` and, under skip, each bad row in `skipped` and its lines in `drop`; otherwise the
    first bad row raises. Problems no skipping can repair (a header that is not UTF-8, a quote
    that never closes, a broken JSON array) raise under both policies."""

    def __init__(self, path: Path, skip: bool) -> None:
        self.path, self.skip = path, skip
        self.suffix = path.suffix.lower()
        self.split_cr = self.suffix in (".csv", ".tsv")
        self.columns: list[str] | None = None  # the header of a csv/tsv file
        self.lines: array | None = array("q")  # None for a JSON array (its rows have no line)
        self.skipped: list[BadRow] = []
        self.drop: set[int] = set()  # lines left out of the copy `datasets` reads
        self.invalid: dict[int, BadRow] = {}  # lines that are not UTF-8 (under skip)
        self.digest = hashlib.sha256()
        self.delimiter = "\t" if self.suffix == ".tsv" else ","
        self._texts: list[str] = []  # the lines the csv reader took for its current row
        self._exhausted = False

    def run(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                if self.suffix in (".csv", ".tsv"):
                    self._table(handle)
                elif _starts_array(handle):  # `datasets` reads it as one JSON array
                    self._json_array(handle)
                else:
                    self._json_lines(handle)
        except OSError as err:
            raise DataError(f"Cannot read {self.path}: {err.strerror}.") from err
        if self.lines is not None and not self.lines:
            raise DataError(self._no_rows())

    def _no_rows(self) -> str:
        if self.skipped:
            return every_row_bad(str(self.path), self.skipped)
        what = " (only a header)" if self.columns else ""
        return f"{self.path} has no data rows{what}. Point data.files.* at a file with rows."

    def _bad(self, row: BadRow, lines: Sequence[int]) -> None:
        if not self.skip:
            raise row.error(str(self.path))
        self.skipped.append(row)
        self.drop.update(lines)

    def _text(self, handle: BinaryIO) -> Iterator[str]:
        """Decoded lines; a line that is not UTF-8 raises, or under skip is noted in
        `invalid` and decoded with replacement characters (which keep its commas and tabs)."""
        for number, raw in enumerate(_physical_lines(handle, self.split_cr), start=1):
            self.digest.update(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                self._invalid(number, raw, err)
                text = raw.decode("utf-8", errors="replace")
            yield text.removeprefix("\ufeff") if number == 1 else text

    def _invalid(self, number: int, raw: bytes, err: UnicodeDecodeError) -> None:
        column = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
        detail = f"byte 0x{raw[err.start]:02x} at column {column}: {err.reason}"
        row = BadRow(number, "line", "invalid UTF-8", detail, "Re-save the file as UTF-8")
        if not self.skip:
            raise row.error(str(self.path))
        self.invalid[number] = row

    # -- csv and tsv ---------------------------------------------------------------------
    def _table(self, handle: BinaryIO) -> None:
        records = self._tsv_records(handle) if self.suffix == ".tsv" else self._csv_records(handle)
        blanks: list[int] = []  # the blank lines since the last kept record
        lone_cr = False  # whether the last of them ends with a lone '\r'
        for first, fields, texts in records:
            if len(texts) == 1 and not texts[0].strip(_BLANK[self.delimiter]):
                blanks.append(first)
                lone_cr = texts[0].endswith("\r")
                continue
            span = range(first, first + len(texts))
            invalid = [self.invalid[n] for n in span if n in self.invalid] if self.invalid else []
            if self.columns is None:
                self.columns = self._header(fields, first, invalid)
            elif problem := invalid[0] if invalid else self._shape(fields, first):
                self._bad(problem, span)
                continue  # left out of the copy: the blank lines around it become one run
            else:
                self.lines.append(first)
            if blanks and lone_cr and texts[0].startswith(self.delimiter):
                # pandas eats the delimiter that starts a row after a blank line ended by a
                # lone '\r', shifting the row's fields: the copy it reads leaves them out.
                self.drop.update(blanks)
            blanks = []

    def _shape(self, fields: list[str], first: int) -> BadRow | None:
        if len(fields) == len(self.columns):
            return None
        count = f"{len(fields)} field{'s' if len(fields) > 1 else ''}"
        detail = f"{count} where the header has {len(self.columns)}"
        return BadRow(first, "line", "malformed row", detail, self._fix())

    def _fix(self) -> str:
        if self.suffix == ".tsv":
            return "A tab or line break in a text splits the row (TSV has no quoting): remove it"
        return "Quote a text that holds a comma, a quote or a line break"

    def _tsv_records(self, handle: BinaryIO) -> Iterator[_Record]:
        """Quoting is off, so each line is one record."""
        for number, text in enumerate(self._text(handle), start=1):
            yield number, text.rstrip("\r\n").split("\t"), [text]

    def _csv_records(self, handle: BinaryIO) -> Iterator[_Record]:
        """Read with the csv module, whose quoting rules match pandas': a quoted field may
        span lines."""
        reader = csv.reader(self._fed(handle))
        last = 0
        try:
            for fields in reader:
                first, last = last + 1, reader.line_num
                if self._exhausted:  # the reader ran off the end inside a quoted field
                    raise DataError(
                        f"{self.path}, line {first}: a quoted field starts here and never "
                        'closes. Add the closing quote (a quote inside a text is written "").'
                    )
                texts, self._texts = self._texts, []
                yield first, fields, texts
        except csv.Error as err:  # only the field size limit, which an open quote can hit
            raise DataError(
                f"{self.path}, line {last + 1}: {err}; a quote that never closes is the usual "
                'cause. Add the closing quote (a quote inside a text is written "").'
            ) from None

    def _fed(self, handle: BinaryIO) -> Iterator[str]:
        for text in self._text(handle):
            self._texts.append(text)
            yield text
        self._exhausted = True

    def _header(self, fields: list[str], line: int, invalid: list[BadRow]) -> list[str]:
        """Column names as pandas gives them: an empty name becomes 'Unnamed: <index>'."""
        if invalid:
            raise DataError(
                f"{self.path}, line {invalid[0].number}: the header row is not valid UTF-8 "
                f"({invalid[0].detail}). Re-save the file as UTF-8."
            )
        names = [name or f"Unnamed: {i}" for i, name in enumerate(fields)]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise DataError(
                f"{self.path}, line {line}: the header names column {twice[0]!r} twice. "
                "Give every column its own name."
            )
        return names

    # -- json ----------------------------------------------------------------------------
    def _json_lines(self, handle: BinaryIO) -> None:
        fix = 'Write one JSON object per line, e.g. {"text": "...", "label": "..."}'
        for number, text in enumerate(self._text(handle), start=1):
            if number in self.invalid:
                self._bad(self.invalid[number], (number,))
                continue
            if not text.strip(" \t\r\n"):  # the JSON reader skips blank lines
                continue
            try:
                row = json.loads(text)
            except (ValueError, RecursionError) as err:
                detail = f"not valid JSON: {_json_error(err)}"
                self._bad(BadRow(number, "line", "malformed row", detail, fix), (number,))
                continue
            if not isinstance(row, dict):
                detail = f"a JSON {_json_kind(row)}, not an object"
                self._bad(BadRow(number, "line", "malformed row", detail, fix), (number,))
                continue
            self.lines.append(number)

    def _json_array(self, handle: BinaryIO) -> None:
        """A file holding one JSON array: its items have no lines of their own, so a bad
        item is an error under both policies."""
        self.lines = None
        text = "".join(self._text(handle))
        if self.invalid:
            first = self.invalid[min(self.invalid)]
            raise DataError(f"{first.message(str(self.path))} (in a JSON array).")
        try:
            items = json.loads(text)
        except (ValueError, RecursionError) as err:
            line = f", line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
            raise DataError(
                f"{self.path}{line}: not valid JSON ({_json_error(err)}). A .json file holds "
                "one array of objects, or one object per line."
            ) from None
        if not items:
            raise DataError(f"{self.path}: an empty JSON array. Point data.files.* at data.")
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise DataError(
                    f"{self.path}, row {number}: a JSON {_json_kind(item)}, not an object. "
                    'Make every item an object, e.g. {"text": "...", "label": "..."}.'
                )


def _starts_array(handle: BinaryIO) -> bool:
    start = handle.read(len(codecs.BOM_UTF8) + 1).removeprefix(codecs.BOM_UTF8)
    handle.seek(0)
    return start[:1] == b"["


def _json_kind(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    names = {list: "array", str: "string", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def _json_error(err: ValueError | RecursionError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at column {err.colno}"
    return "nested too deeply" if isinstance(err, RecursionError) else str(err)


def cleaned_copy(scan: Scan, cache_dir: Path) -> Path:
    """The file without the lines in `scan.drop` (skipped rows, blank lines pandas misreads),
    written once per file content (the name is its sha256) and atomically, since every DDP
    rank loads the data."""
    target = cache_dir / "cleaned" / f"{scan.digest.hexdigest()[:32]}{scan.suffix}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with open(scan.path, "rb") as handle, open(partial, "wb") as out:
            for number, raw in enumerate(_physical_lines(handle, scan.split_cr), start=1):
                if number not in scan.drop:
                    out.write(raw)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
