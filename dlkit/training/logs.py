"""Route Lightning's log records through Hydra's handlers only (console and the run's
dlkit.log), without duplicates, advertising tips or warnings that do not apply to dlkit."""

from __future__ import annotations

import logging
import sys
import warnings

# Each is expected in dlkit's use of Lightning, and says nothing the user can act on.
_IGNORED_WARNINGS = (
    "Be aware that when using `ckpt_path`",  # the evaluation Trainer has no checkpoint callbacks
    "Experiment logs directory",  # the CSV logger writes into the run folder Hydra made
    "Precision bf16-mixed is not supported by the model summary",
    ".*isinstance.treespec, LeafSpec",
)


# Lightning's notes on what dlkit set up on purpose: nothing to act on.
_NOTES = (
    "Tip:",
    "`Trainer(val_check_interval=1.0)` was configured",
    "Loading `train_dataloader` to estimate",
    "Restoring states from the checkpoint path",
    "Loaded model weights from the checkpoint",
)


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(note in message for note in _NOTES)


class _Once(logging.Filter):
    """Each Trainer announces the accelerators ("GPU available: False, used: False"); a run
    builds two (training, then the final evaluation), so each line passes once a process."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def tame_lightning_logs() -> None:
    for message in _IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for package in ("lightning.pytorch", "lightning.fabric"):
        # Logger filters are not inherited, so the filters go where the lines are logged.
        logger = logging.getLogger(f"{package}.utilities.rank_zero")
        for kind in (_NoTips, _Once):
            if not any(isinstance(f, kind) for f in logger.filters):
                logger.addFilter(kind())
    _bars_on_terminals_only()


def _bars_on_terminals_only() -> None:
    """transformers' and datasets' progress bars redraw with carriage returns: on a terminal
    that is one line, in a log file it is every redraw joined on one line."""
    if sys.stderr.isatty():
        return
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
