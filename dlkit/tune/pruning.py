"""The Lightning callback that reports each validation to the Optuna trial and stops a trial
the pruner gives up on.

Our own rather than optuna-integration's PyTorchLightningPruningCallback: that one is another
package (optuna-integration[pytorch_lightning], which tracks Lightning's releases separately)
and takes the trial object, while dlkit builds its callbacks from the config
(callbacks.<name>._target_). The trial travels as a key into `_TRIALS`, the trials this
process is running; a trial's config.yaml reused outside `dlkit tune` finds no trial there
and reports nothing."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

_TRIALS: dict[str, Any] = {}  # key -> optuna.Trial of a trial running in this process


def register(key: str, trial: Any) -> None:
    _TRIALS[key] = trial


def unregister(key: str) -> None:
    _TRIALS.pop(key, None)


class Pruning(Callback):
    """After every validation: report `monitor` at the global step, raise optuna.TrialPruned
    when the pruner says so. The step and value it stopped at are kept on the exception's
    trial (`pruned_at`) for the run folder's record."""

    def __init__(self, key: str, monitor: str) -> None:
        self.key, self.monitor = key, monitor
        self._reported: set[int] = set()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trial = _TRIALS.get(self.key)
        if trial is None or trainer.sanity_checking or not trainer.is_global_zero:
            return  # a config reused outside `dlkit tune`: nothing to report to
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        step = int(trainer.global_step)
        if not math.isfinite(value):
            return  # FiniteLoss stops such a run; Optuna refuses to store the value
        if step in self._reported:
            return  # validated twice at one step (ValidateAtEnd): reported already
        self._reported.add(step)
        trial.report(value, step)
        if trial.should_prune():
            import optuna

            trial.set_user_attr("pruned_at", {"step": step, self.monitor: value})
            raise optuna.TrialPruned(f"pruned at step {step}: {self.monitor}={value:.4f}")


def pruning(key: str, monitor: str) -> Callback:
    """callbacks.tune_pruning's target."""
    return Pruning(key, monitor)
