"""Sequence classification: one label per text or text pair (SST-2, your own labelled files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected
from dlkit.families.family import Family, Outputs, Predictor


class Classification(Family):
    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.classification.predictor import classifier

        return classifier(self, folder, info, tokenizer)

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        from dlkit.families.classification.writer import write

        write(data, dataset, path, item.setting)

    def score(
        self, batches: Sequence[Mapping[str, Any]], outputs: Sequence[Outputs], labels: list[str]
    ) -> float:
        """Accuracy: the share of examples whose highest logit is their label."""
        correct = sum(
            int((out["logits"].argmax(-1) == batch["labels"]).sum())
            for batch, out in zip(batches, outputs, strict=True)
        )
        return correct / sum(len(batch["labels"]) for batch in batches)

    def usage(self) -> str:
        return (
            'print([labels[str(i)] for i in outputs["logits"].argmax(-1)])\n'
            "# scripts/onnx_accuracy.py does this over a whole labelled file."
        )


FAMILY = Classification(
    name="sequence_classification",
    auto_class="AutoModelForSequenceClassification",
    pipeline_task="text-classification",
    data_targets=("dlkit.families.classification.data.TextClassificationData",),
    quality="accuracy",
    models_module="dlkit.families.classification.baselines",
)
