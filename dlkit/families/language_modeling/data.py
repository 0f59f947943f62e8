"""Raw text for language-model pretraining: many files or a hub dataset, streamed (no pass
holds the corpus in memory), tokenized once into an on-disk token store (cached) and served
as fixed-length blocks of it, so no compute goes to padding and memory stays flat."""

from __future__ import annotations

import glob
import math
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
from transformers import (
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from dlkit.data import fingerprint, token_store
from dlkit.data.base import PreparedData
from dlkit.data.hub import fetch_missing
from dlkit.errors import DataError
from dlkit.families.language_modeling.sources import as_sources, corpus_files, text_column
from dlkit.families.language_modeling.text_sources import TextSource, file_source, hub_source

# Lines tokenized, then packed, together: no block spans two groups, and each group's tail
# (fewer than block_size tokens) is left out. Part of the block layout: changing it changes
# every block after the first group (it was the `datasets.map` batch size of the packing).
GROUP_LINES = 10_000


class CorpusData(PreparedData):
    """`sources`: a list of {path (file or glob), text_column (tables and jsonl), format
    (conll: a tagging file's words), hub (the split it comes from when absent)}, or of plain
    paths (`data.sources=[/path/to/text.txt]`); `hub`: a whole hub corpus besides them. The
    last `validation_fraction` of every source's lines is held out, so held-out text never
    sits next to training text inside a block."""

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
        self.texts: list[TextSource] = []  # re-readable: no line stays in memory
        self.files: dict[str, str] = {}
        self.stats: dict[str, Any] = {}
        self.tokenizer: PreTrainedTokenizerBase | None = None

    # -- reading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = (), label_names: list[str] | None = None) -> None:
        fetched = fetch_missing(self.name, corpus_files(self.sources, self.hub), self._ds_cache)
        texts = []
        if "hub" in fetched:
            texts.append(hub_source(fetched["hub"], text_column(self.hub), self.cache_dir))
        for i, source in enumerate(self.sources):
            copy = fetched.get(f"sources[{i}]")
            if copy is not None:
                texts.append(hub_source(copy, text_column(source), self.cache_dir))
                continue
            paths = sorted(glob.glob(str(Path(source["path"]).expanduser())))
            if not paths:
                raise DataError(
                    f"Corpus source not found: {source['path']} (from data.sources). Point "
                    "paths.data_dir (or $DLKIT_DATA_DIR) at the data, or fix the path or glob."
                )
            for path in paths:
                self.files[f"corpus:{path}"] = path
                texts.append(
                    file_source(
                        Path(path),
                        source.get("text_column"),
                        self._ds_cache,
                        self.cache_dir,
                        source.get("format"),
                    )
                )
        self.texts = [text.hold_out(self.validation_fraction) for text in texts]
        if not any(text.cut for text in self.texts):
            raise DataError("The corpus is empty: data.sources names no file with text.")

    @property
    def _ds_cache(self) -> Path:
        return self.cache_dir / "datasets"

    def split_texts(self, split: str) -> Iterator[str]:
        """A split's lines, read again from the sources: every source's first lines are
        training text, its last `validation_fraction` held out."""
        for text in self.texts:
            yield from text.part(split)

    def train_texts(self) -> Iterator[str]:
        return self.split_texts("train")

    def train_texts_key(self) -> str:
        """The sources' content hashes and cuts: the tokenizer cache need not read the text."""
        return fingerprint.key("train", [text.key() for text in self.texts])

    @property
    def lines(self) -> dict[str, list[str]]:
        """Both splits' lines as lists, read afresh: for small corpora and tests only."""
        return {split: list(self.split_texts(split)) for split in ("train", "validation")}

    def files_used(self) -> dict[str, str]:
        return self.files

    # -- tokenizing and packing ----------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Each split tokenized GROUP_LINES lines per call (the fast tokenizer spreads a call
        over every core), packed into a flat token file under the cache, keyed by the
        tokenizer, the settings and the sources' content hashes and cuts: a second run with
        the same inputs maps the file instead of tokenizing again."""
        self.tokenizer = tokenizer
        settings = (tokenizer.backend_tokenizer.to_str(), self.objective, self.block_size)
        vocab = max(len(tokenizer), max(tokenizer.get_vocab().values(), default=0) + 1)
        for split in ("train", "validation"):
            sources = [text.key() for text in self.texts]
            key = fingerprint.key(token_store.FORMAT, GROUP_LINES, settings, split, sources)
            path = self.cache_dir / "packed" / key / f"{split}.bin"
            stored = token_store.open_blocks(path) or token_store.write_blocks(
                path, self._groups(split, tokenizer), self.block_size, token_store.id_dtype(vocab)
            )
            blocks, meta = stored
            self.ready[split] = blocks
            self.stats[split] = {
                "lines": meta["lines"],
                "tokens": meta["tokens"],
                "blocks": meta["blocks"],
                # each group's tail < block_size
                "tokens_left_out_of_blocks": meta["tokens"] - meta["blocks"] * self.block_size,
            }
            if not meta["blocks"]:
                raise DataError(
                    f"The {split} part of the corpus has {meta['tokens']} tokens, fewer than one "
                    f"block of data.block_size={self.block_size}; add text or lower block_size."
                )
        if self.objective == "clm":
            self.stats["validation"]["unigram_perplexity"] = self.unigram_perplexity()

    def _groups(
        self, split: str, tokenizer: PreTrainedTokenizerBase
    ) -> Iterator[tuple[int, np.ndarray]]:
        lines = self.split_texts(split)
        while group := list(islice(lines, GROUP_LINES)):
            yield len(group), _encode(group, tokenizer, self.objective)

    def unigram_perplexity(self) -> float:
        """Perplexity of add-one unigram frequencies from the training blocks on the held-out
        tokens a causal LM predicts (every block position after the first)."""
        train, held_out = self.ready["train"], self.ready["validation"]
        size = max(len(self.tokenizer), int(held_out.tokens.max(initial=0)) + 1)
        counts = np.zeros(size, dtype=np.int64)
        for chunk in train.chunks():
            counts += np.bincount(chunk.ravel(), minlength=size)[:size]
        total, vocab = int(counts.sum()), len(self.tokenizer)
        log_p = np.log((counts + 1) / (total + vocab))
        nll, n = 0.0, 0
        for chunk in held_out.chunks():
            predicted = chunk[:, 1:]
            nll -= float(log_p[predicted].sum())
            n += predicted.size
        return math.exp(nll / n)

    def block_ids(self, split: str) -> list[list[int]]:
        """A split's packed blocks as plain lists of token ids (small corpora and tests)."""
        blocks = self.ready[split]
        return blocks.tokens.reshape(-1, self.block_size).tolist()

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


def _encode(lines: list[str], tokenizer: PreTrainedTokenizerBase, objective: str) -> np.ndarray:
    """The lines' ids end to end. MLM: [CLS] line [SEP] each, as BERT saw sentences; CLM: no
    specials, an end-of-text after each line to mark document boundaries."""
    special = objective == "mlm"
    backend = _plain_backend(tokenizer)
    if backend is not None:  # what tokenizer(lines) runs, without offsets or Python dicts
        ids = [e.ids for e in backend.encode_batch_fast(lines, add_special_tokens=special)]
    else:
        ids = tokenizer(
            lines,
            add_special_tokens=special,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )["input_ids"]
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=sum(map(len, ids)))
    if special:
        return flat
    ends = np.cumsum(np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)))
    return np.insert(flat, ends, tokenizer.eos_token_id)


def _plain_backend(tokenizer: PreTrainedTokenizerBase) -> Any:
    """The Rust tokenizer when calling `tokenizer(lines)` comes down to its `encode_batch`
    (the plain fast class, which dlkit's trained tokenizers are, with no truncation or padding
    set), else None. Its ids are the same; the Python dicts the call builds cost a fifth of
    the time."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    plain = (
        type(tokenizer) is PreTrainedTokenizerFast
        and hasattr(backend, "encode_batch_fast")
        and backend.truncation is None
        and backend.padding is None
        and backend.encode_special_tokens == bool(tokenizer.split_special_tokens)
    )
    return backend if plain else None
