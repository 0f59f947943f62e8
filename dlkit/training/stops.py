"""How a run stops: on its last step with a validation (so a short run has a best
checkpoint), on a pre-emption signal (save, then exit with a code the job script can requeue
on) and on a non-finite loss (stop before it is saved)."""

from __future__ import annotations

import logging
import math
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from dlkit.errors import NonFiniteLoss, Preempted

log = logging.getLogger("dlkit")
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)  # SLURM sends SIGUSR1 before the time limit


class ValidateAtEnd(Callback):
    """A run that reaches trainer.max_steps between validations (a smoke test, a short
    pretraining) would end unvalidated: no best.ckpt, and Lightning's warning that the
    monitored metric is missing. Asking to stop at the last step makes Lightning validate
    there, by its rule for early stopping."""

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class Preemption(Callback):
    """The handler only sets a flag; the checkpoint is written at the next step boundary,
    where model, optimizer and data position agree."""

    def __init__(self, checkpoint: str | Path) -> None:
        self.checkpoint = Path(checkpoint)
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Installed after Lightning's own handlers, so these win.
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        # Every rank stops at the same step, whichever of them got the signal.
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        name = signal.Signals(self.received or signal.SIGTERM).name
        trainer.save_checkpoint(self.checkpoint, weights_only=False)
        log.warning("%s received: saved %s at step %d", name, self.checkpoint, trainer.global_step)
        raise Preempted(
            f"Stopped by {name} at step {trainer.global_step}; checkpoint {self.checkpoint}. "
            "Continue with the same command and resume=auto (or resume=<run folder>)."
        )


class FiniteLoss(Callback):
    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(
                f"The training loss is {float(loss)} at step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}); the last good checkpoint is kept. Lower optimizer.lr, "
                "set trainer.gradient_clip_val, or use trainer.precision=32-true."
            )
