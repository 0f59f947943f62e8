"""From start/end logits per window back to an answer per question, as transformers' utils_qa.py
does for SQuAD v1.1: the `n_best_size` best starts and ends of every window of a question are
paired, pairs that leave the context, run backwards or exceed `max_answer_length` tokens are
dropped, and the pair with the highest start + end logit over all windows gives the answer's
characters. Pure numpy, so it runs the same wherever the logits were computed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

N_BEST_SIZE = 20
MAX_ANSWER_LENGTH = 30


@dataclass(frozen=True)
class Span:
    """A candidate answer: its text, score (start + end logit) and characters in the context
    (`end` exclusive), the window it came from and its first and last token there."""

    text: str
    score: float
    start: int
    end: int
    feature: int
    tokens: tuple[int, int] = (-1, -1)


NO_ANSWER = Span("", 0.0, 0, 0, -1)  # no window had a valid span (e.g. an empty context)


def postprocess_predictions(
    examples: Sequence[Mapping],
    features: Sequence[Mapping],
    start_logits: Sequence[np.ndarray] | np.ndarray,
    end_logits: Sequence[np.ndarray] | np.ndarray,
    n_best_size: int = N_BEST_SIZE,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> dict[str, list[Span]]:
    """Each example's n-best spans over all its windows, best first (empty lists become
    [NO_ANSWER]). `examples` need id and context; `features` (one per window, in the order
    of the logits) need example_id and offset_mapping, None outside the context as
    `prepare_eval_features` leaves it. Logits may be padded past a window's length."""
    if len(features) != len(start_logits) or len(features) != len(end_logits):
        raise ValueError(
            f"{len(features)} features but {len(start_logits)} start and {len(end_logits)} end "
            "logit rows; there must be one row per feature."
        )
    windows: dict[str, list[int]] = defaultdict(list)
    for index, feature in enumerate(features):
        windows[str(feature["example_id"])].append(index)
    predictions = {}
    for example in examples:
        context = example["context"]
        spans = []
        for index in windows.get(str(example["id"]), []):
            spans += _window_spans(
                context,
                features[index]["offset_mapping"],
                np.asarray(start_logits[index]),
                np.asarray(end_logits[index]),
                index,
                n_best_size,
                max_answer_length,
            )
        spans.sort(key=lambda s: s.score, reverse=True)
        predictions[str(example["id"])] = spans[:n_best_size] or [NO_ANSWER]
    return predictions


def window_scores(
    windows: Sequence[Mapping],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    n_best_size: int = N_BEST_SIZE,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> dict[str, float]:
    """Exact match and F1 (percent) over the questions these windows belong to: `windows`
    are evaluation records (example_id, offset_mapping, context, answers), one per logit
    row. What validation logs and what an int8 export is judged by."""
    from dlkit.families.question_answering.metrics import squad_scores

    return squad_scores(
        *window_answers(windows, start_logits, end_logits, n_best_size, max_answer_length)
    )


def window_answers(
    windows: Sequence[Mapping],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    n_best_size: int = N_BEST_SIZE,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each question's best answer ({id: text}, the official predictions file) and its
    reference answers, from its windows' logits."""
    examples: dict[str, dict] = {}
    for record in windows:
        examples.setdefault(record["example_id"], {"id": record["example_id"], **record})
    predictions = postprocess_predictions(
        list(examples.values()), windows, start_logits, end_logits, n_best_size, max_answer_length
    )
    references = {qid: example["answers"] for qid, example in examples.items()}
    return best_answers(predictions), references


def best_answers(predictions: Mapping[str, list[Span]]) -> dict[str, str]:
    """The best span's text per example id: what the SQuAD metrics score."""
    return {qid: spans[0].text for qid, spans in predictions.items()}


def _window_spans(
    context: str,
    offsets: Sequence[Sequence[int] | None],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    feature: int,
    n_best_size: int,
    max_answer_length: int,
) -> list[Span]:
    """Valid pairs of the window's n best starts and n best ends."""
    length = min(len(offsets), len(start_logits), len(end_logits))
    start_logits, end_logits = start_logits[:length], end_logits[:length]
    # Stable sort of the negated logits: ties keep the earlier token first.
    best_starts = np.argsort(-start_logits, kind="stable")[:n_best_size]
    best_ends = np.argsort(-end_logits, kind="stable")[:n_best_size]
    spans = []
    for s in best_starts.tolist():
        if offsets[s] is None:
            continue
        for e in best_ends.tolist():
            if offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                continue
            first, last = int(offsets[s][0]), int(offsets[e][1])
            score = float(start_logits[s] + end_logits[e])
            spans.append(Span(context[first:last], score, first, last, feature, (s, e)))
    return spans
