"""Questions and contexts in, answers out: the answer's text, its characters in the context
(`end` exclusive) and a score, for a model or any export folder.

A long context is split into windows as in training. The score is what transformers' (4.x)
question-answering pipeline reported: start probability times end probability, each a
softmax over the window's context tokens; the answer is the span with the highest score over
all windows (SQuAD v1.1: there is always one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.export.runtime import Runtime
from dlkit.families.family import Predictor
from dlkit.families.question_answering.features import DOC_STRIDE, prepare_eval_features
from dlkit.families.question_answering.postprocess import MAX_ANSWER_LENGTH, postprocess_predictions


def answerer(runtime: Runtime, tokenizer: Any, info: dict, settings: Any) -> Predictor:
    max_length = int(info["max_length"])
    # export.json and run folders record max_length only; a stride that fits any length.
    stride = min(int(info.get("doc_stride") or DOC_STRIDE), max_length // 2)
    longest = int(_get(settings, "max_answer_length") or MAX_ANSWER_LENGTH)

    def answer(rows: list[list[str]]) -> Iterator[dict]:
        examples = {
            "id": [str(i) for i in range(len(rows))],
            "question": [row[0] for row in rows],
            "context": [row[1] for row in rows],
        }
        features = prepare_eval_features(examples, tokenizer, max_length, stride)
        starts, ends = _log_probabilities(runtime, tokenizer, features)
        windows = [
            {"example_id": qid, "offset_mapping": offsets}
            for qid, offsets in zip(features["example_id"], features["offset_mapping"], strict=True)
        ]
        records = [
            {"id": i, "context": c}
            for i, c in zip(examples["id"], examples["context"], strict=True)
        ]
        best = postprocess_predictions(records, windows, starts, ends, max_answer_length=longest)
        for qid in examples["id"]:
            span = best[qid][0]
            yield {
                "answer": span.text,
                "score": round(float(np.exp(span.score)), 6) if span.feature >= 0 else 0.0,
                "start": span.start,
                "end": span.end,
            }

    return answer


def _log_probabilities(
    runtime: Runtime, tokenizer: Any, features: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each window's start and end log-probabilities over its context tokens (-inf
    elsewhere), so that a span's start + end is its log score, comparable across windows."""
    ids = features["input_ids"]
    width = max(len(row) for row in ids)
    pad = tokenizer.pad_token_id or 0
    feed = {
        "input_ids": np.array([row + [pad] * (width - len(row)) for row in ids], dtype=np.int64),
        "attention_mask": np.array(
            [[1] * len(row) + [0] * (width - len(row)) for row in ids], dtype=np.int64
        ),
    }
    if "token_type_ids" in features:
        types = features["token_type_ids"]
        feed["token_type_ids"] = np.array(
            [row + [0] * (width - len(row)) for row in types], dtype=np.int64
        )
    out = runtime({n: feed[n] for n in runtime.input_names if n in feed})
    starts, ends = [], []
    for i, offsets in enumerate(features["offset_mapping"]):
        context = np.array([o is not None for o in offsets])
        starts.append(_log_softmax(out["start_logits"][i, : len(offsets)], context))
        ends.append(_log_softmax(out["end_logits"][i, : len(offsets)], context))
    return starts, ends


def _log_softmax(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    masked = np.where(keep, logits.astype(np.float64), -np.inf)
    top = masked.max()
    return masked - top - np.log(np.exp(masked - top).sum())


def _get(settings: Any, key: str) -> Any:
    return settings.get(key) if hasattr(settings, "get") else None
