"""SQuAD v1.1's official metrics (evaluate-v1.1.py): exact match and token F1 after the
official normalisation (lower case, punctuation and the articles a/an/the removed, whitespace
collapsed), each the best over a question's reference answers, and over a dataset the mean
as a percentage. Kept exactly as the official script, so scores compare with published ones."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop articles, collapse whitespace (in the official
    order: punctuation goes before articles are matched)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def f1(prediction: str, reference: str) -> float:
    """Token overlap F1 of the normalised answers; 0 where nothing is shared (as the official
    script, which also gives 0 when both are empty after normalisation)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(reference).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_over_references(metric, prediction: str, references: Sequence[str]) -> float:
    """A question's score: the best over its reference answers (SQuAD's dev set has up to 3)."""
    return max(metric(prediction, reference) for reference in references)


def squad_scores(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Exact match and F1 in percent over every question of `references` (id -> answer
    texts); a question without a prediction scores 0, as in the official script."""
    if not references:
        raise ValueError("No reference answers to score against.")
    em = total_f1 = 0.0
    for qid, answers in references.items():
        if qid not in predictions:
            continue
        em += best_over_references(exact_match, predictions[qid], answers)
        total_f1 += best_over_references(f1, predictions[qid], answers)
    count = len(references)
    return {"exact_match": 100.0 * em / count, "f1": 100.0 * total_f1 / count}
