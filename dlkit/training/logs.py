"""Route Lightning's log records through Hydra's handlers only (console and the run's
dlkit.log), without duplicates, advertising tips or warnings that do not apply to dlkit."""

from __future__ import annotations

import logging
import warnings

# Each is expected in dlkit's use of Lightning, and says nothing the user can act on.
_IGNORED_WARNINGS = (
    "Be aware that when using `ckpt_path`",  # the evaluation Trainer has no checkpoint callbacks
    "Experiment logs directory",  # the CSV logger writes into the run folder Hydra made
    "Precision bf16-mixed is not supported by the model summary",
    ".*isinstance.treespec, LeafSpec",
)


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def tame_lightning_logs() -> None:
    for message in _IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for package in ("lightning.pytorch", "lightning.fabric"):
        # Logger filters are not inherited, so the filter goes where the tips are logged.
        logger = logging.getLogger(f"{package}.utilities.rank_zero")
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())
