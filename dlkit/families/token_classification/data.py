"""Tagged sentences (CoNLL files, or json/jsonl/parquet with a tokens and a tags column),
tokenized into word pieces with one label per word."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
from transformers import PreTrainedTokenizerBase

from dlkit.data.conll import DOCSTART, Sentence, read_conll
from dlkit.data.conll import SUFFIXES as CONLL
from dlkit.data.files import TABLES, check_file, load_split
from dlkit.data.hub import Fetched, fetch_missing
from dlkit.data.labelled import LabelledData
from dlkit.data.layout import split_files
from dlkit.data.rows import BadRow, TableFile, every_row_bad
from dlkit.errors import ConfigError, DataError
from dlkit.families.token_classification import tagged
from dlkit.families.token_classification.metrics import IGNORE_INDEX
from dlkit.families.token_classification.tags import SCHEMES, check_tag, to_iob2

SPLITS = ("train", "validation", "test", "eval")


@dataclass
class _Split:
    """A split's sentences as read, the bad ones dropped under skip, and what a bad
    sentence's position counts ("line" in text files, "row" in parquet and JSON arrays)."""

    source: str
    sentences: list[Sentence]
    skipped: list[BadRow] = field(default_factory=list)
    unit: str = "line"


class TokenClassificationData(LabelledData):
    """Reads every configured split, converts its tags to IOB2 and takes the label set from
    the training split. A bad sentence: a line with the wrong columns, a tag outside the
    scheme, tokens and tags of different lengths, a tag the training data lacks.

    Word pieces: the first piece of each word carries the word's label (`labels`) and the
    others -100, so metrics score each word once. With `label_all_tokens` the loss also trains
    the other pieces (`piece_labels`: an I- tag for the pieces after a B-), so that a
    pipeline, which tags every piece, keeps a word in one entity."""

    counted = "sentences"

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        tag_scheme: str = "iob2",
        tag_column: int = -1,
        tokens_column: str = "tokens",
        tags_column: str = "tags",
        label_all_tokens: bool = False,
        hub: dict[str, Any] | None = None,
        on_bad_row: str = "error",
        max_length: int = 128,
        group_by_length: bool = False,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        cache_dir: str = ".cache/dlkit",
    ) -> None:
        super().__init__(
            name,
            files,
            on_bad_row,
            max_length,
            group_by_length,
            batch_size,
            eval_batch_size,
            num_workers,
            pin_memory,
            cache_dir,
        )
        if tag_scheme not in SCHEMES:
            raise ConfigError(f"data.tag_scheme={tag_scheme} is not one of {', '.join(SCHEMES)}.")
        self.tag_scheme = tag_scheme
        self.tag_column = tag_column
        self.columns = (tokens_column, tags_column)
        self.label_all_tokens = label_all_tokens
        # A hub copy names its columns its own way (CoNLL-2003: tokens, ner_tags).
        self.hub = hub or {}
        self.hub_columns = (
            self.hub.get("tokens_column") or tokens_column,
            self.hub.get("tags_column") or tags_column,
        )

    # -- loading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = SPLITS, label_names: list[str] | None = None) -> None:
        expected = [e for e in split_files(self.files, self.hub) if e.key in splits]
        fetched = fetch_missing(self.name, expected, self.cache_dir / "datasets")
        read = {e.key: self._read(e.key, fetched.get(e.key)) for e in expected}
        fixed = label_names is not None
        if label_names is None:
            if "train" not in read:
                raise DataError(
                    "No training data: set data.files.train to a tagged file (the tag set is "
                    "read from it)."
                )
            label_names = _label_names(s.tags for s in read["train"].sentences)
        self.label_names = list(label_names)
        known = set(self.label_names)
        origin = "of the trained model" if fixed else "read from the training data"

        def unknown(tags: list[str]) -> str | None:
            tag = next((t for t in tags if t not in known), None)
            return None if tag is None else f"'{tag}' is not in the tag set {origin}"

        for name, split in read.items():
            if fixed or name != "train":
                self._keep(split, "unknown tag", unknown)
            self.report_skipped(split.source, split.skipped, len(split.sentences))
            self.raw[name] = datasets.Dataset.from_dict(
                {
                    "tokens": [s.tokens for s in split.sentences],
                    "tags": [s.tags for s in split.sentences],
                }
            )
            self.sources[name], self.skipped[name] = split.source, sorted(split.skipped)

    def _read(self, name: str, fetched: Fetched | None = None) -> _Split:
        """A split's sentences in IOB2 (from its file, or the hub copy `fetched` when the
        file is absent), and the bad ones left out under skip."""
        setting = f"data.files.{name}"
        path = Path(self.files.get(name) or ".").expanduser()
        if fetched is not None:
            table = TableFile(fetched.source, fetched.dataset)
            split = self._from_rows(table, self.hub_columns, "data.hub.")
        elif path.suffix.lower() in CONLL:
            if not path.is_file():
                check_file(path, setting)  # the shared "not found" message
            conll = read_conll(path, self.tag_column, skip=self.on_bad_row == "skip")
            split = _Split(conll.source, conll.sentences, list(conll.skipped))
        elif path.suffix.lower() in TABLES:
            split = self._read_table(check_file(path, setting))
        else:
            raise DataError(
                f"Cannot read {path} (from {setting}): use a CoNLL file ({', '.join(CONLL)}) or "
                "json, jsonl or parquet with a tokens and a tags column."
            )

        def off_scheme(tags: list[str]) -> str | None:
            problem = next(filter(None, (check_tag(t, self.tag_scheme) for t in tags)), None)
            return problem and f"{problem} (data.tag_scheme={self.tag_scheme})"

        self._keep(split, "bad tag", off_scheme)
        for sentence in split.sentences:
            sentence.tags = to_iob2(sentence.tags, self.tag_scheme)
        return split

    def _read_table(self, path: Path) -> _Split:
        table = load_split(path, self.cache_dir / "datasets", skip=self.on_bad_row == "skip")
        return self._from_rows(table, self.columns, "data.")

    def _from_rows(self, table: TableFile, columns: tuple[str, str], settings: str) -> _Split:
        """Sentences from a tokens and a tags column (`<settings>tokens_column` and
        `tags_column` name them); CoNLL's -DOCSTART- rows, which hub copies keep, are no
        sentences."""
        have = table.dataset.column_names
        missing = [c for c in columns if c not in have]
        if missing:
            raise DataError(
                f"{table.source}: no column '{missing[0]}'; it has columns {have}. Set "
                f"{settings}tokens_column and {settings}tags_column."
            )
        split = _Split(table.source, [], list(table.skipped), "line" if table.lines else "row")
        tokens = table.dataset.select_columns(columns[0])[:][columns[0]]
        tags = tagged.names(table.dataset, columns[1])
        for row, (words, labels) in enumerate(zip(tokens, tags, strict=True)):
            if words == [DOCSTART]:
                continue
            problem = _shape_problem(words, labels)
            where = table.bad(row, "malformed row", problem or "", "Fix the row")
            if problem:
                self._bad(split, where)
            else:
                split.sentences.append(
                    Sentence(list(map(str, words)), list(map(str, labels)), where.number)
                )
        if not split.sentences and split.skipped:
            raise DataError(every_row_bad(split.source, split.skipped))
        if not split.sentences:
            raise DataError(f"{split.source} has no sentences.")
        return split

    def _keep(
        self, split: _Split, kind: str, problem_of: Callable[[list[str]], str | None]
    ) -> None:
        """Drop the sentences whose tags have a problem: an error, or under skip counted."""
        kept = []
        for sentence in split.sentences:
            problem = problem_of(sentence.tags)
            if problem is None:
                kept.append(sentence)
            else:
                fix = "Fix the tag or remove the sentence"
                self._bad(split, BadRow(sentence.line, split.unit, kind, problem, fix))
        if not kept:
            raise DataError(every_row_bad(split.source, split.skipped))
        split.sentences = kept

    def _bad(self, split: _Split, row: BadRow) -> None:
        if self.on_bad_row == "error":
            raise row.error(split.source)
        split.skipped.append(row)

    def train_texts(self) -> Iterator[str]:
        for words in self.raw["train"]["tokens"]:
            yield " ".join(words)

    # -- tokenization --------------------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        if not tokenizer.is_fast:
            raise ConfigError(
                "Token classification needs a fast tokenizer (word ids of each piece); "
                f"{type(tokenizer).__name__} is not one. Use a tokenizer.json-based model."
            )
        settings = {"label_all_tokens": self.label_all_tokens}
        read_with = (self.tag_scheme, self.tag_column, self.columns)
        self.encode_splits(tokenizer, _encode, settings, read_with)
        self.collate.fill["piece_labels"] = IGNORE_INDEX


def _shape_problem(words: Any, labels: Any) -> str | None:
    if not isinstance(words, list) or not words:
        return "the tokens are not a non-empty list"
    if not isinstance(labels, list) or len(labels) != len(words):
        count = len(labels) if isinstance(labels, list) else "no"
        return f"{len(words)} tokens but {count} tags"
    return None


def _label_names(sentences: Iterator[list[str]]) -> list[str]:
    """O first, then each type's B- and I- tags by type: the order the classifier's rows get."""
    present = {tag for tags in sentences for tag in tags}
    names = sorted(present - {"O"}, key=lambda t: (t[2:], t[:1]))
    return (["O"] if "O" in present else []) + names


def _encode(
    batch: dict, tokenizer, label2id: dict, max_length: int, label_all_tokens: bool
) -> dict:
    encoded = tokenizer(
        batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length
    )
    labels, pieces = [], []
    for row, tags in enumerate(batch["tags"]):
        previous, first, every = None, [], []
        for word in encoded.word_ids(row):
            if word is None:
                first.append(IGNORE_INDEX)
                every.append(IGNORE_INDEX)
            elif word != previous:
                first.append(label2id[tags[word]])
                every.append(first[-1])
            else:
                tag = tags[word]
                inside = f"I-{tag[2:]}" if tag.startswith("B-") else tag
                first.append(IGNORE_INDEX)
                every.append(label2id.get(inside, label2id[tag]))
            previous = word
        labels.append(first)
        pieces.append(every)
    encoded["labels"] = labels
    if label_all_tokens:
        encoded["piece_labels"] = pieces
    return encoded
