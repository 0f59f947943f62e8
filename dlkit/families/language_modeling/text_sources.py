"""A corpus's sources as re-readable streams of non-blank lines. Each is read once to count
its lines (which fixes where its held-out tail starts) and again by every pass that needs its
text, so no pass holds the corpus in memory."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from dlkit.data.conll import stream_sentences
from dlkit.data.files import TABLES, load_split
from dlkit.data.fingerprint import cached_file_sha256
from dlkit.data.hub import Fetched
from dlkit.errors import DataError

_BATCH = 1000  # rows of an Arrow table turned into Python strings at a time


@dataclass
class TextSource:
    """`content` identifies the text (a file's sha256, a hub copy's `datasets` fingerprint)
    for cache keys; the first `cut` of its `lines` are training text, the rest held out."""

    name: str
    content: Any
    read: Callable[[], Iterator[str]]
    lines: int = 0
    cut: int = 0

    def hold_out(self, fraction: float) -> TextSource:
        """Count the lines and cut the last ceil(lines * fraction) of them off for validation."""
        self.lines = sum(1 for _ in self.read())
        self.cut = self.lines - math.ceil(self.lines * fraction)
        return self

    def part(self, split: str) -> Iterator[str]:
        """The training lines, or the held-out ones (any other split)."""
        lines = self.read()
        return islice(lines, self.cut) if split == "train" else islice(lines, self.cut, None)

    def key(self) -> list[Any]:
        return [self.content, self.lines, self.cut]


def file_source(
    path: Path,
    text_column: str | None,
    tables_cache: Path,
    hashes_cache: Path,
    file_format: str | None = None,
) -> TextSource:
    """Plain text (any extension the table readers do not know): one non-blank line per item.
    Tables, json and jsonl (read by dlkit.data.files, like every labelled file): the lines of
    the named text column. CoNLL (`format: conll`): each sentence's words, tags dropped, so a
    tagging corpus is also text to pretrain on."""
    digest = cached_file_sha256(path, hashes_cache)
    if file_format == "conll":
        return TextSource(str(path), [digest, "conll"], lambda: _conll_sentences(path))
    if path.suffix.lower() not in TABLES:
        return TextSource(str(path), digest, lambda: _text_lines(path))
    if not text_column:
        raise DataError(f"{path}: set text_column for this source in data.sources.")
    table = load_split(path, tables_cache)  # Arrow-backed: memory-mapped, not in memory
    columns = table.dataset.column_names
    if text_column not in columns:
        raise DataError(f"{path}: no text column '{text_column}'; columns are {columns}.")

    def read() -> Iterator[str]:
        for row, text in enumerate(_column(table.dataset, text_column)):
            if text is None:
                bad = table.bad(row, "missing text", f"no '{text_column}' field", "Fill it in")
                raise DataError(bad.message(str(path)) + ".")
            yield from _split_lines(text)

    return TextSource(str(path), [digest, text_column], read)


def hub_source(copy: Fetched, column: str, hashes_cache: Path) -> TextSource:
    """The non-blank lines of a hub copy's text column."""
    if column not in copy.dataset.column_names:
        raise DataError(
            f"{copy.source}: no text column '{column}'; it has {copy.dataset.column_names}. Set "
            "the text_column of its hub entry."
        )

    def read() -> Iterator[str]:
        for text in _column(copy.dataset, column):
            yield from _split_lines(text or "")

    return TextSource(copy.source, [_hub_content(copy.dataset, read, hashes_cache), column], read)


def _hub_content(dataset: Any, read: Callable[[], Iterator[str]], hashes_cache: Path) -> Any:
    """A hub copy's Arrow files' hashes (memoised like any file's), or for a copy held only in
    memory a hash of its lines."""
    files = [Path(f["filename"]) for f in dataset.cache_files]
    if files:
        return [cached_file_sha256(path, hashes_cache) for path in files]
    digest = hashlib.sha256()
    for line in read():
        digest.update(line.encode() + b"\0")
    return digest.hexdigest()


def _conll_sentences(path: Path) -> Iterator[str]:
    return (" ".join(sentence.tokens) for sentence in stream_sentences(path))


def _text_lines(path: Path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            yield from (line.strip() for line in handle if line.strip())
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not valid UTF-8 ({err.reason} at byte {err.start}).") from err


def _column(dataset: Any, column: str) -> Iterator[Any]:
    for batch in dataset.select_columns(column).iter(batch_size=_BATCH):
        yield from batch[column]


def _split_lines(text: Any) -> Iterator[str]:
    return (t.strip() for t in str(text).splitlines() if t.strip())
