"""Where a bad row is and what is wrong with it, and a loaded split that can point at its
rows by file line: what every data error and the on_bad_row=skip report are made of."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import datasets

from dlkit.errors import DataError


@dataclass(frozen=True, order=True)
class BadRow:
    """A row dlkit cannot use: where it is, what is wrong with it, and how to fix it."""

    number: int
    unit: str  # "line" in text files; "row" (1-based) where rows have no line (parquet, hub)
    kind: str  # a category the skip report counts: "empty text", "malformed row", ...
    detail: str
    fix: str = field(compare=False)

    def __str__(self) -> str:
        return f"{self.unit} {self.number}: {self.kind} ({self.detail})"

    def message(self, source: str) -> str:
        return f"{source}, {self}. {self.fix}"

    def error(self, source: str) -> DataError:
        """The error under on_bad_row=error, which says how to skip such rows instead."""
        return DataError(f"{self.message(source)}, or set data.on_bad_row=skip to drop such rows.")

    def record(self) -> dict[str, int | str]:
        return {self.unit: self.number, "reason": f"{self.kind}: {self.detail}"}


@dataclass
class TableFile:
    """A loaded split and how to point at its rows: row i starts on file line `lines[i]`
    (None where rows have no lines); `skipped` holds the rows dropped under on_bad_row=skip."""

    source: str
    dataset: datasets.Dataset
    lines: Sequence[int] | None = None
    skipped: list[BadRow] = field(default_factory=list)

    def bad(self, index: int, kind: str, detail: str, fix: str) -> BadRow:
        if self.lines is None:
            return BadRow(index + 1, "row", kind, detail, fix)
        return BadRow(self.lines[index], "line", kind, detail, fix)

    def without(self, dropped: dict[int, BadRow]) -> TableFile:
        keep = [i for i in range(len(self.dataset)) if i not in dropped]
        lines = None if self.lines is None else array("q", (self.lines[i] for i in keep))
        skipped = [*self.skipped, *dropped.values()]
        return TableFile(self.source, self.dataset.select(keep), lines, skipped)


def every_row_bad(source: str, skipped: list[BadRow]) -> str:
    first = min(skipped)
    rows = f"all {len(skipped)} data rows are" if len(skipped) > 1 else "the only data row is"
    return f"{source}: {rows} bad, the first at {first}. {first.fix}."
