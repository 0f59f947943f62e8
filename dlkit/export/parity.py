"""Run the same batches through the PyTorch model and an export and say how far apart they are."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.export.runtime import Outputs, Runtime

Batch = dict[str, np.ndarray]


def compare(reference: Runtime, candidate: Runtime, batches: Iterable[Batch]) -> dict:
    """Largest |difference| over every output, and how often both pick the same answer: the
    argmax over each output's last axis (per example, or per unpadded token where an output
    has one value per token). `outputs` holds both sides' outputs, batch by batch, for the
    family's quality measure."""
    diff, agree, predictions, examples = 0.0, 0, 0, 0
    outputs: dict[str, list[Outputs]] = {"reference": [], "export": []}
    for batch in batches:
        ref, out = reference(batch), candidate(batch)
        outputs["reference"].append(ref)
        outputs["export"].append(out)
        examples += len(batch["input_ids"])
        for name, expected in ref.items():
            got = out.get(name)
            if got is None or got.shape != expected.shape:
                shape = None if got is None else got.shape
                return {"examples": examples, "error": f"{name} shape {shape} != {expected.shape}"}
            if expected.ndim == 3:  # one row of scores per token: padding does not count
                keep = _scored(batch, expected.shape[:2])
                expected, got = expected[keep], got[keep]
            diff = max(diff, float(np.abs(expected - got).max()))
            if np.isnan(got).any() or np.isnan(expected).any():
                diff = float("nan")
            agree += int((expected.argmax(-1) == got.argmax(-1)).sum())
            predictions += expected.argmax(-1).size
    return {
        "examples": examples,
        "max_abs_logit_diff": diff,
        "label_agreement": agree / max(predictions, 1),
        "outputs": outputs,
    }


def _scored(batch: Batch, shape: tuple[int, ...]) -> np.ndarray:
    """The positions that count: the input's unpadded tokens, or, for outputs over the
    target (a seq2seq decoder's logits), the positions whose label is scored."""
    mask = batch.get("attention_mask")
    if mask is not None and mask.shape == shape:
        return mask.astype(bool)
    labels = batch.get("labels")
    if labels is not None and labels.shape == shape:
        return labels != -100
    return np.ones(shape, dtype=bool)


def within(report: dict, tolerance: float) -> bool:
    """NaN never passes."""
    return "error" not in report and report["max_abs_logit_diff"] <= tolerance
