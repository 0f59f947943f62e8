"""Tokenizer training is deterministic: the same text and settings give the same tokenizer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import write_classification_csv

TRAIN = (
    "import csv, sys; from pathlib import Path; from dlkit.models.tokenizer import train_tokenizer;"
    "rows = list(csv.DictReader(open(sys.argv[1])));"
    "tok = train_tokenizer(sys.argv[3], [r['text'] for r in rows], 300, True, Path(sys.argv[2]));"
    "print(tok.backend_tokenizer.to_str())"
)


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_tokenizer_training_is_deterministic(kind: str, tmp_path: Path) -> None:
    data = write_classification_csv(tmp_path / "train.csv", 300, seed=0)
    # Separate processes (and caches): Rust hash maps are seeded per process.
    outputs = {
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(data), str(tmp_path / f"cache{i}"), kind],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for i in range(3)
    }
    assert len(outputs) == 1
    assert len(outputs.pop()) > 1000


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=8), st.booleans())
def test_wordpiece_alphabet_is_that_of_the_normalized_text(texts: list[str], lowercase: bool):
    """The alphabet comes from each distinct character normalized alone: the same set as
    normalizing the text itself, which it no longer does (that took half the training time)."""
    from tokenizers import normalizers

    from dlkit.models.tokenizer import _alphabet

    normalize = normalizers.BertNormalizer(lowercase=lowercase).normalize_str
    whole = {c for text in texts for c in normalize(text) if not c.isspace()}
    assert _alphabet(texts, normalize) == sorted(whole)
