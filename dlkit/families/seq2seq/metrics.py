"""Translation and summarization scores, computed by the reference packages themselves
(sacreBLEU for BLEU and chrF, Google's rouge-score for ROUGE) at their default settings, so
a dlkit score compares with published ones and carries the signature that says how it was made.
dlkit only arranges the inputs: several references per example, sentence breaks for ROUGE-Lsum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

from dlkit.errors import ConfigError

KINDS: dict[str, tuple[str, ...]] = {
    "bleu": ("bleu", "chrf"),
    "rouge": ("rouge1", "rouge2", "rougeL", "rougeLsum"),
}
"""The keys each `data.metric` kind gives in the scores (and in results.json)."""

MULTI_REFERENCE = ("max", "mean")
"""How an example with several references is scored for ROUGE (`data.multi_reference`)."""

_ROUGE_TYPES = list(KINDS["rouge"])
# A sentence ends after . ! or ? followed by whitespace. nltk's punkt model (what rouge-score
# would use to split) cannot be downloaded offline, so this small rule stands in for it.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _check_references(references: Sequence[Sequence[str]]) -> None:
    if not references:
        raise ValueError("No references to score against.")
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not refs:
            raise ValueError(
                f"Example {i}: references must be a non-empty list of strings, got {refs!r}."
            )


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists; "
            "give one list of references per hypothesis."
        )
    _check_references(references)


def _check_multi_reference(multi_reference: str) -> None:
    if multi_reference not in MULTI_REFERENCE:
        raise ConfigError(
            f"data.multi_reference: unknown value {multi_reference!r}; use one of "
            f"{', '.join(MULTI_REFERENCE)}."
        )


def _streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacreBLEU's layout: reference streams (stream j holds every example's j-th reference),
    the transpose of dlkit's one-list-per-example. Examples with fewer references than the
    most are padded with None: sacreBLEU's `_cache_references` drops None entries per segment
    (and then reports `nrefs:var`), so a padded example is scored against its own references
    only. An empty string would not do: it is kept as a real, empty reference (it counts in
    nrefs, and BLEU's closest reference length could pick its length 0)."""
    count = max(len(refs) for refs in references)
    return [[refs[j] if j < len(refs) else None for refs in references] for j in range(count)]


def translation_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (0-100) of detokenized `hypotheses`; `references[i]` holds the one
    or more references of hypothesis i. sacreBLEU defaults: BLEU with the 13a tokenizer,
    case-sensitive, exponential smoothing; chrF with character 6-grams, beta 2."""
    _check(hypotheses, references)
    streams = _streams(references)
    bleu = BLEU().corpus_score(hypotheses, streams).score
    chrf = CHRF().corpus_score(hypotheses, streams).score
    return {"bleu": round(bleu, 4), "chrf": round(chrf, 4)}


def bleu_signatures(references: list[list[str]]) -> dict[str, str]:
    """sacreBLEU's signature strings of the metrics `translation_scores` computes, e.g.
    `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`. The reference count (nrefs:
    a number, or `var` when it differs between examples) comes from `references`."""
    _check_references(references)
    streams = _streams(references)
    return {
        "bleu": BLEU(references=streams).get_signature().format(),
        "chrf": CHRF(references=streams).get_signature().format(),
    }


def split_sentences(text: str) -> str:
    """`text` with one sentence per line, the form rouge-score's ROUGE-Lsum expects. Line
    breaks already in the text stay sentence breaks. Tokens are unchanged, so ROUGE-1/2/L
    (which ignore line breaks) are not affected."""
    return "\n".join(_SENTENCE_END.split(text.strip()))


def summary_scores(
    hypotheses: list[str], references: list[list[str]], multi_reference: str = "max"
) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures ×100 (rouge-score, Porter stemming), averaged over examples.
    Per example with several references, `max` keeps each ROUGE type's best reference (as
    rouge-score's `score_multi`: the argmax of the F-measure, per type, so ROUGE-1 and ROUGE-L
    may come from different references); `mean` averages over the references. An empty
    hypothesis scores 0."""
    _check_multi_reference(multi_reference)
    _check(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(_ROUGE_TYPES, use_stemmer=True)
    totals = dict.fromkeys(_ROUGE_TYPES, 0.0)
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        prediction = split_sentences(hypothesis)
        per_reference = [scorer.score(split_sentences(ref), prediction) for ref in refs]
        for key in _ROUGE_TYPES:
            values = [score[key].fmeasure for score in per_reference]
            totals[key] += max(values) if multi_reference == "max" else sum(values) / len(values)
    return {key: round(100 * total / len(hypotheses), 4) for key, total in totals.items()}


def check_settings(kind: str, multi_reference: str = "max") -> None:
    """ConfigError unless `kind` (`data.metric`) and `multi_reference` (`data.multi_reference`)
    are known; `multi_reference` is checked for every kind, so a typo fails even where it is
    not used yet."""
    if kind not in KINDS:
        raise ConfigError(f"data.metric: unknown value {kind!r}; use one of {', '.join(KINDS)}.")
    _check_multi_reference(multi_reference)


def scores(
    kind: str,
    hypotheses: list[str],
    references: list[list[str]],
    multi_reference: str = "max",
) -> dict[str, float]:
    """The scores of metric `kind` (`data.metric`): the keys `KINDS[kind]`, in that order.
    The settings are checked first; with no examples at all every score is 0, so
    `scores(kind, [], [], multi_reference)` checks the settings alone."""
    check_settings(kind, multi_reference)
    if not hypotheses and not references:
        return dict.fromkeys(KINDS[kind], 0.0)
    if kind == "bleu":
        return translation_scores(hypotheses, references)
    return summary_scores(hypotheses, references, multi_reference)
