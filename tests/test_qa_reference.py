"""The QA reference points the README compares bert_qa with: the same article split as the
`squad` config, the same official scores, and the trivial sentence baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlkit.families.question_answering.metrics import squad_scores
from dlkit.families.question_answering.squad import read_squad_json, split_by_article

HERE = Path(__file__).resolve().parents[1] / "scripts" / "qa_reference"
sys.path.insert(0, str(HERE))

from squad_split import read_split, scores  # noqa: E402


def _squad(path: Path, articles: int) -> Path:
    data = []
    for a in range(articles):
        context = f"Article {a} is here. The capital of land {a} is city {a}. It rains often."
        start = context.index(f"city {a}")
        data.append(
            {
                "title": f"T{a}",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": f"q{a}",
                                "question": f"What is the capital of land {a}?",
                                "answers": [{"text": f"city {a}", "answer_start": start}],
                            }
                        ],
                    }
                ],
            }
        )
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def test_the_reference_split_is_dlkits(tmp_path) -> None:
    path = _squad(tmp_path / "dev.json", 12)
    train, validation = read_split(str(path))
    ours_train, ours_validation = split_by_article(read_squad_json(path), 10)
    assert [r["id"] for r in train] == [r["id"] for r in ours_train.rows] == ["q0", "q1"]
    assert [r["id"] for r in validation] == [r["id"] for r in ours_validation.rows]


@pytest.mark.parametrize(
    ("prediction", "truth"),
    [("The City!", "city"), ("a cat sat", "the cat sat down"), ("", "x"), ("x y", "y x")],
)
def test_the_reference_scores_are_the_official_ones(prediction: str, truth: str) -> None:
    rows = [{"id": "q", "answers": {"text": [truth]}}]
    assert scores({"q": prediction}, rows) == pytest.approx(
        squad_scores({"q": prediction}, {"q": [truth]})
    )


def test_the_sentence_baseline_answers_with_the_best_overlapping_sentence(tmp_path) -> None:
    path = _squad(tmp_path / "dev.json", 12)
    done = subprocess.run(
        [sys.executable, str(HERE / "sentence_baseline.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    # "The capital of land N is city N." shares most words; normalised it has 7 words, 2 of
    # them the answer's ("city N"): precision 2/7, recall 1.
    assert result["questions"] == 10
    assert result["exact_match"] == 0
    assert result["f1"] == pytest.approx(100 * 2 * (2 / 7) / (2 / 7 + 1), abs=0.01)
