"""The trivial QA baseline: answer with the context's sentence that shares the most words
with the question (ties to the earlier sentence). No training; scored on the validation
articles of dlkit's `squad` split.

    python scripts/qa_reference/sentence_baseline.py ../shared/data/squad_v1.1/dev-v1.1.json
"""

from __future__ import annotations

import json
import re
import sys

from squad_split import read_split, scores

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def answer(question: str, context: str) -> str:
    asked = words(question)
    sentences = _SENTENCE_END.split(context)
    return max(sentences, key=lambda sentence: len(asked & words(sentence)))


def main() -> None:
    _, validation = read_split(sys.argv[1])
    predictions = {row["id"]: answer(row["question"], row["context"]) for row in validation}
    result = scores(predictions, validation)
    print(json.dumps({"questions": len(validation), **{k: round(v, 2) for k, v in result.items()}}))


if __name__ == "__main__":
    main()
