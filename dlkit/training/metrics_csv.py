"""metrics.csv: one row per logged optimizer step, its columns in reading order."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch import Tensor

# step and epoch first, then training, validation, test and final metrics.
_GROUPS = ("step", "epoch", "train/", "val/", "test/", "final_")


class MetricsCSV(Logger):
    """Lightning's CSVLogger writes one row per `log_metrics` call, so the learning rate, the
    loss and a validation of the same step land on separate rows, and it counts steps from 0
    where checkpoints, results.json and the progress line count steps done. Here a step's
    metrics share one row, and `step` is the number of optimizer steps done."""

    def __init__(self, save_dir: str) -> None:
        super().__init__()
        self._save_dir = str(save_dir)
        self._rows: dict[int, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def log_dir(self) -> str:
        return self._save_dir

    @property
    def path(self) -> Path:
        return Path(self._save_dir) / "metrics.csv"

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """The run folder's config.yaml holds them."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """`step` as Lightning gives it: the index of the step just done."""
        done = len(self._rows) if step is None else step + 1
        row = self._rows.setdefault(done, {"step": done})
        row.update({k: v.item() if isinstance(v, Tensor) else v for k, v in metrics.items()})

    @rank_zero_only
    def save(self) -> None:
        """The whole file, replaced atomically: a few hundred rows, and a crash or a full disk
        leaves the previous file."""
        if not self._rows:
            return
        rows = [self._rows[step] for step in sorted(self._rows)]
        columns = sorted({k for row in rows for k in row}, key=_order)
        partial = self.path.with_name("metrics.csv.partial")
        try:
            with open(partial, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.save()

    def rows(self) -> list[dict[str, Any]]:
        """Every row so far, for a checkpoint: a resumed run's file continues these."""
        return [dict(self._rows[step]) for step in sorted(self._rows)]

    def restore(self, rows: list[dict[str, Any]]) -> None:
        self._rows = {int(row["step"]): dict(row) for row in rows}


def _order(column: str) -> tuple[int, str]:
    group = next((i for i, g in enumerate(_GROUPS) if column.startswith(g)), len(_GROUPS))
    return group, column
