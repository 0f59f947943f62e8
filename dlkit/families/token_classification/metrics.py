"""Entity-level scores as seqeval computes them (its default, conlleval-compatible mode): a
span counts only when its type and both boundaries match. The Metric gathers tag ids across
processes, so under DDP the scores are those of the whole evaluation set."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate

import torchmetrics
from seqeval.metrics import classification_report
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from dlkit.families.token_classification.tags import entity_types

IGNORE_INDEX = -100  # labels of positions that are not scored (special tokens, sub-words)


def entity_scores(
    gold: list[list[str]], pred: list[list[str]], types: Iterable[str] = ()
) -> dict[str, float]:
    """Micro precision, recall and F1 over entities (seqeval's precision_score, recall_score
    and f1_score), token accuracy, and `f1_<TYPE>` for every type in either side or in
    `types` (0.0 for a type neither holds, so logged keys stay the same across epochs).

    zero_division=0 makes an undefined score 0.0 without seqeval's warning; with no entity
    on either side seqeval is not called at all, since its macro average then takes the mean
    of an empty array (numpy's RuntimeWarning)."""
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred, strict=True)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")
    tokens = sum(len(g) for g in gold)
    pairs = zip(gold, pred, strict=True)
    correct = sum(a == b for g, p in pairs for a, b in zip(g, p, strict=True))
    scores = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    scores["token_acc"] = correct / tokens if tokens else 0.0
    per_type = dict.fromkeys(types, 0.0)
    if _has_entity(gold) or _has_entity(pred):
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        micro = report.pop("micro avg")
        scores["precision"] = float(micro["precision"])
        scores["recall"] = float(micro["recall"])
        scores["f1"] = float(micro["f1-score"])
        for name, row in report.items():
            if not name.endswith(" avg"):
                per_type[name] = float(row["f1-score"])
    scores.update((f"f1_{name}", per_type[name]) for name in sorted(per_type))
    return scores


def _has_entity(sentences: list[list[str]]) -> bool:
    return any(tag != "O" for sentence in sentences for tag in sentence)


class EntityScores(torchmetrics.Metric):
    """`entity_scores` over every scored position seen since the last reset. The states are
    the kept tag ids and each sentence's kept length, concatenated across processes."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, label_names: list[str]) -> None:
        super().__init__()
        self.label_names = list(label_names)
        self.types = entity_types(self.label_names)
        self.add_state("pred", default=[], dist_reduce_fx="cat")
        self.add_state("gold", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")

    def update(self, logits_or_ids: Tensor, labels: Tensor) -> None:
        """Predicted ids (B, T) or logits (B, T, C), and labels (B, T) with -100 where a
        position is not scored; the prediction at such a position is dropped too."""
        ids = logits_or_ids.argmax(-1) if logits_or_ids.dim() == 3 else logits_or_ids
        if ids.shape != labels.shape or labels.dim() != 2:
            raise ValueError(
                f"predictions {tuple(logits_or_ids.shape)} do not match labels "
                f"{tuple(labels.shape)}; expected (B, T) or (B, T, C) and (B, T)"
            )
        keep = labels != IGNORE_INDEX
        # Boolean indexing reads row by row, so each row's kept positions stay together.
        self.pred.append(ids[keep].long())
        self.gold.append(labels[keep].long())
        self.lengths.append(keep.sum(dim=1).long())

    def compute(self) -> dict[str, float]:
        if not self.lengths:
            return entity_scores([], [], self.types)
        # .long(): a process that saw no batch sends an empty tensor of the default dtype.
        lengths = dim_zero_cat(self.lengths).long().tolist()
        names = self.label_names
        pred = [names[i] for i in dim_zero_cat(self.pred).long().tolist()]
        gold = [names[i] for i in dim_zero_cat(self.gold).long().tolist()]
        ends = list(accumulate(lengths))
        spans = list(zip([0, *ends[:-1]], ends, strict=True))
        return entity_scores(
            [gold[a:b] for a, b in spans], [pred[a:b] for a, b in spans], self.types
        )
