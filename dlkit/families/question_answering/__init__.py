"""Extractive question answering (SQuAD v1.1): a span of the context as the answer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlkit.families.family import Family, Predictor

# The columns `dlkit predict` reads from a jsonl (or csv) file: one question and its context.
INPUT_COLUMNS = ["question", "context"]


class QuestionAnswering(Family):
    def input_columns(self, data: Mapping[str, Any]) -> list[str]:
        return list(INPUT_COLUMNS)

    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.question_answering.predictor import answerer

        return answerer(self.runtime(folder, tokenizer), tokenizer, info, settings)

    def usage(self) -> str:
        return (
            'start, end = outputs["start_logits"].argmax(-1), outputs["end_logits"].argmax(-1)\n'
            "print(start, end)  # token span per row; dlkit predict maps it to context text"
        )


FAMILY = QuestionAnswering(
    name="question_answering",
    auto_class="AutoModelForQuestionAnswering",
    # None: transformers 5 removed its question-answering pipeline; dlkit predict serves it.
    pipeline_task=None,
    data_targets=("dlkit.families.question_answering.data.QuestionAnsweringData",),
    outputs=("start_logits", "end_logits"),
)
