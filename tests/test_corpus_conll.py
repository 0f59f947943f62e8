"""A CoNLL tagging file read as pretraining text (`format: conll`): each sentence's words on a
line, tags and -DOCSTART- dropped, so NER data can also be pretrained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlkit.errors import DataError
from dlkit.families.language_modeling.data import CorpusData

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def corpus(tmp_path: Path, **entry: str) -> CorpusData:
    path = tmp_path / "train.txt"
    path.write_text(CONLL, encoding="utf-8")
    sources = [{"path": str(path), **entry}]
    return CorpusData("conll_text", sources, validation_fraction=0.3, cache_dir=str(tmp_path))


def test_a_conll_source_gives_each_sentence_s_words(tmp_path) -> None:
    data = corpus(tmp_path, format="conll")
    data.load()
    assert data.lines == {
        "train": ["EU rejects German call .", "Peter Blackburn"],
        "validation": ["BRUSSELS 1996-08-22"],
    }


def test_without_the_format_the_same_file_is_plain_text(tmp_path) -> None:
    data = corpus(tmp_path)
    data.load()
    assert "EU NNP B-NP B-ORG" in data.lines["train"]


def test_an_unknown_format_is_refused_naming_the_source(tmp_path) -> None:
    with pytest.raises(DataError, match=r"train\.txt has format='iob'.*format: conll"):
        corpus(tmp_path, format="iob")
