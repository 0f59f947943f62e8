"""What Lightning's checkpoint leaves out but an exact resume needs: every RNG state and the
metrics logged so far."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from dlkit.training.metrics_csv import MetricsCSV


class ResumeState(Callback):
    @property
    def state_key(self) -> str:
        return "dlkit"

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        name, keys, position, has_gauss, gauss = np.random.get_state()
        torch_state = torch.get_rng_state()
        checkpoint["dlkit_rng"] = {  # plain values and tensors: loadable with weights_only
            "python": random.getstate(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
            "torch": torch_state,
            # Each process draws its own dropout masks: keep every process's generator.
            "torch_per_rank": trainer.strategy.all_gather(torch_state.long()).reshape(
                trainer.world_size, -1
            ),
        }
        logger = _metrics_logger(trainer)
        checkpoint["dlkit_metrics"] = logger.rows() if logger else []

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._pending = checkpoint

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Restored here, the last moment before the first batch, so nothing between loading
        and training draws from the generators."""
        checkpoint = getattr(self, "_pending", None)
        if checkpoint is None:
            return
        self._pending = None
        _restore_loader_position(trainer, checkpoint)
        rng = checkpoint.get("dlkit_rng")
        if rng:
            random.setstate(rng["python"])
            name, keys, position, has_gauss, gauss = rng["numpy"]
            np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
            per_rank = rng.get("torch_per_rank")
            if per_rank is not None and len(per_rank) == trainer.world_size:
                torch.set_rng_state(per_rank[trainer.global_rank].to(torch.uint8))
            else:
                torch.set_rng_state(rng["torch"])
        logger = _metrics_logger(trainer)
        if logger is not None and checkpoint.get("dlkit_metrics"):
            logger.restore(checkpoint["dlkit_metrics"])
            for tracker in trainer.loggers:  # a tracker that may have lost a killed run's tail
                replay = getattr(tracker, "replay_restored", None)
                if callable(replay):
                    replay(checkpoint["dlkit_metrics"])


def _restore_loader_position(trainer: L.Trainer, checkpoint: dict[str, Any]) -> None:
    """Lightning restores a stateful loader only if the loader was built after the checkpoint
    was read; a scheduler that asks for `estimated_stepping_batches` builds it before. Setting
    the position again is harmless: the state is assigned, not added."""
    fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
    states = fit_loop.get("state_dict", {}).get("combined_loader") or []
    loader = trainer.train_dataloader
    if states and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(states[0])


def _metrics_logger(trainer: L.Trainer) -> MetricsCSV | None:
    """Only rank zero writes metrics.csv."""
    if not trainer.is_global_zero:
        return None
    return next((lg for lg in trainer.loggers if isinstance(lg, MetricsCSV)), None)
