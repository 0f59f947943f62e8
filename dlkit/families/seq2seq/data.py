"""Text in, text out (translation, summarization): pairs read by `pairs`, sources tokenized
as inputs (after an optional `source_prefix`, T5's "translate German to English: ") and
targets as labels; evaluation rows keep their reference texts for BLEU or ROUGE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from dlkit.data import fingerprint
from dlkit.data.hub import Fetched, fetch_missing
from dlkit.data.labelled import LabelledData
from dlkit.data.layout import split_files
from dlkit.data.rows import TableFile
from dlkit.errors import DataError
from dlkit.families.seq2seq.batches import PairBatch
from dlkit.families.seq2seq.pairs import from_table, read_parallel, read_table
from dlkit.families.seq2seq.sides import is_table, target_file

SPLITS = ("train", "validation", "test", "eval")


class Seq2SeqData(LabelledData):
    """Each split is a table (`source_column`, `target_column`, and `reference_columns` where
    a split has several references) or, for any other file name, the source side of parallel
    text files whose target side ends in `.<target_lang>` instead of `.<source_lang>`.
    `metric` (bleu: sacreBLEU and chrF; rouge: ROUGE-1/2/L/Lsum) and `multi_reference` (max
    or mean over a row's references) say how generated text is scored."""

    counted = "pairs"

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        source_lang: str | None = None,
        target_lang: str | None = None,
        source_column: str = "source",
        target_column: str = "target",
        reference_columns: list[str] | None = None,
        source_prefix: str = "",
        metric: str = "bleu",
        multi_reference: str = "max",
        hub: dict[str, Any] | None = None,
        on_bad_row: str = "error",
        max_length: int = 128,
        max_target_length: int = 128,
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
        self.langs = (source_lang, target_lang)
        self.columns = (source_column, target_column, list(reference_columns or []))
        self.source_prefix = source_prefix
        self.metric = metric
        self.multi_reference = multi_reference
        self.max_target_length = max_target_length
        self.hub = hub or {}
        self.targets: dict[str, str] = {}  # split -> the target file of a parallel pair
        self.tokenizer: PreTrainedTokenizerBase | None = None

    # -- loading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = SPLITS, label_names: list[str] | None = None) -> None:
        expected = [e for e in split_files(self.files, self.hub) if e.key in splits]
        fetched = fetch_missing(self.name, expected, self.cache_dir / "datasets")
        for item in expected:
            table = self._read(item.key, str(item.path), fetched)
            self.report_skipped(table.source, table.skipped, len(table.dataset))
            self.raw[item.key], self.sources[item.key] = table.dataset, table.source
            self.skipped[item.key] = sorted(table.skipped)
        if not self.raw:
            asked = ", ".join(f"data.files.{s}" for s in splits)
            raise DataError(f"No text pairs: set {asked} to a file.")

    def _read(self, split: str, path: str, fetched: dict[str, Fetched]) -> TableFile:
        skip = self.on_bad_row == "skip"
        source, target, references = self.columns
        if split in fetched:
            copy = fetched[split]
            return from_table(
                TableFile(copy.source, copy.dataset), source, target, references, skip
            )
        setting = f"data.files.{split}"
        if is_table(path):
            cache = self.cache_dir / "datasets"
            return read_table(Path(path), setting, cache, source, target, references, skip)
        source_lang, target_lang = self._langs(setting)
        other = target_file(path, source_lang, target_lang)
        self.targets[split] = str(other)
        return read_parallel(Path(path).expanduser(), other, setting, skip)

    def _langs(self, setting: str) -> tuple[str, str]:
        if not all(self.langs):
            raise DataError(
                f"{setting} is not a table (csv, tsv, json, jsonl, parquet), so it is read as "
                "parallel text files: set data.source_lang and data.target_lang (the files' "
                "suffixes, e.g. de and en for train.de and train.en)."
            )
        return self.langs  # type: ignore[return-value]

    def files_used(self) -> dict[str, str]:
        used = super().files_used()
        used.update({f"{split} target": path for split, path in self.targets.items()})
        return used

    def train_texts(self) -> Iterator[str]:
        """Both sides: one vocabulary serves the encoder and the decoder."""
        if "train" not in self.raw:
            raise DataError("No training data: set data.files.train (a tokenizer learns from it).")
        train = self.raw["train"]
        yield from train["source"]
        yield from train["target"]

    # -- tokenization --------------------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Cached per split, keyed also on the target files of parallel pairs."""
        targets = {
            s: fingerprint.cached_file_sha256(p, self.cache_dir)
            for s, p in sorted(self.targets.items())
        }
        settings = {
            "max_target_length": self.max_target_length,
            "source_prefix": self.source_prefix,
        }
        reading = (self.columns, self.langs, targets)
        self.encode_splits(tokenizer, {"train": _encode, "eval": _encode_eval}, settings, reading)
        self.tokenizer = tokenizer

    def collator(self, split: str) -> PairBatch:
        if self.tokenizer is None:
            raise DataError("The data is not tokenized yet: call tokenize first.")
        return PairBatch(self.tokenizer)


def _encode(
    batch: dict,
    tokenizer,
    max_length: int,
    max_target_length: int,
    source_prefix: str,
    **_: Any,
) -> dict:
    sources = [source_prefix + s for s in batch["source"]]
    inputs = tokenizer(sources, truncation=True, max_length=max_length)
    targets = tokenizer(text_target=batch["target"], truncation=True, max_length=max_target_length)
    return {
        "input_ids": inputs["input_ids"],
        "attention_mask": inputs["attention_mask"],
        "labels": targets["input_ids"],
    }


def _encode_eval(batch: dict, tokenizer, **settings: Any) -> dict:
    """As training, plus the references (texts) generation is scored against."""
    return {**_encode(batch, tokenizer, **settings), "references": batch["references"]}
