"""Token classification: a label per word, such as named entities (CoNLL-2003)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected
from dlkit.families.family import Family, Outputs, Predictor


class TokenClassification(Family):
    def prepare_model(self, model: Any, tokenizer: Any) -> Any:
        """dlkit's BiLSTM tagger reads each piece's spelling, known once the tokenizer is."""
        if hasattr(model, "set_spellings"):
            model.set_spellings(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))
        return model

    def input_columns(self, data: Mapping[str, Any]) -> list[str]:
        return [str(data.get("tokens_column") or "tokens")]

    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.token_classification.predictor import tagger

        return tagger(self.runtime(folder, tokenizer), tokenizer, folder, info)

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        from dlkit.families.token_classification.writer import write

        write(data, dataset, path, item.setting)

    def score(
        self, batches: Sequence[Mapping[str, Any]], outputs: Sequence[Outputs], labels: list[str]
    ) -> float:
        """Entity F1 (seqeval) over the scored pieces (the first of each word)."""
        from dlkit.families.token_classification.metrics import IGNORE_INDEX, entity_scores

        gold, pred = [], []
        for batch, out in zip(batches, outputs, strict=True):
            predicted = out["logits"].argmax(-1)
            for truth, row in zip(batch["labels"], predicted, strict=True):
                keep = truth != IGNORE_INDEX
                gold.append([labels[i] for i in truth[keep]])
                pred.append([labels[i] for i in row[keep]])
        return entity_scores(gold, pred)["f1"]

    def usage(self) -> str:
        return (
            'tags = [[labels[str(i)] for i in row] for row in outputs["logits"].argmax(-1)]\n'
            "print(tags)  # one tag per word piece; dlkit predict groups them into entities"
        )


FAMILY = TokenClassification(
    name="token_classification",
    auto_class="AutoModelForTokenClassification",
    pipeline_task="token-classification",
    data_targets=("dlkit.families.token_classification.data.TokenClassificationData",),
    quality="entity_f1",
    models_module="dlkit.families.token_classification.tagger",
)
