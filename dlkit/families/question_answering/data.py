"""SQuAD v1.1 splits (official JSON or tables) tokenized into overlapping windows: training
windows carry the answer's start and end token; evaluation windows also keep what
post-processing needs to map logits back to answer text (their question's id, the offsets of
their context tokens, the context and the reference answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from dlkit.data.hub import Fetched, fetch_missing
from dlkit.data.labelled import LabelledData
from dlkit.data.layout import Expected
from dlkit.data.rows import TableFile
from dlkit.errors import DataError
from dlkit.families.question_answering.batches import QuestionBatch
from dlkit.families.question_answering.features import (
    DOC_STRIDE,
    MAX_LENGTH,
    prepare_eval_features,
    prepare_train_features,
)
from dlkit.families.question_answering.layout import PAIR, squad_layout
from dlkit.families.question_answering.squad import (
    SquadSplit,
    read_rows,
    read_split,
    split_by_article,
)

SPLITS = ("train", "validation", "test", "eval")


class QuestionAnsweringData(LabelledData):
    """Reads every configured split (`files.<split>`, or its `hub` split when the file is
    absent). One file may be split by article instead (see `layout.squad_layout`): its last
    `validation_articles` articles are the validation split (SQuAD's test set is hidden, so
    its dev file is what there is to train and validate on). A bad question (no id, no
    answer, an answer that is not in its context at its offset) is an error, or dropped and
    counted under `on_bad_row=skip`. There are no labels: `label_names` stays empty."""

    counted = "questions"

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        validation_articles: int | None = None,
        hub: dict[str, Any] | None = None,
        doc_stride: int = DOC_STRIDE,
        id_column: str = "id",
        question_column: str = "question",
        context_column: str = "context",
        answers_column: str = "answers",
        answer_text_column: str = "answer_text",
        answer_start_column: str = "answer_start",
        on_bad_row: str = "error",
        max_length: int = MAX_LENGTH,
        group_by_length: bool = False,
        batch_size: int = 32,
        eval_batch_size: int = 64,
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
        # Tables only (SQuAD JSON has its own layout): see `squad.read_table`.
        self.columns = {
            "id_column": id_column,
            "question_column": question_column,
            "context_column": context_column,
            "answers_column": answers_column,
            "answer_text_column": answer_text_column,
            "answer_start_column": answer_start_column,
        }
        self.validation_articles = validation_articles
        self.hub = hub or {}
        self.by_article: str | None = None  # the split whose file `load` split by article
        self.doc_stride = doc_stride
        # Per evaluation split: question id -> (context, reference answer texts).
        self.questions: dict[str, dict[str, tuple[str, list[str]]]] = {}
        self.tokenizer: PreTrainedTokenizerBase | None = None

    # -- loading -------------------------------------------------------------------------
    def layout(self) -> tuple[list[Expected], str | None]:
        """The files read (each with its hub source) and the one split by article, if any."""
        return squad_layout(self.files, self.hub, self.validation_articles)

    def load(self, splits: tuple[str, ...] = SPLITS, label_names: list[str] | None = None) -> None:
        """Read the splits asked for that have a file or a hub split (a file's absent split
        from the hub; train and validation from one file's articles where `layout` says)."""
        expected, by_article = self.layout()
        paired = set(PAIR) & set(splits) if by_article else set()
        wanted = {s for s in splits if s not in paired} | ({by_article} if paired else set())
        expected = [e for e in expected if e.key in wanted]
        fetched = fetch_missing(self.name, expected, self.cache_dir / "datasets")
        read = {e.key: self._read(e, fetched) for e in expected}
        if paired:
            if by_article not in read:
                raise DataError(
                    f"No data to split by article: set data.files.{by_article} to a SQuAD file."
                )
            sides = split_by_article(read.pop(by_article), self.validation_articles)
            read.update({k: v for k, v in zip(PAIR, sides, strict=True) if k in splits})
        if not read:
            asked = ", ".join(f"data.files.{s}" for s in splits)
            raise DataError(f"No question answering data: set {asked} to a SQuAD file.")
        self.by_article = by_article
        for split, squad in read.items():
            self.report_skipped(squad.source, squad.skipped, len(squad.rows))
            self.raw[split] = squad.dataset()
            self.sources[split], self.skipped[split] = squad.source, sorted(squad.skipped)

    def _read(self, item: Expected, fetched: dict[str, Fetched]) -> SquadSplit:
        """A split's local file, or its hub copy when the file is absent."""
        skip = self.on_bad_row == "skip"
        if item.key in fetched:
            copy = fetched[item.key]
            return read_rows(TableFile(copy.source, copy.dataset), skip, **self.columns)
        return read_split(
            Path(str(item.path)).expanduser(),
            item.setting,
            self.cache_dir / "datasets",
            skip=skip,
            **self.columns,
        )

    def train_texts(self) -> Iterator[str]:
        train = self.raw["train"]
        seen: set[str] = set()
        for question, context in zip(train["question"], train["context"], strict=True):
            yield question
            if context not in seen:  # a paragraph has several questions
                seen.add(context)
                yield context

    # -- tokenization --------------------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Training windows with answer positions; evaluation windows with them too (for
        the loss) and with their question id and context offsets. Cached per split in Arrow
        files keyed on the tokenizer, the file, the reading and the window settings."""
        reading = (self.columns, self.validation_articles if self.by_article else None)
        encoders = {"train": _encode_train, "eval": _encode_eval}
        self.encode_splits(tokenizer, encoders, {"doc_stride": self.doc_stride}, reading)
        for split, dataset in self.raw.items():
            if split != "train":
                self.questions[split] = {
                    row["id"]: (row["context"], list(row["answers"]["text"])) for row in dataset
                }
        self.tokenizer = tokenizer

    def collator(self, split: str) -> QuestionBatch:
        if self.tokenizer is None:
            raise DataError("The data is not tokenized yet: call tokenize first.")
        return QuestionBatch(self.tokenizer, self.questions.get(split))


def _encode_train(batch: dict, tokenizer, max_length: int, doc_stride: int, **_: Any) -> dict:
    return prepare_train_features(batch, tokenizer, max_length, doc_stride)


def _encode_eval(batch: dict, tokenizer, max_length: int, doc_stride: int, **_: Any) -> dict:
    """The evaluation windows, with the training windows' answer positions (the same
    tokenizer call makes the same windows, in the same order)."""
    encoded = prepare_eval_features(batch, tokenizer, max_length, doc_stride)
    positions = prepare_train_features(batch, tokenizer, max_length, doc_stride)
    encoded["start_positions"] = positions["start_positions"]
    encoded["end_positions"] = positions["end_positions"]
    return dict(encoded)
