"""Sequence classification: single sentences or sentence pairs, any number of labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from dlkit.training.task import OptimizerFactory, SchedulerFactory, Task, accuracy


class TextClassificationTask(Task):
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
        n = len(self.label_names)
        metrics = MetricCollection(
            {
                "acc": MulticlassAccuracy(n, average="micro"),
                "f1": MulticlassF1Score(n, average="macro"),
            }
        )
        # One collection per stage: metrics state must not leak between validate and test.
        self.metrics = nn.ModuleDict(
            {stage: metrics.clone(prefix=f"{stage}/") for stage in ("val", "test")}
        )
        # Example-weighted and reduced once at the epoch's end: exact under DDP, where the
        # processes may hold different numbers of batches.
        self.losses = nn.ModuleDict({stage: MeanMetric() for stage in ("val", "test")})

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return self.model(**inputs).logits

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits, labels = self(batch).float(), batch["labels"]
        loss = F.cross_entropy(logits, labels)
        self.log_train(loss, len(labels), lambda: accuracy(logits, labels))
        return loss

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        logits = self(batch).float()
        labels = batch["labels"]
        size = len(labels)
        self.losses[stage].update(F.cross_entropy(logits, labels), weight=size)
        self.log(f"{stage}/loss", self.losses[stage], batch_size=size)
        metrics = self.metrics[stage]
        metrics.update(logits, labels)
        self.log_dict(metrics, batch_size=size, prog_bar=stage == "val")
