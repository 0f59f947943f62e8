"""Raw text for language-model pretraining: many files or a hub dataset, tokenized once
(cached) and packed into fixed-length blocks, so no compute goes to padding."""

from __future__ import annotations

import glob
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase

from dlkit.data import fingerprint
from dlkit.data.base import PreparedData
from dlkit.data.files import TABLES, load_split
from dlkit.data.hub import Fetched, fetch_missing
from dlkit.errors import DataError
from dlkit.families.language_modeling.sources import as_sources, corpus_files, text_column


class CorpusData(PreparedData):
    """`sources`: a list of {path (file or glob), text_column (tables and jsonl), hub (the
    split it comes from when absent)}, or of plain paths (`data.sources=[/path/to/text.txt]`);
    `hub`: a whole hub corpus besides them. The last
    `validation_fraction` of every source's lines is held out, so held-out text never sits
    next to training text inside a block."""

    def __init__(
        self,
        name: str,
        sources: list[dict[str, Any] | str] | str,
        objective: str = "mlm",
        block_size: int = 128,
        validation_fraction: float = 0.02,
        mlm_probability: float = 0.15,
        hub: dict[str, Any] | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        cache_dir: str = ".cache/dlkit",
    ) -> None:
        super().__init__(name, batch_size, eval_batch_size, num_workers, pin_memory, cache_dir)
        if objective not in ("mlm", "clm"):
            raise DataError(f"data.objective={objective} is not one of mlm, clm.")
        self.sources = as_sources(sources)
        self.hub = hub or {}
        self.objective = objective
        self.block_size = block_size
        self.validation_fraction = validation_fraction
        self.mlm_probability = mlm_probability
        self.seed = seed
        self.lines: dict[str, list[str]] = {"train": [], "validation": []}
        self.files: dict[str, str] = {}
        self.stats: dict[str, Any] = {}
        self.tokenizer: PreTrainedTokenizerBase | None = None

    # -- reading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = (), label_names: list[str] | None = None) -> None:
        fetched = fetch_missing(self.name, corpus_files(self.sources, self.hub), self._ds_cache)
        if "hub" in fetched:
            whole = fetched["hub"]
            self._hold_out(whole.source, list(_hub_lines(whole, text_column(self.hub))))
        for i, source in enumerate(self.sources):
            copy = fetched.get(f"sources[{i}]")
            if copy is not None:
                self._hold_out(copy.source, list(_hub_lines(copy, text_column(source))))
                continue
            paths = sorted(glob.glob(str(Path(source["path"]).expanduser())))
            if not paths:
                raise DataError(
                    f"Corpus source not found: {source['path']} (from data.sources). Point "
                    "paths.data_dir (or $DLKIT_DATA_DIR) at the data, or fix the path or glob."
                )
            for path in paths:
                self.files[f"corpus:{path}"] = path
                lines = _read_lines(Path(path), source.get("text_column"), self._ds_cache)
                self._hold_out(path, list(lines))
        if not self.lines["train"]:
            raise DataError("The corpus is empty: data.sources names no file with text.")

    @property
    def _ds_cache(self) -> Path:
        return self.cache_dir / "datasets"

    def _hold_out(self, source: str, lines: list[str]) -> None:
        cut = len(lines) - math.ceil(len(lines) * self.validation_fraction)
        self.lines["train"] += lines[:cut]
        self.lines["validation"] += lines[cut:]

    def train_texts(self) -> Iterator[str]:
        yield from self.lines["train"]

    def files_used(self) -> dict[str, str]:
        return self.files

    # -- tokenizing and packing ----------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        settings = (tokenizer.backend_tokenizer.to_str(), self.objective, self.block_size)
        for split, lines in self.lines.items():
            key = fingerprint.key(settings, fingerprint.key(lines))
            folder = self.cache_dir / "packed" / key
            folder.mkdir(parents=True, exist_ok=True)
            raw = datasets.Dataset.from_dict({"text": lines})
            ids = raw.map(
                _encode,
                batched=True,
                fn_kwargs={"tokenizer": tokenizer, "objective": self.objective},
                remove_columns=["text"],
                cache_file_name=str(folder / f"{split}-ids.arrow"),
                desc=f"Tokenizing {split}",
            )
            blocks = ids.map(
                _pack,
                batched=True,
                batch_size=10_000,
                fn_kwargs={"block_size": self.block_size},
                remove_columns=ids.column_names,
                cache_file_name=str(folder / f"{split}-blocks.arrow"),
                desc=f"Packing {split}",
            )
            self.ready[split] = blocks.with_format("torch")
            tokens = sum(len(x) for x in ids["input_ids"])
            kept = len(blocks) * self.block_size
            self.stats[split] = {
                "lines": len(lines),
                "tokens": tokens,
                "blocks": len(blocks),
                "tokens_left_out_of_blocks": tokens - kept,  # each batch's tail < block_size
            }
            if not len(blocks):
                raise DataError(
                    f"The {split} part of the corpus has {tokens} tokens, fewer than one block "
                    f"of data.block_size={self.block_size}; add text or lower block_size."
                )
        if self.objective == "clm":
            self.stats["validation"]["unigram_perplexity"] = self.unigram_perplexity()

    def unigram_perplexity(self) -> float:
        """Perplexity of add-one unigram frequencies from the training blocks on the held-out
        tokens a causal LM predicts (every block position after the first)."""
        counts = Counter(t for block in self.block_ids("train") for t in block)
        total, vocab = sum(counts.values()), len(self.tokenizer)
        nll, n = 0.0, 0
        for block in self.block_ids("validation"):
            for token in block[1:]:
                nll -= math.log((counts[token] + 1) / (total + vocab))
                n += 1
        return math.exp(nll / n)

    def block_ids(self, split: str) -> list[list[int]]:
        """A split's packed blocks as plain lists of token ids."""
        return self.ready[split].with_format(None)["input_ids"]

    def describe(self) -> dict[str, Any]:
        return self.stats

    def collator(self, split: str) -> DataCollatorForLanguageModeling | _SameMasks:
        """Random masks for training; elsewhere every batch is masked the same way at every
        validation, so scores compare across a run and `dlkit evaluate` reproduces them."""
        options = {
            "mlm": self.objective == "mlm",
            "mlm_probability": self.mlm_probability if self.objective == "mlm" else None,
        }
        if split == "train":
            return DataCollatorForLanguageModeling(self.tokenizer, **options)
        return _SameMasks(self.tokenizer, options, self.seed)


class _SameMasks:
    """A collator re-seeded for each batch (a seeded collator alone keeps one random stream,
    so a second validation in the same run would mask other tokens). Picklable for workers."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, options: dict, seed: int) -> None:
        self.tokenizer, self.options, self.seed = tokenizer, options, seed

    def __call__(self, examples: list[dict]) -> dict:
        collate = DataCollatorForLanguageModeling(self.tokenizer, seed=self.seed, **self.options)
        return collate(examples)


def _hub_lines(copy: Fetched, column: str) -> Iterator[str]:
    """The non-blank lines of a hub copy's text column."""
    if column not in copy.dataset.column_names:
        raise DataError(
            f"{copy.source}: no text column '{column}'; it has {copy.dataset.column_names}. Set "
            "the text_column of its hub entry."
        )
    for text in copy.dataset.select_columns(column)[:][column]:
        yield from (t.strip() for t in str(text or "").splitlines() if t.strip())


def _read_lines(path: Path, text_column: str | None, cache_dir: Path) -> Iterator[str]:
    """Plain text (any extension the table readers do not know): one non-blank line per item.
    Tables, json and jsonl (read by dlkit.data.files, like every labelled file): the lines of
    the named text column."""
    if path.suffix.lower() in TABLES:
        if not text_column:
            raise DataError(f"{path}: set text_column for this source in data.sources.")
        yield from _read_column(path, text_column, cache_dir)
        return
    try:
        with open(path, encoding="utf-8") as handle:
            yield from (line.strip() for line in handle if line.strip())
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not valid UTF-8 ({err.reason} at byte {err.start}).") from err


def _read_column(path: Path, column: str, cache_dir: Path) -> Iterator[str]:
    table = load_split(path, cache_dir)
    columns = table.dataset.column_names
    if column not in columns:
        raise DataError(f"{path}: no text column '{column}'; columns are {columns}.")
    for row, text in enumerate(table.dataset.select_columns(column)[:][column]):
        if text is None:
            bad = table.bad(row, "missing text", f"no '{column}' field", "Fill it in")
            raise DataError(bad.message(str(path)) + ".")
        yield from (t.strip() for t in str(text).splitlines() if t.strip())


def _encode(batch: dict, tokenizer: PreTrainedTokenizerBase, objective: str) -> dict:
    if objective == "mlm":  # [CLS] line [SEP], as BERT saw sentences
        return {"input_ids": tokenizer(batch["text"], verbose=False)["input_ids"]}
    eos = tokenizer.eos_token_id
    ids = tokenizer(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]
    return {"input_ids": [x + [eos] for x in ids]}  # end-of-text marks document boundaries


def _pack(batch: dict, block_size: int) -> dict:
    flat = [t for ids in batch["input_ids"] for t in ids]
    usable = len(flat) - len(flat) % block_size
    return {"input_ids": [flat[i : i + block_size] for i in range(0, usable, block_size)]}
