"""What Lightning's checkpoint leaves out but an exact resume needs: every RNG state and the
metrics logged so far (Lightning's CSV writer deletes metrics.csv when it starts)."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger


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
        checkpoint["dlkit_metrics"] = _csv_rows(trainer)

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
        writer = _csv_writer(trainer)
        if writer is not None and checkpoint.get("dlkit_metrics"):
            rows = checkpoint["dlkit_metrics"]
            writer.metrics_keys = sorted({k for row in rows for k in row})
            writer.metrics[:0] = rows


def _restore_loader_position(trainer: L.Trainer, checkpoint: dict[str, Any]) -> None:
    """Lightning restores a stateful loader only if the loader was built after the checkpoint
    was read; a scheduler that asks for `estimated_stepping_batches` builds it before. Setting
    the position again is harmless: the state is assigned, not added."""
    fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
    states = fit_loop.get("state_dict", {}).get("combined_loader") or []
    loader = trainer.train_dataloader
    if states and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(states[0])


def _csv_writer(trainer: L.Trainer) -> Any:
    """Only rank zero writes metrics.csv (other ranks hold a stand-in)."""
    if not trainer.is_global_zero:
        return None
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):
            return logger.experiment
    return None


def _csv_rows(trainer: L.Trainer) -> list[dict[str, Any]]:
    """Rows already written to metrics.csv plus those still buffered, in logged order."""
    writer = _csv_writer(trainer)
    if writer is None:
        return []
    rows: list[dict[str, Any]] = []
    path = Path(writer.metrics_file_path)
    if path.is_file():
        with open(path, newline="") as handle:
            rows = [
                {k: _number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)
            ]
    return rows + [dict(row) for row in writer.metrics]


def _number(text: str) -> float | int | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
