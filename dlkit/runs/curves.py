"""metrics.csv read back as curves: {column: [(step, value), ...]}, with the csv module only,
so `dlkit runs` and the per-run plots need neither pandas nor Lightning."""

from __future__ import annotations

import csv
import math
from pathlib import Path

Curve = list[tuple[int, float]]
# step and epoch are the x axis; final_* is one row of final metrics, not a curve.
_NOT_CURVES = ("step", "epoch")
_FINAL = "final_"


def read_curves(path: Path) -> dict[str, Curve]:
    """Every metric column with the steps where it has a finite value, in file order.
    Rows without a usable step are skipped; a missing file is an empty result."""
    curves: dict[str, Curve] = {}
    if not path.is_file():
        return curves
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle):
            step = _number(row.get("step"))
            if step is None:
                continue
            for name, text in row.items():
                if not name or name in _NOT_CURVES or name.startswith(_FINAL):
                    continue
                value = _number(text)
                if value is not None:
                    curves.setdefault(name, []).append((int(step), value))
    return curves


def column(path: Path, name: str) -> Curve:
    """One column's curve, without converting the others: what `dlkit runs list` needs of an
    unfinished run (its monitored metric so far)."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if name not in header or "step" not in header:
                return []
            at, step_at = header.index(name), header.index("step")
            points = []
            for row in reader:
                if len(row) > at and row[at]:
                    value, step = _number(row[at]), _number(row[step_at])
                    if value is not None and step is not None:
                        points.append((int(step), value))
            return points
    except OSError:
        return []


def last_step(path: Path) -> int | None:
    """The step of metrics.csv's last row, from the file's tail only: cheap for a long run."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line for line in tail.splitlines() if line.strip()]
    if len(lines) < 2 and size <= 4096:  # the header alone
        return None
    step = _number(lines[-1].split(",", 1)[0]) if lines else None
    return None if step is None else int(step)


def best_point(curve: Curve, mode: str) -> tuple[int, float] | None:
    """The (step, value) a checkpoint callback in `mode` (min or max) would call best; the
    earliest on ties, as ModelCheckpoint keeps the first."""
    if not curve:
        return None
    pick = max if mode == "max" else min
    return pick(curve, key=lambda point: point[1])


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
