"""Text pairs as the seq2seq family reads them: parallel files line by line and their errors,
tables with several references, the shared unigram vocabulary, targets tokenized as labels
and padded with -100."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlkit.errors import DataError
from dlkit.families.seq2seq.data import Seq2SeqData
from tests.test_data_command import no_network  # noqa: F401 (a fixture)

DE = ["Ein Hund läuft.", "Zwei Katzen schlafen.", "Ein Mann liest ein Buch."]
EN = ["A dog runs.", "Two cats sleep.", "A man reads a book."]


def _parallel(folder: Path, stem: str, de: list[str], en: list[str]) -> Path:
    (folder / f"{stem}.de").write_text("".join(f"{t}\n" for t in de), encoding="utf-8")
    (folder / f"{stem}.en").write_text("".join(f"{t}\n" for t in en), encoding="utf-8")
    return folder / f"{stem}.de"


def _data(tmp_path: Path, files: dict, **settings) -> Seq2SeqData:
    langs = {"source_lang": "de", "target_lang": "en"}
    return Seq2SeqData("t", files, cache_dir=str(tmp_path / "cache"), **{**langs, **settings})


def test_parallel_files_pair_line_i_with_line_i(tmp_path: Path) -> None:
    train = _parallel(tmp_path, "train", DE, EN)
    data = _data(tmp_path, {"train": str(train)})
    data.load(("train",))
    rows = data.raw["train"]
    assert rows["source"] == DE and rows["target"] == EN
    assert rows["references"] == [[t] for t in EN]
    assert data.describe()["train"] == {"source": str(train), "pairs": 3}
    used = data.files_used()
    assert used["train"] == str(train) and used["train target"] == str(tmp_path / "train.en")
    assert list(data.train_texts()) == DE + EN  # one vocabulary learns both sides


def test_sides_of_different_lengths_name_both_files(tmp_path: Path) -> None:
    train = _parallel(tmp_path, "train", DE, EN[:2])
    with pytest.raises(DataError) as err:
        _data(tmp_path, {"train": str(train)}).load(("train",))
    message = str(err.value)
    assert f"{train} has 3 lines but {tmp_path / 'train.en'} has 2" in message


def test_an_empty_side_is_an_error_naming_its_line_or_is_skipped_and_counted(
    tmp_path: Path,
) -> None:
    train = _parallel(tmp_path, "train", DE, [EN[0], " ", EN[2]])
    with pytest.raises(DataError, match=r"train.de, line 2: empty target .*on_bad_row=skip"):
        _data(tmp_path, {"train": str(train)}).load(("train",))
    data = _data(tmp_path, {"train": str(train)}, on_bad_row="skip")
    data.load(("train",))
    assert data.raw["train"]["source"] == [DE[0], DE[2]]
    described = data.describe()["train"]
    assert described["pairs"] == 2 and described["skipped"] == 1
    assert described["skipped_examples"][0]["line"] == 2


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path: Path) -> None:
    train = _parallel(tmp_path, "train", DE, EN)
    (tmp_path / "train.en").write_bytes(b"A dog runs.\nTwo \xff cats.\nA man.\n")
    with pytest.raises(DataError, match=r"train.en, line 2: not UTF-8"):
        _data(tmp_path, {"train": str(train)}).load(("train",))


def test_a_missing_target_side_and_missing_languages_are_explained(tmp_path: Path) -> None:
    (tmp_path / "train.de").write_text("Ein Hund.\n")
    with pytest.raises(DataError, match=r"Data file not found: .*train.en .*data.files.train"):
        _data(tmp_path, {"train": str(tmp_path / "train.de")}).load(("train",))
    data = Seq2SeqData("t", {"train": str(tmp_path / "train.de")}, cache_dir=str(tmp_path))
    with pytest.raises(DataError, match="set data.source_lang and data.target_lang"):
        data.load(("train",))


def test_a_table_split_with_several_references_scores_against_all(tmp_path: Path) -> None:
    """DialogSum's test split: summary1..3 and no summary column; the loss learns the
    first, generation is scored against all three."""
    test = tmp_path / "test.jsonl"
    rows = [
        {"dialogue": "#Person1#: Hi.\n#Person2#: Hello.", "summary1": "a", "summary2": "b",
         "summary3": "c"},
        {"dialogue": "#Person1#: Bye.", "summary1": "d", "summary2": "e", "summary3": "f"},
    ]  # fmt: skip
    test.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = Seq2SeqData(
        "t",
        {"test": str(test)},
        source_column="dialogue",
        target_column="summary",
        reference_columns=["summary1", "summary2", "summary3"],
        cache_dir=str(tmp_path),
    )
    data.load(("test",))
    assert data.raw["test"]["target"] == ["a", "d"]
    assert data.raw["test"]["references"] == [["a", "b", "c"], ["d", "e", "f"]]
    wrong = Seq2SeqData("t", {"test": str(test)}, source_column="text", cache_dir=str(tmp_path))
    with pytest.raises(DataError, match=r"no source column 'text'.*data.source_column"):
        wrong.load(("test",))


def test_targets_become_labels_padded_with_minus_100(tmp_path: Path) -> None:
    from dlkit.models.tokenizer import train_tokenizer

    train = _parallel(tmp_path, "train", DE * 20, EN * 20)
    data = _data(
        tmp_path, {"train": str(train), "validation": str(train)}, source_prefix="translate "
    )
    data.load(("train", "validation"))
    tokenizer = train_tokenizer("unigram", data.train_texts(), 80, False, tmp_path)
    data.tokenize(tokenizer)
    rows = [data.ready["validation"][i] for i in range(3)]
    eos = tokenizer.eos_token_id
    for row, source, target in zip(rows, DE, EN, strict=True):
        assert row["labels"] == tokenizer(text_target=target)["input_ids"]
        assert row["labels"][-1] == eos and row["input_ids"][-1] == eos
        assert tokenizer.decode(row["input_ids"], skip_special_tokens=True) == f"translate {source}"
    batch = data.collator("validation")(rows)
    longest = max(len(r["labels"]) for r in rows)
    assert batch["labels"].shape == (3, longest)
    for i, row in enumerate(rows):
        assert batch["labels"][i, : len(row["labels"])].tolist() == row["labels"]
        assert (batch["labels"][i, len(row["labels"]) :] == -100).all()
        pad = batch["input_ids"][i, len(row["input_ids"]) :]
        assert (pad == tokenizer.pad_token_id).all()
        assert batch["attention_mask"][i].sum() == len(row["input_ids"])
    assert batch["references"] == [[t] for t in EN]
    assert "references" not in data.collator("train")([data.ready["train"][0]])


def test_the_unigram_tokenizer_keeps_case_and_ends_with_eos(tmp_path: Path) -> None:
    from dlkit.models.tokenizer import train_tokenizer

    tokenizer = train_tokenizer("unigram", (DE + EN) * 10, 90, False, tmp_path)
    ids = tokenizer("Ein Hund läuft.")["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids("</s>")
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Ein Hund läuft."
    assert tokenizer.pad_token == "<pad>" and tokenizer.unk_token == "<unk>"


@pytest.fixture
def multi30k_hub(tmp_path) -> Path:
    """A stand-in for bentrevett/multi30k (en and de columns), never the network."""
    import datasets

    folder = tmp_path / "hub" / "multi30k"
    split = {"en": EN, "de": DE}
    datasets.DatasetDict(
        {s: datasets.Dataset.from_dict(split) for s in ("train", "validation", "test")}
    ).save_to_disk(str(folder))
    return folder


def test_absent_multi30k_comes_from_the_hub_and_data_get_writes_parallel_files(
    multi30k_hub,
    tmp_path,
    no_network,  # noqa: F811
) -> None:
    from hydra.utils import instantiate

    from dlkit.commands import data as data_command
    from dlkit.commands.data_check import check
    from tests.conftest import compose_root

    root = tmp_path / "root"
    common = [f"paths.data_dir={root}", f"paths.cache_dir={tmp_path / 'cache'}"]
    cfg = compose_root(["data=multi30k", "task=seq2seq", f"data.hub.path={multi30k_hub}", *common])
    check(cfg)
    data = instantiate(cfg.data)
    data.load(("train", "validation"))
    assert data.raw["train"]["source"] == DE and data.raw["train"]["target"] == EN
    assert data.sources["train"] == f"{multi30k_hub} train"
    assert not root.exists()

    argv = ["get", "multi30k", f"data.hub.path={multi30k_hub}", *common]
    assert data_command.main(argv) == 0
    folder = root / "multi30k"
    assert (folder / "train.de").read_text(encoding="utf-8").splitlines() == DE
    assert (folder / "test_2016_flickr.en").read_text(encoding="utf-8").splitlines() == EN
    local = compose_root(["data=multi30k", "task=seq2seq", "data.hub.path=null", *common])
    check(local)
    data = instantiate(local.data)
    data.load(("train",))
    assert data.sources["train"] == str(folder / "train.de") and data.raw["train"]["target"] == EN
    (folder / "val.en").unlink()  # one side gone: the command-line check names it
    with pytest.raises(DataError, match=r"val.en \(from data.files.validation \(its .en side\)\)"):
        check(local)
    assert no_network == []


def test_the_table_suffixes_are_the_readers() -> None:
    from dlkit.data.files import TABLES
    from dlkit.families.seq2seq.sides import TABLE_SUFFIXES

    assert set(TABLE_SUFFIXES) == set(TABLES)
