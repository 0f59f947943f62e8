"""Extractive question answering: a start and an end logit per token, scored per question
with SQuAD's exact match and F1 after mapping the best span back to context characters."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from dlkit.errors import ConfigError
from dlkit.families.question_answering.batches import WINDOWS, model_inputs
from dlkit.families.question_answering.metrics import squad_scores
from dlkit.families.question_answering.postprocess import window_answers
from dlkit.training.task import OptimizerFactory, SchedulerFactory, Task


class QuestionAnsweringTask(Task):
    """The loss is the model's own: the mean of the start and the end token's cross-entropy
    (a window without the whole answer points both at its CLS token). Validation and test
    keep every window's logits and, at the split's end, pick each question's best span over
    its windows (`postprocess_predictions`) and log exact match and F1 in percent, as the
    official SQuAD script reports them, and the loss.

    Single process only (refused under DDP): each process would see a share of the windows,
    and a question's windows could fall to different processes."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
        n_best_size: int = 20,
        max_answer_length: int = 30,
    ) -> None:
        super().__init__(model, optimizer, scheduler, weight_decay)
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.losses = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.windows: dict[str, list[dict[str, Any]]] = {"val": [], "test": []}
        self.logits: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"val": [], "test": []}
        self.answers: dict[str, str] = {}  # the last evaluated split's {id: answer}

    def setup(self, stage: str) -> None:
        if self._trainer is not None and self.trainer.world_size > 1:
            raise ConfigError(
                "Question answering scores a question over all its windows, which DDP would "
                f"spread over {self.trainer.world_size} processes: run it on one device "
                "(hardware=gpu or hardware=cpu)."
            )

    def forward(self, batch: dict[str, Any]) -> Any:
        return self.model(**model_inputs(batch))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        starts, ends = batch["start_positions"], batch["end_positions"]
        self.log_train(out.loss, len(starts), lambda: _both_right(out, starts, ends))
        return out.loss

    def evaluation_step(self, batch: dict[str, Any], stage: str) -> None:
        out = self(batch)
        self.losses[stage].update(out.loss, weight=len(batch["input_ids"]))
        records = batch.get(WINDOWS)
        if records is None:
            return  # a split without evaluation records: loss only
        starts = out.start_logits.float().cpu().numpy()
        ends = out.end_logits.float().cpu().numpy()
        for i, record in enumerate(records):
            length = len(record["offset_mapping"])
            self.windows[stage].append(record)
            self.logits[stage].append((starts[i, :length], ends[i, :length]))

    def evaluation_epoch_end(self, stage: str) -> None:
        values = {f"{stage}/loss": self.losses[stage].compute()}
        if self.windows[stage]:
            scores = self.squad(stage)
            values[f"{stage}/exact_match"] = scores["exact_match"]
            shown = {f"{stage}/f1": scores["f1"]}
            self.log_dict(shown, prog_bar=stage == "val")
        self.log_dict(values)
        self._reset(stage)

    def squad(self, stage: str) -> dict[str, float]:
        """Exact match and F1 (percent) over the questions whose windows `stage` saw; their
        answers are kept for `predictions`."""
        self.answers, references = window_answers(
            self.windows[stage],
            [s for s, _ in self.logits[stage]],
            [e for _, e in self.logits[stage]],
            self.n_best_size,
            self.max_answer_length,
        )
        return squad_scores(self.answers, references)

    def predictions(self) -> dict[str, str]:
        return dict(self.answers)

    def _reset(self, stage: str) -> None:
        self.losses[stage].reset()
        self.windows[stage] = []
        self.logits[stage] = []

    def on_validation_epoch_start(self) -> None:
        self._reset("val")  # an interrupted pass (a sanity check) leaves nothing behind

    def on_test_epoch_start(self) -> None:
        self._reset("test")


def _both_right(out: Any, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Share of windows whose start and end argmax are both the answer's tokens."""
    right = (out.start_logits.argmax(-1) == starts) & (out.end_logits.argmax(-1) == ends)
    return right.float().mean()
