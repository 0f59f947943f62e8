"""Source and target text as read from parallel plain-text files (`train.de` + `train.en`,
line by line) or from a table with source and target columns, with the file:line checks and
`on_bad_row` of every dlkit reader. A split becomes a Dataset of `source`, `target` (what the
loss learns) and `references` (what generation is scored against: the target, or several
reference columns where a split has them, as DialogSum's test split does)."""

from __future__ import annotations

import reprlib
from pathlib import Path

import datasets

from dlkit.data.files import check_file, load_split
from dlkit.data.rows import BadRow, TableFile, every_row_bad
from dlkit.errors import DataError


def read_parallel(source: Path, target: Path, setting: str, skip: bool) -> TableFile:
    """Line i of `source` translates into line i of `target`. Both must have the same number
    of lines; a pair with an empty side is a bad row (line numbers are the files')."""
    sides = []
    for path in (source, target):
        if not path.is_file():
            raise DataError(
                f"Data file not found: {path} (from {setting}, with data.source_lang and "
                "data.target_lang). Point paths.data_dir at the folder holding both sides."
            )
        sides.append(_lines(path))
    if len(sides[0]) != len(sides[1]):
        raise DataError(
            f"{source} has {len(sides[0])} lines but {target} has {len(sides[1])}: parallel "
            "files pair line i with line i, so both sides need the same number of lines. "
            "Check that both come from the same release of the corpus."
        )
    rows = {"source": sides[0], "target": sides[1], "references": [[t] for t in sides[1]]}
    table = TableFile(str(source), datasets.Dataset.from_dict(rows), range(1, len(sides[0]) + 1))
    return _checked(table, skip)


def read_table(
    path: Path,
    setting: str,
    cache_dir: Path,
    source_column: str,
    target_column: str,
    reference_columns: list[str],
    skip: bool,
) -> TableFile:
    return from_table(
        load_split(check_file(path, setting), cache_dir, skip),
        source_column,
        target_column,
        reference_columns,
        skip,
    )


def from_table(
    table: TableFile,
    source_column: str,
    target_column: str,
    reference_columns: list[str],
    skip: bool,
) -> TableFile:
    """A table (a file, or a hub split) as source/target/references. The references are the
    `reference_columns` the table has, else its target; the target is `target_column`, else
    the first reference (a test split with only summary1..3)."""
    columns = table.dataset.column_names
    references = [c for c in reference_columns if c in columns]
    target = target_column if target_column in columns else (references or [target_column])[0]
    for role, column, setting in (
        ("source", source_column, "data.source_column"),
        ("target", target, "data.target_column"),
    ):
        if column not in columns:
            raise DataError(
                f"{table.source}: no {role} column '{column}'; the file has columns "
                f"{columns}. Set {setting}=<one of them>."
            )
    data = table.dataset
    refs = zip(*(data[c] for c in references), strict=True) if references else None
    rows = {
        "source": list(data[source_column]),
        "target": list(data[target]),
        "references": [list(r) for r in refs] if refs else [[t] for t in data[target]],
    }
    lines = table.lines
    return _checked(
        TableFile(table.source, datasets.Dataset.from_dict(rows), lines, table.skipped), skip
    )


def _lines(path: Path) -> list[str]:
    """A text file's lines without their line breaks; bytes that are not UTF-8 are an error
    naming the line."""
    out = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                out.append(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}, line {number}: not UTF-8 text ({err.reason} at byte "
                    f"{err.start}). Re-save the file as UTF-8."
                ) from None
    return out


def _checked(table: TableFile, skip: bool) -> TableFile:
    """Rows whose source or target is empty or not text are bad: an error, or dropped and
    counted under on_bad_row=skip."""
    bad: dict[int, BadRow] = {}
    data = table.dataset
    for row, (source, target) in enumerate(zip(data["source"], data["target"], strict=True)):
        for side, text in (("source", source), ("target", target)):
            if row in bad or (isinstance(text, str) and text.strip()):
                continue
            detail = f"the {side} is {reprlib.repr(text)}"
            bad[row] = table.bad(row, f"empty {side}", detail, "Fill it in or remove the pair")
    if not bad:
        return table
    if not skip:
        raise min(bad.values()).error(table.source)
    kept = table.without(bad)
    if not len(kept.dataset):
        raise DataError(every_row_bad(table.source, kept.skipped))
    return kept
