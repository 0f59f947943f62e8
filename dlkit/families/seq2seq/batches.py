"""Batches of text pairs: inputs padded with the pad token, targets with -100 (not scored),
each to its own longest row; evaluation rows also carry their reference texts."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

REFERENCES = "references"  # the reference texts of each row of an evaluation batch
MODEL_INPUTS = ("input_ids", "attention_mask", "labels")  # labels: the decoder's inputs too


def _pad(rows: list[list[int]], fill: int) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), fill, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


class PairBatch:
    """The model shifts `labels` right (after its decoder start token) into the decoder's
    inputs, so a batch needs no decoder_input_ids of its own."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.pad = tokenizer.pad_token_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {
            "input_ids": _pad([r["input_ids"] for r in rows], self.pad),
            "attention_mask": _pad([r["attention_mask"] for r in rows], 0),
            "labels": _pad([r["labels"] for r in rows], -100),
        }
        if REFERENCES in rows[0]:
            batch[REFERENCES] = [list(r[REFERENCES]) for r in rows]
        return batch


def model_inputs(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in MODEL_INPUTS}
