"""SQuAD v1.1 data: the official JSON (`data[].paragraphs[].qas[].answers[]`) or a table
(jsonl, csv, parquet) with question, context and answer columns, read into rows of one shape:
{id, title, context, question, answers: {text: [...], answer_start: [...]}}.

An answer whose text is not what the context holds at its start offset is a bad row: a
DataError naming the file and the question id, or under on_bad_row=skip dropped and counted,
as the other families do with their bad rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from dlkit.data.files import check_file, load_split
from dlkit.data.rows import BadRow, TableFile, every_row_bad
from dlkit.errors import DataError

VALIDATION_ARTICLES = 10  # the last 10 articles of a SQuAD file are the validation side
_ANSWER_FIX = "Fix the answer's text or answer_start so that the context holds the text there"
_SHAPE_FIX = "Give every question an id, a question, a context and at least one answer"


@dataclass
class SquadSplit:
    """A split's rows as read, the bad ones dropped under skip (`skipped`), and the article
    titles in file order (a table without a title column has none: its rows have title "")."""

    source: str
    rows: list[dict[str, Any]]
    skipped: list[BadRow] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def dataset(self) -> datasets.Dataset:
        return datasets.Dataset.from_list(self.rows)


def is_squad_json(path: Path) -> bool:
    """Whether a .json file is in SQuAD's nested layout (an object with a "data" list) rather
    than a table in JSON."""
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith(b"{") and b'"data"' in head


def read_split(
    path: str | Path, setting: str, cache_dir: Path, skip: bool = False, **columns: str
) -> SquadSplit:
    """One split from SQuAD JSON or a table; `columns` renames the table's columns (see
    `read_table`). `setting` (e.g. data.files.train) is what error messages point at."""
    path = check_file(path, setting)
    if is_squad_json(path):
        return read_squad_json(path, skip)
    return read_table(path, cache_dir, skip, **columns)


def read_squad_json(path: str | Path, skip: bool = False) -> SquadSplit:
    """Every question of a SQuAD v1.1 file, in file order. Bad questions are numbered by their
    1-based position in the file, and their id is given, since the file is one line."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            top = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"Cannot read {path} as SQuAD JSON: {err}.") from err
    if not isinstance(top, dict) or not isinstance(top.get("data"), list):
        raise DataError(
            f"{path} is not SQuAD JSON: it needs a top-level object with a 'data' list of "
            "articles ({title, paragraphs: [{context, qas: [{id, question, answers}]}]})."
        )
    split = SquadSplit(str(path), [])
    number = 0
    for a, article in enumerate(top["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataError(f"{path}: article {a + 1} has no 'paragraphs' list.")
        title = str(article.get("title", ""))
        split.titles.append(title)
        for paragraph in article["paragraphs"]:
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            for qa in paragraph.get("qas", []) if isinstance(paragraph, dict) else []:
                number += 1
                row, problem = _question(qa, title, context, number)
                _keep(split, row, problem, skip)
    _check_kept(split)
    return split


def read_table(path: str | Path, cache_dir: Path, skip: bool = False, **columns: str) -> SquadSplit:
    """A jsonl, csv or parquet table: answers either in one column of SQuAD's shape
    ({text: [...], answer_start: [...]}, as the hub's squad keeps them) or as one answer's
    text and start in two columns (what a csv can hold). Without an id column, a row's id is
    its line (or row) number. See `read_rows` for `columns`."""
    return read_rows(load_split(Path(path), cache_dir, skip=skip), skip, **columns)


def read_rows(
    table: TableFile,
    skip: bool = False,
    id_column: str = "id",
    question_column: str = "question",
    context_column: str = "context",
    answers_column: str = "answers",
    answer_text_column: str = "answer_text",
    answer_start_column: str = "answer_start",
    title_column: str = "title",
) -> SquadSplit:
    """The questions of a loaded table (a local file, or a hub split such as rajpurkar/squad,
    whose columns are id, title, context, question and answers). A `title_column`, where the
    table has one, names each row's article (titles in order of first appearance), which the
    split by article needs; without it every row has title ""."""
    have = table.dataset.column_names
    nested = answers_column in have
    needed = [question_column, context_column]
    needed += [answers_column] if nested else [answer_text_column, answer_start_column]
    missing = [c for c in needed if c not in have]
    if missing:
        raise DataError(
            f"{table.source}: no column '{missing[0]}'; it has columns {have}. A question "
            f"answering table needs '{question_column}', '{context_column}' and either "
            f"'{answers_column}' ({{text, answer_start}} lists) or '{answer_text_column}' and "
            f"'{answer_start_column}'."
        )
    split = SquadSplit(table.source, [], list(table.skipped))
    titled = title_column in have
    titles: dict[str, None] = {}
    for index, record in enumerate(table.dataset):
        where = table.bad(index, "", "", "")
        if nested:
            answers = record[answers_column]
        else:
            answers = {
                "text": [record[answer_text_column]],
                "answer_start": [record[answer_start_column]],
            }
        qa = {
            "id": record.get(id_column, str(where.number)),
            "question": record[question_column],
            "answers": _answer_list(answers),
        }
        title = str(record[title_column] or "") if titled else ""
        row, problem = _question(qa, title, record[context_column], where.number, where.unit)
        _keep(split, row, problem, skip)
        if row is not None and titled:
            titles.setdefault(title)
    split.titles = list(titles)
    _check_kept(split)
    return split


def split_by_article(
    split: SquadSplit, validation_articles: int = VALIDATION_ARTICLES
) -> tuple[SquadSplit, SquadSplit]:
    """Train and validation sides of one SQuAD file, split by article so that no article's
    paragraphs are on both sides (questions on one paragraph share its answers' wording).

    The rule: articles in file order, the last `validation_articles` to validation, the rest to
    training; file order is fixed, so the split is too. On the official dev-v1.1.json (48
    articles, 10,570 questions) that is 38 articles / 8,582 questions for training and 10
    articles / 1,988 questions for validation (Intergovernmental_Panel_on_Climate_Change to
    Force). Titles are assumed unique, as they are in SQuAD; a repeated title is an error."""
    titles = split.titles
    if len(set(titles)) != len(titles):
        repeated = next(t for t in titles if titles.count(t) > 1)
        raise DataError(
            f"{split.source}: the article title '{repeated}' appears twice, so the split by "
            "article cannot keep its paragraphs on one side. Give each article its own title."
        )
    if not 0 < validation_articles < len(titles):
        raise DataError(
            f"{split.source} has {len(titles)} articles; holding out {validation_articles} for "
            "validation leaves one side empty. Set the number of validation articles below "
            "the article count."
        )
    held_out = set(titles[-validation_articles:])
    sides = []
    for keep in (lambda t: t not in held_out, lambda t: t in held_out):
        sides.append(
            SquadSplit(
                split.source,
                [row for row in split.rows if keep(row["title"])],
                [],
                [t for t in titles if keep(t)],
            )
        )
    # A bad row has no article once dropped: the file's skip count goes with the training side.
    sides[0].skipped = list(split.skipped)
    return sides[0], sides[1]


def _answer_list(answers: Any) -> Any:
    """SQuAD's list of {text, answer_start} dicts from a {text: [...], answer_start: [...]}
    column; anything else is passed on for `_question` to reject."""
    if isinstance(answers, dict) and isinstance(answers.get("text"), list):
        starts = answers.get("answer_start")
        if isinstance(starts, list) and len(starts) == len(answers["text"]):
            pairs = zip(answers["text"], starts, strict=True)
            return [{"text": t, "answer_start": s} for t, s in pairs]
    return answers


def _question(
    qa: Any, title: str, context: Any, number: int, unit: str = "question"
) -> tuple[dict[str, Any] | None, BadRow | None]:
    """A row in the common shape, or what is wrong with the question."""

    def bad(kind: str, detail: str, fix: str) -> tuple[None, BadRow]:
        return None, BadRow(number, unit, kind, detail, fix)

    qid = qa.get("id") if isinstance(qa, dict) else None
    named = f"id {qid!r}: " if qid not in (None, "") else ""
    if not named:
        return bad("malformed question", "no id", _SHAPE_FIX)
    if not isinstance(context, str) or not context.strip():
        return bad("malformed question", f"{named}no context", _SHAPE_FIX)
    if not isinstance(qa.get("question"), str) or not qa["question"].strip():
        return bad("malformed question", f"{named}no question text", _SHAPE_FIX)
    answers = qa.get("answers")
    if not isinstance(answers, list) or not answers:
        return bad("malformed question", f"{named}no answers", _SHAPE_FIX)
    texts, starts = [], []
    for answer in answers:
        text = answer.get("text") if isinstance(answer, dict) else None
        start = _as_int(answer.get("answer_start") if isinstance(answer, dict) else None)
        if not isinstance(text, str) or not text or start is None:
            detail = f"{named}an answer without a text and an integer answer_start"
            return bad("malformed question", detail, _SHAPE_FIX)
        found = context[start : start + len(text)] if start >= 0 else ""
        if found != text:
            detail = f"{named}answer {text!r} at character {start}, the context there reads "
            return bad("answer off its context", detail + repr(found), _ANSWER_FIX)
        texts.append(text)
        starts.append(start)
    row = {
        "id": str(qid),
        "title": title,
        "context": context,
        "question": qa["question"],
        "answers": {"text": texts, "answer_start": starts},
    }
    return row, None


def _as_int(value: Any) -> int | None:
    """An offset as int: csv holds every value as text ("17")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _keep(split: SquadSplit, row: dict | None, problem: BadRow | None, skip: bool) -> None:
    if problem is None:
        split.rows.append(row)
    elif skip:
        split.skipped.append(problem)
    else:
        raise problem.error(split.source)


def _check_kept(split: SquadSplit) -> None:
    if split.rows:
        return
    if split.skipped:
        raise DataError(every_row_bad(split.source, split.skipped))
    raise DataError(f"{split.source} has no questions.")
