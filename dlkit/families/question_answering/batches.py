"""Batches of question windows: model inputs padded, answer positions kept, and for
evaluation splits the per-window record post-processing needs (question id, context
offsets, context, reference answers), which rides along as plain Python objects so that the
task needs nothing but its batches, whichever loader (fit's or evaluate's) feeds it."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from dlkit.data.collate import PadBatch
from dlkit.families.question_answering import WINDOWS  # the evaluation records' batch key

__all__ = ["WINDOWS", "QuestionBatch", "model_inputs"]


class QuestionBatch:
    """`questions`: question id -> (context, reference answer texts) for an evaluation
    split, None for training (whose windows carry no records)."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        questions: dict[str, tuple[str, list[str]]] | None = None,
    ) -> None:
        self.pad = PadBatch(tokenizer)
        self.questions = questions

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        records = []
        inputs = []
        for row in rows:
            row = dict(row)
            example_id, offsets = row.pop("example_id", None), row.pop("offset_mapping", None)
            inputs.append(row)
            if self.questions is not None and example_id is not None:
                context, answers = self.questions[example_id]
                records.append(
                    {
                        "example_id": example_id,
                        "offset_mapping": offsets,
                        "context": context,
                        "answers": answers,
                    }
                )
        batch: dict[str, Any] = self.pad(inputs)
        if records:
            batch[WINDOWS] = records
        return batch


def model_inputs(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors a question answering model takes (answer positions included: with them
    the model computes its loss)."""
    return {k: v for k, v in batch.items() if k != WINDOWS}
