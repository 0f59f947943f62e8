"""Post-processing on hand-made logits: the best valid span over all windows of a question."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.families.question_answering.postprocess import (
    NO_ANSWER,
    best_answers,
    postprocess_predictions,
)

CONTEXT = "alpha beta gamma delta epsilon zeta"
#          0     6    11    17    23      31
WORD = {
    "alpha": (0, 5),
    "beta": (6, 10),
    "gamma": (11, 16),
    "delta": (17, 22),
    "epsilon": (23, 30),
    "zeta": (31, 35),
}
NAMES = list(WORD)


def _window(words: list[str]) -> list:
    """[CLS] q q [SEP] words... [SEP]: offsets None outside the context."""
    return [None, None, None, None] + [WORD[w] for w in words] + [None]


def _logits(length: int, peaks: dict[int, float]) -> np.ndarray:
    row = np.zeros(length, dtype=np.float32)
    for index, value in peaks.items():
        row[index] = value
    return row


@pytest.fixture
def two_windows() -> tuple[list[dict], list[dict]]:
    examples = [{"id": "q1", "context": CONTEXT}]
    features = [
        {"example_id": "q1", "offset_mapping": _window(NAMES[:4])},  # alpha..delta
        {"example_id": "q1", "offset_mapping": _window(NAMES[2:])},  # gamma..zeta
    ]
    return examples, features


def test_the_best_span_lies_in_the_second_window(two_windows) -> None:
    examples, features = two_windows
    # Window 0 favours "beta" (score 2 + 2), window 1 "epsilon zeta" (3 + 4).
    starts = [_logits(9, {5: 2.0}), _logits(9, {6: 3.0})]
    ends = [_logits(9, {5: 2.0}), _logits(9, {7: 4.0})]
    spans = postprocess_predictions(examples, features, starts, ends)["q1"]
    best = spans[0]
    assert (best.text, best.start, best.end, best.feature) == ("epsilon zeta", 23, 35, 1)
    assert best.score == pytest.approx(7.0)
    assert CONTEXT[best.start : best.end] == best.text
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert any(s.text == "beta" and s.feature == 0 for s in spans)
    assert best_answers({"q1": spans}) == {"q1": "epsilon zeta"}


def test_spans_outside_the_context_or_backwards_are_never_chosen(two_windows) -> None:
    examples, features = two_windows
    # Huge logits on CLS and the question, and an end before the start: all invalid.
    starts = [_logits(9, {0: 50.0, 1: 40.0, 6: 9.0, 5: 1.0}), _logits(9, {})]
    ends = [_logits(9, {0: 50.0, 2: 40.0, 4: 9.0, 6: 1.0}), _logits(9, {})]
    best = postprocess_predictions(examples, features, starts, ends)["q1"][0]
    # 6..4 would score 18 but runs backwards; the best valid pair is 6..6 (9 + 1).
    assert (best.text, best.feature) == ("gamma", 0)


def test_max_answer_length_drops_long_spans(two_windows) -> None:
    examples, features = two_windows
    starts = [_logits(9, {4: 5.0, 6: 1.0}), _logits(9, {})]
    ends = [_logits(9, {7: 5.0, 6: 0.5}), _logits(9, {})]
    long = postprocess_predictions(examples, features, starts, ends, max_answer_length=4)
    assert long["q1"][0].text == "alpha beta gamma delta"
    short = postprocess_predictions(examples, features, starts, ends, max_answer_length=3)
    # 4..7 (10) is 4 tokens long; then 6..7 (1 + 5) beats 4..6 (5 + 0.5).
    assert short["q1"][0].text == "gamma delta"


def test_n_best_limits_candidates_and_padding_is_ignored() -> None:
    examples = [{"id": "q2", "context": CONTEXT}]
    features = [{"example_id": "q2", "offset_mapping": _window(NAMES)}]
    # Logits padded to 16 (a batch's longest window): the padded tail must not be read.
    start = _logits(16, {4: 1.0, 5: 2.0, 12: 99.0, 15: 99.0})
    end = _logits(16, {9: 3.0, 12: 99.0})
    spans = postprocess_predictions(examples, features, [start], [end], n_best_size=2)["q2"]
    assert len(spans) <= 2
    assert spans[0].text == "beta gamma delta epsilon zeta"


def test_an_example_without_valid_spans_gets_the_empty_answer() -> None:
    examples = [{"id": "q3", "context": CONTEXT}, {"id": "q4", "context": CONTEXT}]
    features = [{"example_id": "q3", "offset_mapping": [None, None, None]}]
    preds = postprocess_predictions(examples, features, np.zeros((1, 3)), np.zeros((1, 3)))
    assert preds == {"q3": [NO_ANSWER], "q4": [NO_ANSWER]}
    assert best_answers(preds) == {"q3": "", "q4": ""}


def test_logit_rows_must_match_features(two_windows) -> None:
    examples, features = two_windows
    with pytest.raises(ValueError, match="2 features but 1 start"):
        postprocess_predictions(examples, features, np.zeros((1, 9)), np.zeros((2, 9)))
