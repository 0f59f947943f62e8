"""CoNLL files (one token per line, its tag in a column, sentences between blank lines): read
in one streaming pass, with every bad line named by file and line like the table formats."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dlkit.data.rows import BadRow, every_row_bad
from dlkit.errors import DataError

DOCSTART = "-DOCSTART-"
SUFFIXES = (".txt", ".conll", ".iob", ".bio")  # files read as CoNLL
_COLUMNS_FIX = "Give every token line the same columns"
_UTF8_FIX = "Re-save the file as UTF-8"


@dataclass
class Sentence:
    """One sentence; `line` (1-based, the first token's) lets later checks name file:line."""

    tokens: list[str]
    tags: list[str]
    line: int


@dataclass
class ConllFile:
    """A read split; `skipped` holds the bad lines whose sentences were dropped under skip."""

    source: str
    sentences: list[Sentence]
    skipped: list[BadRow] = field(default_factory=list)


def read_conll(path: Path, tag_column: int = -1, skip: bool = False) -> ConllFile:
    """Sentences of a CoNLL file: tokens from the first column, tags from `tag_column`
    (negative counts from the end). `-DOCSTART-` lines and runs of blank lines end sentences.

    The first token line fixes the number of columns. A token line with another count, or a
    line that is not UTF-8, raises a DataError naming the file and line; under `skip` the
    whole sentence holding it is dropped and the line recorded in `skipped` instead."""
    reader = _Reader(Path(path), tag_column, skip)
    try:
        sentences = list(reader.sentences())
    except OSError as err:
        raise DataError(f"Cannot read {path}: {err.strerror or err}.") from err
    if not sentences:
        if reader.skipped:
            raise DataError(every_row_bad(str(path), reader.skipped))
        raise DataError(
            f"{path} has no sentences (no token lines between its blank and -DOCSTART- "
            "lines). Point data.files.* at a CoNLL file: one token per line, its tag in a "
            "column, a blank line after each sentence."
        )
    return ConllFile(str(path), sentences, reader.skipped)


def stream_sentences(path: Path, tag_column: int = -1) -> Iterator[Sentence]:
    """The sentences one at a time, for passes that must not hold the file (a pretraining
    corpus re-reads it on every pass); a bad line raises as in read_conll."""
    yield from _Reader(Path(path), tag_column, skip=False).sentences()


class _Reader:
    """One pass over the file; holds the column count the first token line fixed."""

    def __init__(self, path: Path, tag_column: int, skip: bool) -> None:
        self.path, self.tag_column, self.skip = path, tag_column, skip
        self.columns: int | None = None
        self.tag_index = 0
        self.skipped: list[BadRow] = []

    def sentences(self) -> Iterator[Sentence]:
        tokens: list[str] = []
        tags: list[str] = []
        first = 0  # the line of the current sentence's first token
        bad = False  # whether the current sentence holds a bad line (dropped under skip)
        for number, fields, problem in self._lines():
            separator = not fields or fields[0] == DOCSTART
            if problem is None and not separator:
                problem = self._shape(number, fields)
            if problem is not None:
                self._bad(problem)
            if separator:
                if tokens and not bad:
                    yield Sentence(tokens, tags, first)
                tokens, tags, bad = [], [], False
            elif problem is not None:
                bad = True
            elif not bad:
                if not tokens:
                    first = number
                tokens.append(fields[0])
                tags.append(fields[self.tag_index])
        if tokens and not bad:
            yield Sentence(tokens, tags, first)

    def _bad(self, problem: BadRow) -> None:
        if not self.skip:
            raise problem.error(str(self.path))
        self.skipped.append(problem)

    def _lines(self) -> Iterator[tuple[int, list[str], BadRow | None]]:
        """Each line's fields, and the BadRow of a line that is not UTF-8 (its fields then come
        from a lenient decoding, so its line still ends or continues a sentence as it looks)."""
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                problem = None
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    problem = _not_utf8(number, raw, err)
                    text = raw.decode("utf-8", errors="replace")
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.split(), problem

    def _shape(self, number: int, fields: list[str]) -> BadRow | None:
        if self.columns is None:
            self._fix_columns(len(fields))
            return None
        if len(fields) == self.columns:
            return None
        detail = f"expected {self.columns} columns, found {len(fields)}"
        return BadRow(number, "line", "malformed row", detail, _COLUMNS_FIX)

    def _fix_columns(self, columns: int) -> None:
        """The tag column must name a column other than the token's (the first)."""
        index = self.tag_column + columns if self.tag_column < 0 else self.tag_column
        if not 1 <= index < columns:
            held = f"its {columns} columns" if columns > 1 else "its single column"
            raise DataError(
                f"{self.path}: data.tag_column={self.tag_column} is out of range for {held} "
                "(the first is the token). Set data.tag_column to the column holding the tags "
                "(0-based, or negative from the end; -1 is the last)."
            )
        self.columns, self.tag_index = columns, index


def _not_utf8(number: int, raw: bytes, err: UnicodeDecodeError) -> BadRow:
    column = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
    detail = f"byte 0x{raw[err.start]:02x} at column {column}: {err.reason}"
    return BadRow(number, "line", "not UTF-8", detail, _UTF8_FIX)
