"""Questions and contexts in, answers out: the answer's text, its characters in the context
(`end` exclusive) and a score, for a model or any export folder.

A long context is split into windows as in training, with the run's data.max_length and
data.doc_stride (a run's config, or export.json, records them). The answer is the one
evaluation scores: `postprocess_predictions` over all windows (the n best starts and ends
of each, the pair with the highest start + end logit). Its score is what transformers' (4.x)
question-answering pipeline reported for a span: start probability times end probability,
each a softmax over its window's context tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.export.runtime import Runtime
from dlkit.families.family import Predictor
from dlkit.families.question_answering.features import DOC_STRIDE, prepare_eval_features
from dlkit.families.question_answering.postprocess import (
    MAX_ANSWER_LENGTH,
    N_BEST_SIZE,
    postprocess_predictions,
)


def answerer(runtime: Runtime, tokenizer: Any, info: dict, settings: Any) -> Predictor:
    max_length = int(info["max_length"])
    # Folders from before doc_stride was recorded: the default, where it fits the length.
    stride = int(info.get("doc_stride") or min(DOC_STRIDE, max_length // 2))
    longest = int(
        _get(settings, "max_answer_length") or info.get("max_answer_length") or MAX_ANSWER_LENGTH
    )
    n_best = int(info.get("n_best_size") or N_BEST_SIZE)

    def answer(rows: list[list[str]]) -> Iterator[dict]:
        examples = {
            "id": [str(i) for i in range(len(rows))],
            "question": [row[0] for row in rows],
            "context": [row[1] for row in rows],
        }
        features = prepare_eval_features(examples, tokenizer, max_length, stride)
        starts, ends = _logits(runtime, tokenizer, features)
        windows = [
            {"example_id": qid, "offset_mapping": offsets}
            for qid, offsets in zip(features["example_id"], features["offset_mapping"], strict=True)
        ]
        records = [
            {"id": i, "context": c}
            for i, c in zip(examples["id"], examples["context"], strict=True)
        ]
        best = postprocess_predictions(records, windows, starts, ends, n_best, longest)
        for qid in examples["id"]:
            span = best[qid][0]
            score = 0.0
            if span.feature >= 0:
                context = np.array([o is not None for o in windows[span.feature]["offset_mapping"]])
                first, last = span.tokens
                start_p = _log_softmax(starts[span.feature], context)[first]
                end_p = _log_softmax(ends[span.feature], context)[last]
                score = round(float(np.exp(start_p + end_p)), 6)
            yield {"answer": span.text, "score": score, "start": span.start, "end": span.end}

    return answer


def _logits(
    runtime: Runtime, tokenizer: Any, features: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each window's start and end logits, without its padding."""
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
    lengths = [len(offsets) for offsets in features["offset_mapping"]]
    starts = [out["start_logits"][i, :n] for i, n in enumerate(lengths)]
    ends = [out["end_logits"][i, :n] for i, n in enumerate(lengths)]
    return starts, ends


def _log_softmax(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    masked = np.where(keep, logits.astype(np.float64), -np.inf)
    top = masked.max()
    return masked - top - np.log(np.exp(masked - top).sum())


def _get(settings: Any, key: str) -> Any:
    return settings.get(key) if hasattr(settings, "get") else None
