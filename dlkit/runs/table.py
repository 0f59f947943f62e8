"""How `dlkit runs` prints: a rich table on a terminal, TSV when piped (one header line, tabs
between cells, so `cut`, `sort` and spreadsheets read it), JSON on request. rich is imported
only for a terminal."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from dlkit.runs.index import Row

_STYLES = {
    "completed": "green",
    "running": "cyan",
    "failed": "red",
    "preempted": "yellow",
    "pruned": "dim",
    "stale": "magenta",
    "unreadable": "bold red",
}

# What a run folder may hold beside its JSON files, as `show` names them.
_ARTEFACTS = ("model/", "checkpoints/last.ckpt", "checkpoints/best.ckpt", "metrics.csv",
              "plots/", "exports/", "eval/")  # fmt: skip


def list_table(rows: Sequence[Row], extra_metric: str | None, as_json: bool, out: TextIO) -> None:
    """The rows of `dlkit runs list`; `extra_metric` (a --sort metric) gets its own column."""
    if as_json:
        json.dump([row.as_json() for row in rows], out, indent=2)
        out.write("\n")
        return
    header = ["run", "experiment", "started", "status", "duration", "steps", "metric", "value"]
    if extra_metric:
        header.append(extra_metric)
    header.append("overrides")
    with_notes = any(row.note for row in rows)
    if with_notes:
        header.append("note")
    tty = out.isatty()
    cells = []
    for row in rows:
        line = [
            row.run,
            row.experiment,
            _time(row.started),
            row.status,
            duration_text(row.duration),
            "" if row.steps is None else str(row.steps),
            row.monitor or "",
            number_text(row.value, tty),
        ]
        if extra_metric:
            line.append(number_text(row.metric(extra_metric), tty))
        line.append(" ".join(row.overrides))
        if with_notes:
            line.append(row.note)
        cells.append(line)
    if tty:
        _rich_table(header, cells, out, status_column=3)
    else:
        write_tsv(header, cells, out)


def show_text(row: Row, record: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    """One screen: the run's row, then every key of run.json and results.json, nested values
    folded onto one line each."""
    lines = [
        f"run         {row.run}  ({row.path})",
        f"status      {row.status}" + (f"  ({row.note})" if row.note else ""),
        f"started     {_time(row.started) or '-'}   duration {duration_text(row.duration) or '-'}"
        f"   steps {'-' if row.steps is None else row.steps}",
    ]
    if row.monitor:
        lines.append(f"monitor     {row.monitor} ({row.mode}) = {number_text(row.value, True)}")
    if row.overrides:
        lines.append(f"overrides   {' '.join(row.overrides)}")
    present = [name for name in _ARTEFACTS if (row.path / name.rstrip("/")).exists()]
    if present:
        lines.append(f"files       {' '.join(present)}")
    for title, data in (("run.json", record), ("results.json", results)):
        if not data:
            continue
        lines.append(f"-- {title}")
        width = max(map(len, data))
        lines += [f"{key.ljust(width)}  {_fold(key, value)}" for key, value in data.items()]
    return lines


def print_lines(lines: Sequence[str], out: TextIO) -> None:
    """On a terminal each line is cut to its width (one screen); piped, lines stay whole."""
    width = shutil.get_terminal_size((200, 40)).columns if out.isatty() else 0
    for line in lines:
        out.write((line if not width or len(line) <= width else line[: width - 1] + "…") + "\n")


def compare_table(
    names: Sequence[str], sections: Sequence[tuple[str, dict[str, list[Any]]]], out: TextIO
) -> None:
    """Key by key, one column per run; each section (metrics, differing config) under its
    own heading row."""
    header = ["key", *names]
    cells: list[list[str]] = []
    for title, keys in sections:
        cells.append([f"[{title}]", *[""] * len(names)])
        for key, values in keys.items():
            cells.append([key, *(_cell(v, out.isatty()) for v in values)])
    if out.isatty():
        _rich_table(header, cells, out, status_column=None)
    else:
        write_tsv(header, cells, out)


def write_tsv(header: Sequence[str], cells: Sequence[Sequence[str]], out: TextIO) -> None:
    for line in (header, *cells):
        out.write("\t".join(" ".join(str(c).split()) for c in line) + "\n")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def number_text(value: float | None, short: bool) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if short else f"{value:.6g}"


def _cell(value: Any, short: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number_text(value, short)
    return value if isinstance(value, str) else json.dumps(value)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _fold(key: str, value: Any) -> str:
    """A nested value on one line: {a: 1, b: {c: 2}} -> `a 1, b (c 2)`; commands joined."""
    if key == "command" and isinstance(value, list):
        return " ".join(map(str, value))
    if key == "data_files" and isinstance(value, dict):  # the checksums are for machines
        value = {
            k: {f: x for f, x in v.items() if f != "sha256"} if isinstance(v, dict) else v
            for k, v in value.items()
        }
    return _compact(value)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        parts = [
            f"{k} ({_compact(v)})" if isinstance(v, (dict, list)) and v else f"{k} {_compact(v)}"
            for k, v in value.items()
        ]
        return ", ".join(parts) or "{}"
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value) or "[]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "null" if value is None else str(value)


def _rich_table(
    header: Sequence[str], cells: Sequence[Sequence[str]], out: TextIO, status_column: int | None
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in header:
        numeric = name in ("duration", "steps", "value") or "/" in name
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for line in cells:
        styled = [Text(c) for c in line]
        if status_column is not None:
            styled[status_column].stylize(_STYLES.get(line[status_column], ""))
        table.add_row(*styled)
    Console(file=out if out is not sys.stdout else None).print(table)
