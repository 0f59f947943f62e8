"""Samples per second and wall time of the fit, for results.json."""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import Callback


class Throughput(Callback):
    def __init__(self) -> None:
        self.samples = 0
        self.train_seconds = 0.0
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.samples += len(batch["input_ids"]) * trainer.world_size

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    def _pause(self) -> None:
        if self._start:
            self.train_seconds += time.perf_counter() - self._start
            self._start = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds else 0.0
