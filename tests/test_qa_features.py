"""Windows and offsets of question answering features on a context longer than max_length."""

from __future__ import annotations

import pytest

from dlkit.errors import ConfigError, DataError
from dlkit.families.question_answering.features import (
    prepare_eval_features,
    prepare_train_features,
)
from dlkit.models.tokenizer import train_tokenizer

WORDS = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(60)]  # waa, wab, ...
CONTEXT = " ".join(WORDS)
QUESTION = "where is it ?"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    texts = [CONTEXT, QUESTION] * 20
    tok = train_tokenizer("wordpiece", texts, 500, True, tmp_path_factory.mktemp("tok"))
    # The hand-made positions below count one token per word.
    assert len(tok(CONTEXT, add_special_tokens=False)["input_ids"]) == len(WORDS)
    assert len(tok(QUESTION, add_special_tokens=False)["input_ids"]) == 4
    return tok


def _answer(first: int, last: int) -> tuple[str, int]:
    """Words first..last of the context, and their character start."""
    return " ".join(WORDS[first : last + 1]), len(" ".join(WORDS[:first])) + (first > 0)


def _examples(first: int, last: int) -> dict[str, list]:
    text, start = _answer(first, last)
    assert CONTEXT[start : start + len(text)] == text
    return {
        "id": ["q1"],
        "question": [QUESTION],
        "context": [CONTEXT],
        "answers": [{"text": [text], "answer_start": [start]}],
    }


def test_windows_overlap_and_both_hold_an_answer_in_the_overlap(tokenizer) -> None:
    # 32 tokens: [CLS] 4 question tokens [SEP] 25 context tokens [SEP]; windows start at context
    # words 0, 9, 18, ... (16 shared), so words 12..14 lie in windows 0 and 1 only.
    examples = _examples(12, 14)
    train = prepare_train_features(examples, tokenizer, max_length=32, doc_stride=16)
    evals = prepare_eval_features(examples, tokenizer, max_length=32, doc_stride=16)
    windows = len(train["input_ids"])
    assert windows == len(evals["input_ids"]) >= 3
    assert all(len(ids) <= 32 for ids in train["input_ids"])
    assert evals["example_id"] == ["q1"] * windows
    assert "offset_mapping" not in train and "padding" not in train

    def context_span(i: int) -> tuple[int, int]:
        inside = [o for o in evals["offset_mapping"][i] if o is not None]
        return inside[0][0], inside[-1][1]

    # Consecutive windows overlap in the context, and every window starts with the question.
    for i in range(windows - 1):
        assert context_span(i + 1)[0] < context_span(i)[1]
    assert context_span(0)[0] == 0 and context_span(windows - 1)[1] == len(CONTEXT)

    text, start = _answer(12, 14)
    for i in (0, 1):
        s, e = train["start_positions"][i], train["end_positions"][i]
        assert 0 < s <= e
        offsets = evals["offset_mapping"][i]
        assert (offsets[s][0], offsets[e][1]) == (start, start + len(text))
        assert CONTEXT[offsets[s][0] : offsets[e][1]] == text
    # The two windows hold the answer at different token positions.
    assert train["start_positions"][0] != train["start_positions"][1]
    # Later windows lack it and point at CLS.
    cls = tokenizer.cls_token_id
    for i in range(2, windows):
        assert train["input_ids"][i][0] == cls
        assert train["start_positions"][i] == train["end_positions"][i] == 0


def test_offsets_are_none_outside_the_context(tokenizer) -> None:
    evals = prepare_eval_features(_examples(0, 0), tokenizer, max_length=32, doc_stride=16)
    for i, offsets in enumerate(evals["offset_mapping"]):
        ids = evals["input_ids"][i]
        assert offsets[0] is None and offsets[-1] is None  # CLS, last SEP
        assert all(o is None for o in offsets[:6])  # CLS, the question, SEP
        assert all(o is not None for o in offsets[6:-1])
        assert len(offsets) == len(ids)


def test_an_answer_cut_by_a_window_edge_points_at_cls(tokenizer) -> None:
    # Words 23..26 straddle window 0's end (word 24) and lie whole in window 1 (9..33).
    train = prepare_train_features(_examples(23, 26), tokenizer, max_length=32, doc_stride=16)
    assert train["start_positions"][0] == train["end_positions"][0] == 0
    assert train["start_positions"][1] > 0
    assert train["end_positions"][1] - train["start_positions"][1] == 3


def test_short_context_is_one_window(tokenizer) -> None:
    examples = _examples(0, 1)
    examples["context"] = [" ".join(WORDS[:5])]
    train = prepare_train_features(examples, tokenizer)
    assert len(train["input_ids"]) == 1
    assert (train["start_positions"][0], train["end_positions"][0]) == (6, 7)


def test_bad_settings_are_named(tokenizer) -> None:
    with pytest.raises(ConfigError, match="doc_stride=32"):
        prepare_train_features(_examples(0, 0), tokenizer, max_length=32, doc_stride=32)
    examples = _examples(0, 0)
    examples["question"] = [" ".join(WORDS[:40])]
    with pytest.raises(DataError, match="max_length=32"):
        prepare_eval_features(examples, tokenizer, max_length=32, doc_stride=16)
