"""Rich progress on a terminal; plain periodic log lines when output goes to a file (clusters)."""

from __future__ import annotations

import logging
import sys
import time

import lightning as L
from lightning.pytorch.callbacks import Callback, ProgressBar, RichProgressBar

log = logging.getLogger("dlkit")


class PlainProgress(ProgressBar):
    """Every `every_n_steps` steps: step, epoch, loss, steps per second and ETA, one line.

    A ProgressBar subclass, so Lightning adds no tqdm bar of its own."""

    def __init__(self, every_n_steps: int = 50) -> None:
        super().__init__()
        self.every = max(1, every_n_steps)
        self.start = 0.0
        self._enabled = True
        self._before: dict[str, object] = {}  # the metric objects before this validation

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.every or not (self._enabled and trainer.is_global_zero):
            return
        elapsed = time.perf_counter() - self.start
        total = trainer.estimated_stepping_batches
        rate = step / elapsed if elapsed else 0.0
        eta = (total - step) / rate if rate else float("nan")
        loss = trainer.callback_metrics.get("train/loss")
        loss_text = f" loss {float(loss):.4f}" if loss is not None else ""
        print(
            f"step {step}/{int(total)} epoch {trainer.current_epoch}{loss_text} "
            f"{rate:.2f} it/s eta {eta:.0f}s",
            flush=True,
        )

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._before = dict(trainer.callback_metrics)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn != "fit" or trainer.sanity_checking or not trainer.is_global_zero:
            return
        # Only what this validation logged: a metric logged every few epochs (generated
        # text's BLEU) keeps its old value in callback_metrics in between.
        shown = {
            k: f"{float(v):.4f}"
            for k, v in trainer.callback_metrics.items()
            if "val/" in k and v is not self._before.get(k)
        }
        print(f"validation at step {trainer.global_step}: {shown}", flush=True)


def progress_bar(
    every_n_steps: int = 50, rich: bool | None = None, refresh_rate: int = 10
) -> Callback:
    """`rich=None` decides by whether stdout is a terminal. The rich bar redraws every
    `refresh_rate` steps: redrawing every step cost a small model 5 to 10% of its speed."""
    use_rich = sys.stdout.isatty() if rich is None else rich
    if use_rich:
        return RichProgressBar(refresh_rate=refresh_rate, leave=True)
    return PlainProgress(every_n_steps)
