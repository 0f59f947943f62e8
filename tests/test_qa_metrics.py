"""SQuAD v1.1 exact match and F1 on hand-computed cases."""

from __future__ import annotations

import pytest

from dlkit.families.question_answering.metrics import (
    best_over_references,
    exact_match,
    f1,
    normalize_answer,
    squad_scores,
)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an   apple,  a pear. ", "apple pear"),
        ("Denver Broncos!", "denver broncos"),
        ("theatre", "theatre"),  # "the" only as a word
        ("A-ha", "aha"),  # punctuation goes first, so "a-ha" is one word, not an article
        ("", ""),
    ],
)
def test_normalize_answer(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_exact_match_ignores_case_articles_and_punctuation() -> None:
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Denver", "Denver Broncos") == 0.0


def test_f1_hand_computed() -> None:
    # "denver broncos" vs "broncos of denver": 2 shared, precision 2/2, recall 2/3 -> 0.8
    assert f1("The Denver Broncos", "Broncos of Denver") == pytest.approx(0.8)
    # shared tokens counted with multiplicity: x and y once each -> p=2/3, r=2/3
    assert f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1("cat", "dog") == 0.0
    assert f1("", "Denver") == 0.0
    assert f1("the", "a") == 0.0  # both empty after normalisation: 0, as the official script


def test_best_over_several_references() -> None:
    references = ["Santa Clara, California", "Levi's Stadium", "Levi's Stadium in Santa Clara"]
    assert best_over_references(exact_match, "levis stadium", references) == 1.0
    # "santa clara": vs ref 1 p=1 r=2/3 -> 0.8; vs ref 3 p=1 r=2/5 -> 4/7; best 0.8
    assert best_over_references(f1, "Santa Clara", references) == pytest.approx(0.8)


def test_squad_scores_are_percentages_and_missing_predictions_score_zero() -> None:
    references = {"a": ["Denver Broncos"], "b": ["1990", "the 1990s"], "c": ["gold"]}
    predictions = {"a": "the Denver Broncos", "b": "1990s"}  # c unanswered
    scores = squad_scores(predictions, references)
    # EM: a 1, b 1 (vs "the 1990s"), c 0 -> 2/3; F1: 1, 1, 0 -> 2/3
    assert scores["exact_match"] == pytest.approx(200 / 3)
    assert scores["f1"] == pytest.approx(200 / 3)
    partial = squad_scores({"a": "Broncos", "b": "", "c": "gold"}, references)
    # a: F1 p=1 r=1/2 -> 2/3, EM 0; b: 0; c: 1 -> EM 1/3, F1 (2/3 + 1)/3
    assert partial["exact_match"] == pytest.approx(100 / 3)
    assert partial["f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)
    with pytest.raises(ValueError):
        squad_scores({}, {})
