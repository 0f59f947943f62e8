"""The SQuAD reader (JSON and tables), its bad-row handling, and the split by article."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dlkit.errors import DataError
from dlkit.families.question_answering.squad import (
    read_split,
    read_squad_json,
    split_by_article,
)

DEV = Path("/work/shared/data/squad_v1.1/dev-v1.1.json")
CONTEXT = "Paris is the capital of France. It lies on the Seine."


def _qa(qid: str, text: str, start: int) -> dict:
    answers = [{"text": text, "answer_start": start}]
    return {"id": qid, "question": f"Question {qid}?", "answers": answers}


def _squad(path: Path, articles: int = 3, bad: bool = False) -> Path:
    data = []
    for a in range(articles):
        qas = [_qa(f"a{a}q0", "Paris", 0), _qa(f"a{a}q1", "the Seine", 43)]
        data.append({"title": f"Article_{a}", "paragraphs": [{"context": CONTEXT, "qas": qas}]})
    if bad:  # "France" is at 24, not 23
        data[1]["paragraphs"][0]["qas"].append(_qa("bad-id-7", "France", 23))
    path.write_text(json.dumps({"version": "1.1", "data": data}), encoding="utf-8")
    return path


def test_reads_squad_json_into_rows(tmp_path: Path) -> None:
    split = read_squad_json(_squad(tmp_path / "s.json"))
    assert len(split.rows) == 6 and split.skipped == []
    assert split.titles == ["Article_0", "Article_1", "Article_2"]
    row = split.rows[1]
    assert row == {
        "id": "a0q1",
        "title": "Article_0",
        "context": CONTEXT,
        "question": "Question a0q1?",
        "answers": {"text": ["the Seine"], "answer_start": [43]},
    }
    assert split.dataset().num_rows == 6


def test_a_bad_offset_names_file_and_id(tmp_path: Path) -> None:
    path = _squad(tmp_path / "bad.json", bad=True)
    with pytest.raises(DataError) as err:
        read_squad_json(path)
    message = str(err.value)
    assert str(path) in message and "bad-id-7" in message and "question 5" in message
    assert "on_bad_row=skip" in message


def test_a_bad_offset_is_skipped_and_counted(tmp_path: Path) -> None:
    split = read_squad_json(_squad(tmp_path / "bad.json", bad=True), skip=True)
    assert len(split.rows) == 6
    assert len(split.skipped) == 1
    assert split.skipped[0].kind == "answer off its context"
    assert "bad-id-7" in split.skipped[0].detail
    assert all(row["id"] != "bad-id-7" for row in split.rows)


def test_tables_with_flat_or_nested_answers(tmp_path: Path) -> None:
    flat = tmp_path / "qa.csv"
    with open(flat, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "context", "answer_text", "answer_start"])
        writer.writerow(["x1", "Capital?", CONTEXT, "Paris", "0"])
        writer.writerow(["x2", "River?", CONTEXT, "Seine", "40"])  # at 47
    with pytest.raises(DataError, match=r"line 3.*'x2'"):
        read_split(flat, "data.files.train", tmp_path / "cache")
    split = read_split(flat, "data.files.train", tmp_path / "cache", skip=True)
    assert [r["id"] for r in split.rows] == ["x1"] and len(split.skipped) == 1
    assert split.rows[0]["answers"] == {"text": ["Paris"], "answer_start": [0]}

    nested = tmp_path / "qa.jsonl"
    answers = {"text": ["Seine", "the Seine"], "answer_start": [47, 43]}
    line = {"question": "River?", "context": CONTEXT, "answers": answers}
    nested.write_text(json.dumps(line) + "\n", encoding="utf-8")
    rows = read_split(nested, "data.files.validation", tmp_path / "cache").rows
    assert rows[0]["id"] == "1" and rows[0]["answers"] == answers  # id: the line number

    missing = tmp_path / "m.jsonl"
    missing.write_text(json.dumps({"question": "q", "context": "c"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'answer_text'"):
        read_split(missing, "data.files.train", tmp_path / "cache")


def test_split_by_article_on_a_small_file(tmp_path: Path) -> None:
    split = read_squad_json(_squad(tmp_path / "s.json", articles=5))
    train, validation = split_by_article(split, validation_articles=2)
    assert train.titles == ["Article_0", "Article_1", "Article_2"]
    assert validation.titles == ["Article_3", "Article_4"]
    assert {r["title"] for r in validation.rows} == {"Article_3", "Article_4"}
    with pytest.raises(DataError, match="leaves one side empty"):
        split_by_article(split, validation_articles=5)


@pytest.mark.skipif(not DEV.is_file(), reason="the shared SQuAD dev file is not here")
def test_split_by_article_on_the_official_dev_file() -> None:
    split = read_squad_json(DEV)
    assert (len(split.titles), len(split.rows), len(split.skipped)) == (48, 10570, 0)
    train, validation = split_by_article(split)
    assert (len(train.titles), len(train.rows)) == (38, 8582)
    assert (len(validation.titles), len(validation.rows)) == (10, 1988)
    assert validation.titles[0] == "Intergovernmental_Panel_on_Climate_Change"
    assert validation.titles[-1] == "Force"
    train_titles = {r["title"] for r in train.rows}
    validation_titles = {r["title"] for r in validation.rows}
    assert not train_titles & validation_titles
    assert {r["context"] for r in train.rows}.isdisjoint(r["context"] for r in validation.rows)
    again_train, again_validation = split_by_article(read_squad_json(DEV))
    assert [r["id"] for r in again_train.rows] == [r["id"] for r in train.rows]
    assert [r["id"] for r in again_validation.rows] == [r["id"] for r in validation.rows]
