"""Run the same batches through the PyTorch model and an export and say how far apart they are."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.export.runtime import Runtime

Batch = dict[str, np.ndarray]


def compare(reference: Runtime, candidate: Runtime, batches: Iterable[Batch]) -> dict:
    """Largest |logit difference|, agreement of predicted labels (tokens, for LM heads, at
    unpadded positions) and, where batches carry one label per example, both accuracies."""
    diff, agree, predictions, examples = 0.0, 0, 0, 0
    correct = {"reference": 0, "export": 0}
    labelled = False
    for batch in batches:
        ref, out = reference(batch), candidate(batch)
        if ref.shape != out.shape:
            return {"examples": examples, "error": f"logits shape {out.shape} != {ref.shape}"}
        examples += len(batch["input_ids"])
        if ref.ndim == 3:
            keep = batch.get("attention_mask", np.ones(ref.shape[:2])).astype(bool)
            ref, out = ref[keep], out[keep]
        diff = max(diff, float(np.abs(ref - out).max()))
        if np.isnan(out).any() or np.isnan(ref).any():
            diff = float("nan")
        ref_labels, out_labels = ref.argmax(-1), out.argmax(-1)
        agree += int((ref_labels == out_labels).sum())
        predictions += ref_labels.size
        labels = batch.get("labels")
        if labels is not None and labels.ndim == 1:
            labelled = True
            correct["reference"] += int((ref_labels == labels).sum())
            correct["export"] += int((out_labels == labels).sum())
    report = {
        "examples": examples,
        "max_abs_logit_diff": diff,
        "label_agreement": agree / max(predictions, 1),
    }
    if labelled:
        report["accuracy"] = {k: v / examples for k, v in correct.items()}
    return report


def within(report: dict, tolerance: float) -> bool:
    """NaN never passes."""
    return "error" not in report and report["max_abs_logit_diff"] <= tolerance
