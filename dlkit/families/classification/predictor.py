"""Texts (or pairs) in, the label and every label's probability out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlkit.export.hf import label_names
from dlkit.export.runtime import encode, softmax
from dlkit.families.family import Family, Predictor


def classifier(family: Family, folder: Path, info: dict, tokenizer: Any) -> Predictor:
    runtime = family.runtime(folder, tokenizer)
    labels = label_names(folder)

    def classify(texts: list[list[str]]) -> Iterator[dict]:
        probs = softmax(runtime(encode(tokenizer, texts, info["max_length"]))["logits"])
        for row, pair in zip(probs, texts, strict=True):
            record = {"text": pair[0], **({"text_pair": pair[1]} if len(pair) > 1 else {})}
            record["label"] = labels[int(row.argmax())]
            record["scores"] = {
                name: round(float(p), 6) for name, p in zip(labels, row, strict=True)
            }
            yield record

    return classify
