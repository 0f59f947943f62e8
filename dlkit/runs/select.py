"""Which rows `dlkit runs list` shows and in what order: by experiment and status, sorted by
a column or by any metric (best first, in the metric's own direction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.index import STATUSES, Row, guess_mode

COLUMNS = ("run", "experiment", "started", "status", "duration", "steps", "value")


def filter_rows(
    rows: Sequence[Row], experiment: str | None, statuses: Sequence[str] | None
) -> list[Row]:
    """An unknown experiment or status is a mistake worth naming, not an empty table."""
    if experiment is not None:
        known = sorted({row.experiment for row in rows})
        rows = [row for row in rows if experiment in (row.experiment, row.run.split("/", 1)[0])]
        if not rows:
            raise RunFolderError(
                f"No runs of experiment '{experiment}' under this run root (it has "
                f"{', '.join(known) or 'no runs'}). Name one of those, or pass --root DIR."
            )
    if statuses:
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise ConfigError(
                f"--status {','.join(unknown)}: not a run status. Use one or more of "
                f"{', '.join(STATUSES)} (comma-separated)."
            )
        rows = [row for row in rows if row.status in statuses]
    return list(rows)


def sort_rows(rows: Sequence[Row], key: str, reverse: bool = False) -> list[Row]:
    """A column in natural order (value: best first within each monitored metric), or a
    metric such as val/f1, best first; rows without it go last either way."""
    if key in COLUMNS:
        if key == "value":
            keyed = [(_monitored_key(row), row) for row in rows]
        else:
            keyed = [(_column(row, key), row) for row in rows]
    else:
        mode = next((row.mode for row in rows if row.monitor == key and row.mode), None)
        sign = -1.0 if (mode or guess_mode(key)) == "max" else 1.0
        keyed = [(_maybe(row.metric(key), sign), row) for row in rows]
        if all(k[1] is None for k, _ in keyed):
            known = sorted({name for row in rows for name in row.metrics})
            raise ConfigError(
                f"--sort {key}: no listed run has that metric or column. Sort by a column "
                f"({', '.join(COLUMNS)}) or a metric the runs have "
                f"({', '.join(known) or 'none yet'})."
            )
    present = sorted((kr for kr in keyed if kr[0][1] is not None), key=lambda kr: kr[0])
    missing = [row for k, row in keyed if k[1] is None]
    ordered = [row for _, row in present]
    return [*(ordered[::-1] if reverse else ordered), *missing]


def _column(row: Row, key: str) -> tuple[int, Any]:
    value = getattr(row, key)
    return (0, value)


def _monitored_key(row: Row) -> tuple[str, Any]:
    sign = -1.0 if row.mode == "max" else 1.0
    return (row.monitor or "", None if row.value is None else sign * row.value)


def _maybe(value: float | None, sign: float) -> tuple[int, float | None]:
    return (0, None if value is None else sign * value)
