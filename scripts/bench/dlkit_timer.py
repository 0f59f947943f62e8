"""Added to a dlkit run with +callbacks.bench_timer: the same step record as the other two."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from shared import Recorder


class StepTimer(Callback):
    def __init__(self, out: str) -> None:
        self.out, self.recorder = out, Recorder()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs: Any, *args: Any) -> None:
        self.recorder.loss(outputs["loss"])
        self.recorder.tick()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.recorder.save(self.out)
