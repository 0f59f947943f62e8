"""Token classification: a label per word, scored by entity (seqeval) and by token."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from dlkit.families.token_classification.metrics import IGNORE_INDEX, EntityScores
from dlkit.training.task import OptimizerFactory, SchedulerFactory, Task, accuracy


class TokenClassificationTask(Task):
    """Cross-entropy over the pieces that carry a label (`piece_labels` where the data gives
    them, else the first piece of each word); validation and test log entity precision,
    recall and F1 overall and per type, and token accuracy, over each word's first piece, and
    the loss, each over the whole split (exact under DDP)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        label_names: list[str],
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(model, optimizer, scheduler, weight_decay)
        self.label_names = list(label_names)
        stages = ("val", "test")
        self.scores = nn.ModuleDict({s: EntityScores(self.label_names) for s in stages})
        self.losses = nn.ModuleDict({s: MeanMetric() for s in stages})

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the loss over the trained pieces."""
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "piece_labels")}
        logits = self.model(**inputs).logits.float()
        targets = batch.get("piece_labels", batch["labels"])
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
        return logits, loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits, loss = self(batch)
        targets = batch.get("piece_labels", batch["labels"])
        self.log_train(loss, len(targets), lambda: accuracy(logits, targets, IGNORE_INDEX))
        return loss

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        logits, loss = self(batch)
        trained = int((batch.get("piece_labels", batch["labels"]) != IGNORE_INDEX).sum())
        if trained:
            self.losses[stage].update(loss, weight=trained)
        self.scores[stage].update(logits.argmax(-1), batch["labels"])

    def evaluation_epoch_end(self, stage: str) -> None:
        values = {f"{stage}/{k}": v for k, v in self.scores[stage].compute().items()}
        values[f"{stage}/loss"] = self.losses[stage].compute()
        shown = {f"{stage}/f1": values.pop(f"{stage}/f1")}
        self.log_dict(shown, prog_bar=stage == "val")
        self.log_dict(values)
        self.scores[stage].reset()
        self.losses[stage].reset()
