"""dlkit's batch padding gives exactly what transformers' DataCollatorWithPadding gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import DataCollatorWithPadding

from dlkit.data.collate import PadBatch
from dlkit.models.tokenizer import train_tokenizer
from tests.conftest import FILLER, NEGATIVE, POSITIVE

WORDS = FILLER + POSITIVE + NEGATIVE


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("pairs", [False, True])
def test_padding_equals_transformers_collator(side: str, pairs: bool, tmp_path: Path) -> None:
    rng = random.Random(0)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(1, 20))) for _ in range(64)]
    tokenizer = train_tokenizer("wordpiece", texts, 100, True, tmp_path)
    tokenizer.padding_side = side
    encoded = tokenizer(texts[:32], texts[32:] if pairs else None, truncation=True, max_length=16)
    rows = [{**{k: encoded[k][i] for k in encoded}, "labels": rng.randint(0, 2)} for i in range(32)]
    expected = DataCollatorWithPadding(tokenizer, return_tensors="pt")(rows)
    got = PadBatch(tokenizer)(rows)
    assert set(got) == set(expected) >= {"input_ids", "attention_mask", "labels"}
    assert len({len(r["input_ids"]) for r in rows}) > 1  # the batch really needs padding
    for key, tensor in expected.items():
        assert got[key].dtype == tensor.dtype, key
        assert torch.equal(got[key], tensor), key
