"""Route Lightning's log records through Hydra's handlers only (console and the run's
dlkit.log), without duplicates or advertising tips."""

from __future__ import annotations

import logging


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def tame_lightning_logs() -> None:
    for package in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(package).handlers.clear()
        logging.getLogger(package).propagate = True
        # Logger filters are not inherited, so the filter goes where the tips are logged.
        logger = logging.getLogger(f"{package}.utilities.rank_zero")
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())
