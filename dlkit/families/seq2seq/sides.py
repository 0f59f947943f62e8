"""Which file of a split is what: a table, or the source side of parallel text files and
where its target side is. Standard library only: the command-line check and `dlkit data` ask
before torch or `datasets` is imported."""

from __future__ import annotations

from pathlib import Path

from dlkit.errors import DataError

# The suffixes dlkit.data.files reads as tables (a test keeps the two equal).
TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


def is_table(path: str | Path) -> bool:
    """A table file (csv, tsv, json, jsonl, parquet); anything else is the source side of a
    pair of parallel text files."""
    return Path(str(path)).suffix.lower() in TABLE_SUFFIXES


def target_file(source: str | Path, source_lang: str, target_lang: str) -> Path:
    """`train.de` -> `train.en`: the target side of a parallel pair, by language suffix."""
    path = Path(str(source)).expanduser()
    if path.suffix != f".{source_lang}":
        raise DataError(
            f"{path} is not a table (csv, tsv, json, jsonl, parquet), so it is read as the "
            f"source side of parallel text files, whose name must end in .{source_lang} "
            f"(data.source_lang); its target side is the same name ending in .{target_lang}."
        )
    return path.with_suffix(f".{target_lang}")
