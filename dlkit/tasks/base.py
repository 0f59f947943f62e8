"""What every task shares: the model it wraps, and the optimizer and schedule it builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# Biases and norms are not decayed: the usual BERT recipe.
_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


class Task(L.LightningModule):
    """`optimizer` and `scheduler` are Hydra partials (`_partial_: true`): the task supplies the
    parameters and the number of training steps, which only the Trainer knows."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__()
        # from_pretrained returns a model in eval mode and Lightning keeps submodule modes:
        # without this, a fine-tuned model would train with dropout off.
        self.model = model.train()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.weight_decay = weight_decay

    def log_train_loss(self, loss: torch.Tensor, batch_size: int) -> None:
        """Only on the steps the logger writes (every trainer.log_every_n_steps; the progress
        display shows that value): a `self.log` costs about 0.25 ms, a step's worth of
        overhead that a plain PyTorch loop does not pay. `should_update_logs` is the logger
        connector's own rule (private in Lightning, which pyproject pins to 2.6.x)."""
        if self._trainer is None or self.trainer._logger_connector.should_update_logs:
            self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)

    def write_artifacts(self, run_dir: Path, tokenizer: Any) -> None:
        """Task-specific files for the run folder (generated samples, ...); none by default."""

    def configure_optimizers(self) -> Any:
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for n, p in named if not n.endswith(_NO_DECAY)],
                "weight_decay": self.weight_decay,
            },
            {"params": [p for n, p in named if n.endswith(_NO_DECAY)], "weight_decay": 0.0},
        ]
        optimizer = self.optimizer_factory(groups)
        if self.scheduler_factory is None:
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer, num_training_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
