"""Entity-level scores: hand-computed cases, agreement with seqeval, and the torchmetrics
Metric (ignored positions, logits, several batches)."""

from __future__ import annotations

import random
import warnings

import pytest
import torch
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from dlkit.families.token_classification.metrics import EntityScores, entity_scores

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def test_one_right_one_wrong_type() -> None:
    scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
    assert scores == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "token_acc": 0.75,
        "f1_LOC": 0.0,
        "f1_ORG": 0.0,
        "f1_PER": 1.0,
    }
    assert all(type(value) is float for value in scores.values())


def test_a_partial_span_is_wrong() -> None:
    gold = [["B-PER", "I-PER", "I-PER", "O"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "O"]]
    scores = entity_scores(gold, pred)
    # 1 of 2 predicted spans right, 1 of 2 gold spans found; 5 of 6 tokens right.
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert scores["token_acc"] == pytest.approx(5 / 6)
    assert (scores["f1_PER"], scores["f1_LOC"]) == (0.0, 1.0)


def test_more_predictions_than_gold() -> None:
    gold = [["B-PER", "O", "O", "O"]]
    pred = [["B-PER", "O", "B-LOC", "B-ORG"]]
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(0.5)  # 2pr/(p+r) = (2/3)/(4/3)
    assert scores["token_acc"] == 0.5


def test_no_entities_anywhere_is_zero_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = entity_scores([["O", "O"], ["O"]], [["O", "O"], ["O"]], types=["PER"])
        assert scores == {
            "precision": 0.0, "recall": 0.0, "f1": 0.0, "token_acc": 1.0, "f1_PER": 0.0,
        }  # fmt: skip
        assert entity_scores([], [])["f1"] == 0.0
        only_pred = entity_scores([["O", "O"]], [["B-PER", "O"]])
        assert (only_pred["precision"], only_pred["recall"], only_pred["f1"]) == (0.0, 0.0, 0.0)


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="same sentences"):
        entity_scores([["O", "O"]], [["O"]])


def random_tags(rng: random.Random, length: int) -> list[str]:
    return [rng.choice(LABELS) for _ in range(length)]


def test_agrees_with_seqeval() -> None:
    rng = random.Random(7)
    gold = [random_tags(rng, rng.randint(1, 12)) for _ in range(40)]
    pred = [random_tags(rng, len(sentence)) for sentence in gold]
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(precision_score(gold, pred))
    assert scores["recall"] == pytest.approx(recall_score(gold, pred))
    assert scores["f1"] == pytest.approx(f1_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True)
    for kind in ("PER", "LOC", "ORG"):
        assert scores[f"f1_{kind}"] == pytest.approx(report[kind]["f1-score"])


def test_metric_ignores_minus_100_and_takes_logits() -> None:
    names = ["O", "B-PER", "I-PER", "B-LOC"]
    labels = torch.tensor([[-100, 1, 2, 0, 3, -100], [-100, 3, 0, -100, -100, -100]])
    ids = torch.tensor([[3, 1, 2, 0, 1, 1], [1, 3, 1, 2, 2, 2]])
    logits = torch.nn.functional.one_hot(ids, len(names)).float() * 5 - 1
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-PER"], ["B-LOC", "B-PER"]]
    expected = entity_scores(gold, pred, ["LOC", "PER"])
    assert expected["token_acc"] == pytest.approx(4 / 6)
    assert expected["precision"] == pytest.approx(2 / 4) and expected["recall"] == pytest.approx(
        2 / 3
    )
    for predictions in (ids, logits):
        metric = EntityScores(names)
        metric.update(predictions, labels)
        assert metric.compute() == pytest.approx(expected)


def test_two_batches_equal_one() -> None:
    rng = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 9, len(LABELS), generator=rng)
    labels = torch.randint(0, len(LABELS), (6, 9), generator=rng)
    labels[torch.rand(6, 9, generator=rng) < 0.3] = -100
    labels[2] = -100  # a row with nothing scored
    whole = EntityScores(LABELS)
    whole.update(logits, labels)
    split = EntityScores(LABELS)
    split.update(logits[:4], labels[:4])
    # the other rows as a batch padded to another length
    padding = torch.full((2, 3), -100, dtype=labels.dtype)
    split.update(
        torch.cat([logits[4:], torch.randn(2, 3, len(LABELS), generator=rng)], dim=1),
        torch.cat([labels[4:], padding], dim=1),
    )
    assert split.compute() == pytest.approx(whole.compute())
    assert set(whole.compute()) == {
        "precision", "recall", "f1", "token_acc", "f1_LOC", "f1_ORG", "f1_PER",
    }  # fmt: skip
    # the same scores, computed from the tag names
    keep = labels != -100
    gold = [[LABELS[i] for i in row[m].tolist()] for row, m in zip(labels, keep, strict=True)]
    ids = logits.argmax(-1)
    pred = [[LABELS[i] for i in row[m].tolist()] for row, m in zip(ids, keep, strict=True)]
    assert whole.compute() == pytest.approx(entity_scores(gold, pred, ["LOC", "ORG", "PER"]))
    whole.reset()
    with pytest.warns(UserWarning, match="before the ``update``"):  # torchmetrics' own
        empty = whole.compute()
    assert empty["f1"] == 0.0 and empty["token_acc"] == 0.0 and empty["f1_PER"] == 0.0


def test_metric_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        EntityScores(LABELS).update(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4))
