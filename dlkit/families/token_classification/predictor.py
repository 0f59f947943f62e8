"""Sentences in, entities out: type, character offsets, word span and score of each.

Pieces are labelled and grouped exactly as transformers' token-classification pipeline does
with aggregation_strategy="simple" (each piece its most likely tag; a B- tag or another type
starts a new entity; an entity's score is its pieces' mean), so `dlkit predict` and
`pipeline(model=<run>/model)` give the same entities; this also runs on ONNX and TorchScript
exports."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.export.hf import label_names
from dlkit.export.runtime import Runtime, softmax
from dlkit.families.family import Predictor


def tagger(runtime: Runtime, tokenizer: Any, folder: Any, info: dict) -> Predictor:
    labels = label_names(folder)

    def tag(rows: list[list[str]]) -> Iterator[dict]:
        texts = [row[0] for row in rows]
        encoded = tokenizer(
            texts,
            truncation=True,
            max_length=info["max_length"],
            padding=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="np",
        )
        feed = {n: np.asarray(encoded[n], dtype=np.int64) for n in runtime.input_names}
        probs = softmax(runtime(feed)["logits"])
        for row, text in enumerate(texts):
            pieces = [
                (
                    labels[int(p.argmax())],
                    float(p.max()),
                    *map(int, encoded["offset_mapping"][row][i]),
                )
                for i, p in enumerate(probs[row])
                if encoded["attention_mask"][row][i] and not encoded["special_tokens_mask"][row][i]
            ]
            yield {"text": text, "entities": entities(text, pieces)}

    return tag


def entities(text: str, pieces: list[tuple[str, float, int, int]]) -> list[dict]:
    """Group (tag, score, start, end) pieces into entities; `words` is the span of
    whitespace-separated words, end exclusive, that an entity touches."""
    groups: list[list[tuple[str, float, int, int]]] = []
    for piece in pieces:
        prefix, kind = _split(piece[0])
        if groups and prefix != "B" and kind == _split(groups[-1][-1][0])[1]:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    out = []
    for group in groups:
        kind = _split(group[0][0])[1]
        if kind == "O":
            continue
        start, end = group[0][2], group[-1][3]
        out.append(
            {
                "type": kind,
                "text": text[start:end],
                "start": start,
                "end": end,
                "words": [bisect.bisect_right(starts, start) - 1, bisect.bisect_left(starts, end)],
                "score": round(float(np.mean([p[1] for p in group])), 6),
            }
        )
    return out


def _split(tag: str) -> tuple[str, str]:
    """The pipeline's reading of a tag: B-X and I-X, anything else a continuation of itself."""
    if tag.startswith(("B-", "I-")):
        return tag[0], tag[2:]
    return "I", tag
