"""What the QA reference scripts share: the SQuAD file split by article as dlkit's `squad`
data config splits it (the last 10 articles validate), and the official v1.1 metrics, written
here again from evaluate-v1.1.py so the references do not lean on dlkit's own code."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from typing import Any

VALIDATION_ARTICLES = 10


def read_split(path: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, validation) rows {id, question, context, answers: {text, answer_start}}."""
    with open(path, encoding="utf-8") as handle:
        articles = json.load(handle)["data"]

    def rows(part: list[dict]) -> list[dict[str, Any]]:
        return [
            {
                "id": qa["id"],
                "question": qa["question"],
                "context": paragraph["context"],
                "answers": {
                    "text": [a["text"] for a in qa["answers"]],
                    "answer_start": [a["answer_start"] for a in qa["answers"]],
                },
            }
            for article in part
            for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]
        ]

    return rows(articles[:-VALIDATION_ARTICLES]), rows(articles[-VALIDATION_ARTICLES:])


def _normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _f1(prediction: str, truth: str) -> float:
    predicted, expected = _normalize(prediction).split(), _normalize(truth).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def scores(predictions: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, float]:
    """Exact match and F1 in percent, each the best over a question's answers."""
    em = f1 = 0.0
    for row in rows:
        answer, truths = predictions.get(row["id"], ""), row["answers"]["text"]
        em += max(float(_normalize(answer) == _normalize(t)) for t in truths)
        f1 += max(_f1(answer, t) for t in truths)
    return {"exact_match": 100 * em / len(rows), "f1": 100 * f1 / len(rows)}
