"""A hub split (rajpurkar/squad: id, title, context, question, answers) written as the file its
data config expects (`dlkit data get`): SQuAD v1.1 JSON for .json, as the official files are
(rows grouped into articles by title and into paragraphs by context, in the hub's order), or
a table with the same columns for .jsonl and .parquet. The reader takes either as it takes
any local file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.files import write_table
from dlkit.errors import DataError

VERSION = "1.1"


def write(data: Mapping[str, Any], dataset: datasets.Dataset, path: Path, setting: str) -> None:
    names = {
        "id": str(data.get("id_column") or "id"),
        "question": str(data.get("question_column") or "question"),
        "context": str(data.get("context_column") or "context"),
        "answers": str(data.get("answers_column") or "answers"),
    }
    missing = [c for c in names.values() if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"The hub copy has no column '{missing[0]}' (it has {dataset.column_names}); set "
            "data.id_column, data.question_column, data.context_column and "
            "data.answers_column to its columns."
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        columns = dataset[:]
        titles = columns["title"] if "title" in columns else [""] * len(dataset)
        rows = zip(titles, *(columns[c] for c in names.values()), strict=True)
        squad = {"data": articles(rows), "version": VERSION}
        path.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    elif suffix in (".jsonl", ".parquet"):
        keep = [*(["title"] if "title" in dataset.column_names else []), *names.values()]
        write_table(dataset.select_columns(keep), path, setting)
    else:
        raise DataError(
            f"{setting} names a {suffix or 'suffix-less'} file, but a question answering split "
            "is written as SQuAD JSON (.json), .jsonl or .parquet (its answers are lists, "
            f"which a {suffix.lstrip('.') or 'such'} file cannot hold); set {setting} to a "
            ".json file."
        )


def articles(rows: Any) -> list[dict[str, Any]]:
    """(title, id, question, context, answers) rows as SQuAD's articles: one per title, a
    paragraph per context within it, both in order of first appearance; answers given as
    {text: [...], answer_start: [...]}, as the hub keeps them."""
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for title, qid, question, context, answers in rows:
        qa = {
            "id": str(qid),
            "question": question,
            "answers": [
                {"text": text, "answer_start": int(start)}
                for text, start in zip(answers["text"], answers["answer_start"], strict=True)
            ],
        }
        grouped.setdefault(str(title or ""), {}).setdefault(context, []).append(qa)
    return [
        {
            "title": title,
            "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()],
        }
        for title, paragraphs in grouped.items()
    ]
