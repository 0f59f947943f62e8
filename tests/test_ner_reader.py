"""The CoNLL reader and the tag schemes: sentence boundaries, columns, bad lines named by
file and line (or dropped under skip), and the IOB1/BIOES to IOB2 conversion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlkit.data.conll import Sentence, read_conll
from dlkit.errors import DataError
from dlkit.families.token_classification.tags import SCHEMES, check_tag, entity_types, to_iob2

REPO = Path(__file__).resolve().parents[1]

FOUR_COLUMNS = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
-DOCSTART- -X- -X- O

Only NNP B-NP O
"""


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_sentences_documents_and_blank_runs(tmp_path: Path) -> None:
    read = read_conll(write(tmp_path, FOUR_COLUMNS))
    assert read.source == str(tmp_path / "data.txt")
    assert read.skipped == []
    assert read.sentences == [
        Sentence(["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"], 3),
        Sentence(["Peter", "Blackburn"], ["B-PER", "I-PER"], 9),
        Sentence(["BRUSSELS", "1996-08-22"], ["B-LOC", "O"], 13),
        Sentence(["Only"], ["O"], 17),  # the last line, no blank line after it
    ]


def test_tag_column_picks_a_column(tmp_path: Path) -> None:
    path = write(tmp_path, FOUR_COLUMNS)
    assert read_conll(path, tag_column=3).sentences == read_conll(path).sentences
    chunks = read_conll(path, tag_column=2).sentences[0].tags
    assert chunks == ["B-NP", "B-VP", "B-NP", "I-NP"]
    assert read_conll(path, tag_column=-3).sentences[0].tags == ["NNP", "VBZ", "JJ", "NN"]


def test_tag_column_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, "EU B-ORG\nrejects O\n\n", "two.txt")
    assert read_conll(path, tag_column=-1).sentences[0].tags == ["B-ORG", "O"]
    assert read_conll(path, tag_column=1).sentences[0].tags == ["B-ORG", "O"]
    for column in (3, 2, -2, 0):
        with pytest.raises(DataError, match=r"two\.txt.*data\.tag_column"):
            read_conll(path, tag_column=column)


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, FOUR_COLUMNS.replace("Peter NNP B-NP B-PER", "Peter B-PER"))
    with pytest.raises(DataError) as err:
        read_conll(path)
    message = str(err.value)
    assert str(path) in message and "line 9" in message
    assert "expected 4 columns, found 2" in message and "on_bad_row=skip" in message


def test_skip_drops_the_sentence_and_counts_the_line(tmp_path: Path) -> None:
    text = FOUR_COLUMNS.replace("Blackburn NNP I-NP I-PER", "Blackburn I-PER")
    text = text.replace("call NN I-NP O", "call NN I-NP O extra")
    read = read_conll(write(tmp_path, text), skip=True)
    assert [s.tokens[0] for s in read.sentences] == ["BRUSSELS", "Only"]
    assert [(b.number, b.unit, b.kind) for b in read.skipped] == [
        (6, "line", "malformed row"),
        (10, "line", "malformed row"),
    ]
    assert read.skipped[0].detail == "expected 4 columns, found 5"
    assert read.skipped[0].fix == "Give every token line the same columns"


def test_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    data = FOUR_COLUMNS.encode().replace(b"German", b"Germ\xe4n")
    path = write(tmp_path, data)
    with pytest.raises(DataError, match=r"data\.txt, line 5: not UTF-8 \(byte 0xe4 at column 5"):
        read_conll(path)
    read = read_conll(path, skip=True)
    assert [s.tokens[0] for s in read.sentences] == ["Peter", "BRUSSELS", "Only"]
    assert [(b.number, b.kind) for b in read.skipped] == [(5, "not UTF-8")]


def test_a_byte_order_mark_and_crlf_are_not_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffEU B-ORG\r\nrejects O\r\n\r\n")
    assert read_conll(path).sentences == [Sentence(["EU", "rejects"], ["B-ORG", "O"], 1)]


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n"])
def test_a_file_without_sentences(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match=r"data\.txt has no sentences.*data\.files"):
        read_conll(write(tmp_path, text))


def test_every_sentence_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "EU NNP B-ORG\nrejects O\n\nx\n")
    with pytest.raises(DataError, match=r"all 2 data rows are bad, the first at line 2"):
        read_conll(path, skip=True)


def test_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Cannot read"):
        read_conll(tmp_path)  # a folder: open() raises IsADirectoryError


def test_to_iob2_from_iob1() -> None:
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "I-MISC"]
    assert to_iob2(iob1, "iob1") == [
        "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-MISC",
    ]  # fmt: skip


def test_to_iob2_from_bioes() -> None:
    bioes = ["S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "B-ORG", "E-ORG", "S-MISC"]
    assert to_iob2(bioes, "bioes") == [
        "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC",
    ]  # fmt: skip


def test_to_iob2_keeps_iob2() -> None:
    tags = ["B-PER", "I-PER", "O", "I-LOC"]
    assert to_iob2(tags, "iob2") == tags
    with pytest.raises(ValueError, match="scheme"):
        to_iob2(tags, "bilou")


def test_check_tag() -> None:
    for tag in ("O", "B-PER", "S-LOC", "E-MISC", "I-ORG"):
        assert check_tag(tag, "bioes") is None
    assert check_tag("B-PER", "iob2") is None and check_tag("I-PER", "iob1") is None
    for bad in ("X", "B-", "Q-PER", "o", "PER"):
        assert check_tag(bad, "bioes"), bad
    assert check_tag("S-LOC", "iob2") == "tag 'S-LOC' has prefix 'S'; iob2 tags start with B/I-"
    assert check_tag("E-LOC", "iob1")
    assert check_tag("B-", "bioes") == "tag 'B-' has no entity type after B-"
    assert SCHEMES == ("iob1", "iob2", "bioes")


def test_entity_types() -> None:
    assert entity_types(["O", "B-PER", "I-PER", "B-LOC", "I-MISC"]) == ["LOC", "MISC", "PER"]
    assert entity_types(["O"]) == []


def _shared_data() -> Path:
    root = os.environ.get("DLKIT_DATA_DIR")
    return Path(root) if root else REPO.parent / "shared" / "data"


@pytest.mark.skipif(
    not (_shared_data() / "conll2003" / "dev.txt").is_file(), reason="no CoNLL-2003 copy here"
)
def test_real_conll2003_dev() -> None:
    read = read_conll(_shared_data() / "conll2003" / "dev.txt")
    assert read.skipped == []
    assert len(read.sentences) == 3250
    assert sum(len(s.tokens) for s in read.sentences) == 51362
    tags = {tag for s in read.sentences for tag in s.tags}
    assert all(check_tag(tag, "iob2") is None for tag in tags)
    assert entity_types(tags) == ["LOC", "MISC", "ORG", "PER"]
