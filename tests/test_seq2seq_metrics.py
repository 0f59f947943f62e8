"""BLEU/chrF and ROUGE of the seq2seq family on hand-made cases, checked against sacreBLEU's
and rouge-score's own results and against small hand computations."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from dlkit.errors import ConfigError
from dlkit.families.seq2seq.metrics import (
    KINDS,
    bleu_signatures,
    check_settings,
    scores,
    split_sentences,
    summary_scores,
    translation_scores,
)

ROUNDED = 1e-4  # the scores are rounded to 4 decimals

HYPOTHESES = [
    "The cat is sitting on the mat.",
    "He read the book because he was interested in world history.",
    "It is raining heavily in Paris today!",
]
REFERENCES_A = [
    "The cat sat on the mat.",
    "He was interested in world history because he read the book.",
    "Today it is raining hard in Paris.",
]
REFERENCES_B = [
    "A cat was sitting on the mat.",
    "He read the book since he was interested in the history of the world.",
    "It rains heavily in Paris today.",
]

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def test_exact_copies_score_100() -> None:
    result = translation_scores(HYPOTHESES, [[ref] for ref in HYPOTHESES])
    assert result == {"bleu": 100.0, "chrf": 100.0}


def test_bleu_and_chrf_equal_sacrebleu_single_reference() -> None:
    result = translation_scores(HYPOTHESES, [[ref] for ref in REFERENCES_A])
    bleu = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES_A]).score
    chrf = sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES_A]).score
    assert 0 < result["bleu"] < 100
    assert result["bleu"] == pytest.approx(bleu, abs=ROUNDED)
    assert result["chrf"] == pytest.approx(chrf, abs=ROUNDED)


def test_bleu_is_case_sensitive_by_default() -> None:
    assert (
        translation_scores(["the cat sat on the mat"], [["The Cat sat on the Mat"]])["bleu"]
        < translation_scores(["The Cat sat on the Mat"], [["The Cat sat on the Mat"]])["bleu"]
    )


def test_multi_reference_equals_sacrebleu_streams_and_is_not_below_single() -> None:
    references = [[a, b] for a, b in zip(REFERENCES_A, REFERENCES_B, strict=True)]
    multi = translation_scores(HYPOTHESES, references)
    single = translation_scores(HYPOTHESES, [[ref] for ref in REFERENCES_A])
    assert multi["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES_A, REFERENCES_B]).score, abs=ROUNDED
    )
    assert multi["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES_A, REFERENCES_B]).score, abs=ROUNDED
    )
    assert multi["bleu"] >= single["bleu"]
    assert multi["chrf"] >= single["chrf"]


def test_variable_reference_counts_score_each_example_against_its_own_references() -> None:
    # Example 0 has two references, 1 and 2 one each. Corpus BLEU is the BLEU of the summed
    # sentence statistics, so summing sacreBLEU's per-sentence stats (each sentence against
    # exactly its own references) must give the same score as the padded corpus call.
    references = [[REFERENCES_A[0], REFERENCES_B[0]], [REFERENCES_A[1]], [REFERENCES_B[2]]]
    metric = BLEU()
    sentences = [
        metric.sentence_score(hyp, refs) for hyp, refs in zip(HYPOTHESES, references, strict=True)
    ]
    correct = [sum(s.counts[n] for s in sentences) for n in range(4)]
    total = [sum(s.totals[n] for s in sentences) for n in range(4)]
    expected = BLEU.compute_bleu(
        correct,
        total,
        sum(s.sys_len for s in sentences),
        sum(s.ref_len for s in sentences),
        smooth_method="exp",
    ).score
    assert translation_scores(HYPOTHESES, references)["bleu"] == pytest.approx(
        expected, abs=ROUNDED
    )
    assert bleu_signatures(references)["bleu"].startswith("nrefs:var|")


def test_signatures_name_the_reference_count_and_settings() -> None:
    three = bleu_signatures([["a", "b", "c"], ["d", "e", "f"]])
    assert (
        three["bleu"]
        == f"nrefs:3|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    )
    assert three["chrf"].startswith("nrefs:3|case:mixed|")
    assert "nc:6" in three["chrf"]
    assert bleu_signatures([["a"]])["bleu"].startswith("nrefs:1|")


def test_split_sentences() -> None:
    assert split_sentences("One. Two! Three?  Four") == "One.\nTwo!\nThree?\nFour"
    assert split_sentences("It costs 3.5 dollars.") == "It costs 3.5 dollars."
    assert split_sentences("  ") == ""


def test_rouge1_hand_computed() -> None:
    # unigrams "the cat sat" vs "the cat was here": 2 shared, p=2/3, r=2/4 -> F=4/7
    result = summary_scores(["the cat sat"], [["the cat was here"]])
    assert result["rouge1"] == pytest.approx(400 / 7, abs=ROUNDED)
    # bigrams: "the cat" shared; p=1/2, r=1/3 -> F=2/5
    assert result["rouge2"] == pytest.approx(40.0, abs=ROUNDED)


def test_rouge_equals_rouge_score_own_scorer() -> None:
    scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    result = summary_scores(HYPOTHESES, [[ref] for ref in REFERENCES_A])
    for key in ROUGE_TYPES:
        expected = [
            scorer.score(split_sentences(ref), split_sentences(hyp))[key].fmeasure
            for hyp, ref in zip(HYPOTHESES, REFERENCES_A, strict=True)
        ]
        assert result[key] == pytest.approx(100 * sum(expected) / len(expected), abs=ROUNDED)


def test_max_equals_score_multi() -> None:
    scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    references = [[a, b] for a, b in zip(REFERENCES_A, REFERENCES_B, strict=True)]
    result = summary_scores(HYPOTHESES, references, multi_reference="max")
    for key in ROUGE_TYPES:
        expected = [
            scorer.score_multi([split_sentences(r) for r in refs], split_sentences(hyp))[
                key
            ].fmeasure
            for hyp, refs in zip(HYPOTHESES, references, strict=True)
        ]
        assert result[key] == pytest.approx(100 * sum(expected) / len(expected), abs=ROUNDED)


def test_max_and_mean_over_three_references() -> None:
    # ROUGE-1 of "the cat sat" vs: itself 1; "a dog ran" 0; "the cat" p=2/3 r=1 -> 0.8
    references = [["the cat sat", "a dog ran", "the cat"]]
    best = summary_scores(["the cat sat"], references, multi_reference="max")
    mean = summary_scores(["the cat sat"], references, multi_reference="mean")
    assert best["rouge1"] == pytest.approx(100.0)
    assert mean["rouge1"] == pytest.approx(100 * 1.8 / 3, abs=ROUNDED)
    # ROUGE-2: 1, 0, and "the cat" p=1/2 r=1 -> 2/3
    assert mean["rouge2"] == pytest.approx(100 * (5 / 3) / 3, abs=ROUNDED)
    assert all(best[key] > mean[key] for key in ROUGE_TYPES)


def test_stemming_matches_plurals() -> None:
    assert summary_scores(["cats"], [["cat"]])["rouge1"] == pytest.approx(100.0)
    unstemmed = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    assert unstemmed.score("cat", "cats")["rouge1"].fmeasure == 0.0


def test_rouge_lsum_uses_the_sentence_split() -> None:
    # Tokens in swapped sentence order: the LCS over the whole text is 4 of 8 tokens (0.5),
    # the summary-level LCS per sentence finds all 8.
    hypothesis = "The dog barked loudly. The cat sat down."
    reference = "The cat sat down. The dog barked loudly."
    result = summary_scores([hypothesis], [[reference]])
    assert result["rougeL"] == pytest.approx(50.0)
    assert result["rougeLsum"] == pytest.approx(100.0)
    one_line = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    assert one_line.score(reference, hypothesis)["rougeLsum"].fmeasure == pytest.approx(0.5)


def test_empty_hypothesis_scores_zero() -> None:
    assert summary_scores([""], [["the cat sat"]]) == dict.fromkeys(ROUGE_TYPES, 0.0)
    half = summary_scores(["the cat sat", ""], [["the cat sat"], ["the cat sat"]])
    assert half == dict.fromkeys(ROUGE_TYPES, 50.0)


def test_scores_dispatch_gives_the_kind_keys() -> None:
    references = [[ref] for ref in REFERENCES_A]
    for kind, keys in KINDS.items():
        assert tuple(scores(kind, HYPOTHESES, references)) == keys


def test_scores_without_examples_only_checks_the_settings() -> None:
    # the family's module calls scores(kind, [], [], multi_reference) to fail early on names
    assert scores("bleu", [], []) == {"bleu": 0.0, "chrf": 0.0}
    assert scores("rouge", [], [], "mean") == dict.fromkeys(ROUGE_TYPES, 0.0)
    with pytest.raises(ConfigError, match=r"data\.multi_reference"):
        scores("bleu", [], [], "best")
    with pytest.raises(ConfigError, match=r"data\.metric"):
        check_settings("sacrebleu")
    check_settings("rouge", "mean")


def test_unknown_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.metric.*'meteor'.*bleu, rouge"):
        scores("meteor", HYPOTHESES, [[ref] for ref in REFERENCES_A])
    with pytest.raises(ConfigError, match=r"data\.multi_reference.*'min'.*max, mean"):
        summary_scores(HYPOTHESES, [[ref] for ref in REFERENCES_A], multi_reference="min")
    with pytest.raises(ConfigError, match=r"data\.multi_reference"):
        scores("rouge", HYPOTHESES, [[ref] for ref in REFERENCES_A], multi_reference="best")


@pytest.mark.parametrize(
    ("hypotheses", "references"),
    [
        (["a", "b"], [["a"]]),  # counts differ
        (["a"], [[]]),  # an example without references
        (["a"], ["a"]),  # a string, not a list of references
        ([], []),
    ],
)
def test_malformed_inputs_raise_value_error(hypotheses: list, references: list) -> None:
    with pytest.raises(ValueError):
        translation_scores(hypotheses, references)
    with pytest.raises(ValueError):
        summary_scores(hypotheses, references)
