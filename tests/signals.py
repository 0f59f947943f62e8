"""A callback the resume tests add from the command line (+callbacks.signal=...): it sends a
signal to its own process at a given step, as a cluster would."""

from __future__ import annotations

import os
import signal
from typing import Any

from lightning.pytorch.callbacks import Callback


class SignalAtStep(Callback):
    def __init__(self, step: int, name: str = "SIGKILL") -> None:
        self.step, self.signal = step, getattr(signal, name)

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)
