"""What the datamodules of labelled files share, whatever their task: the bad-row policy,
the splits as read, run.json's description of them, and tokenization once into an Arrow cache
keyed on the tokenizer, the file and the settings."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
from transformers import PreTrainedTokenizerBase

from dlkit.data import fingerprint
from dlkit.data.base import PreparedData
from dlkit.data.collate import PadBatch
from dlkit.data.rows import BadRow
from dlkit.errors import ConfigError

POLICIES = ("error", "skip")

log = logging.getLogger(__name__)


class LabelledData(PreparedData):
    """Subclasses read each split into `raw` (and `sources`, `skipped`) in `load` and give
    `tokenize` their encoding function. Under `on_bad_row="error"` a bad row is an error naming
    its file and line; under "skip" it is dropped, counted, logged and listed by `describe`."""

    counted = "rows"  # what describe() counts per split

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        on_bad_row: str,
        max_length: int,
        group_by_length: bool,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        pin_memory: bool,
        cache_dir: str,
    ) -> None:
        super().__init__(name, batch_size, eval_batch_size, num_workers, pin_memory, cache_dir)
        if on_bad_row not in POLICIES:
            raise ConfigError(f"data.on_bad_row={on_bad_row} is not one of {', '.join(POLICIES)}.")
        self.files = {k: v for k, v in (files or {}).items() if v}
        self.on_bad_row = on_bad_row
        self.max_length = max_length
        self.group_by_length = group_by_length
        self.raw: dict[str, datasets.Dataset] = {}
        self.sources: dict[str, str] = {}
        self.skipped: dict[str, list[BadRow]] = {}
        self.collate: PadBatch | None = None

    def describe(self) -> dict[str, dict[str, Any]]:
        """Source (a file, or a hub dataset and split) and rows per split; under skip also
        how many were dropped, and the first five."""
        info: dict[str, dict[str, Any]] = {}
        for split, dataset in self.raw.items():
            info[split] = {"source": self.sources.get(split), self.counted: len(dataset)}
            if self.on_bad_row == "skip":
                skipped = self.skipped[split]
                info[split]["skipped"] = len(skipped)
                info[split]["skipped_examples"] = [row.record() for row in skipped[:5]]
        return info

    def files_used(self) -> dict[str, str]:
        return {split: src for split, src in self.sources.items() if Path(src).is_file()}

    def report_skipped(self, source: str, skipped: Sequence[BadRow], kept: int) -> None:
        """Under on_bad_row=skip, one warning per split: how many were dropped, of which
        kinds, and where the first ones are."""
        if not skipped:
            return
        kinds = Counter(row.kind for row in skipped)
        log.warning(
            "Skipped %d of %d %s of %s (data.on_bad_row=skip): %s; first at %s.",
            len(skipped),
            len(skipped) + kept,
            self.counted,
            source,
            ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()),
            ", ".join(map(str, sorted(skipped)[:3])),
        )

    def collator(self, split: str) -> PadBatch:
        return self.collate

    def encode_splits(
        self,
        tokenizer: PreTrainedTokenizerBase,
        encode: Callable[..., dict] | Mapping[str, Callable[..., dict]],
        settings: dict[str, Any],
        read_with: object = None,
    ) -> None:
        """`encode(batch, tokenizer, label2id, max_length, **settings)` over every split read;
        `{"train": ..., "eval": ...}` where training rows encode otherwise than the rest.
        The cache key: the tokenizer, the file, what decides which rows are kept and how they
        read (`on_bad_row`; `read_with`, the subclass's reading settings) and the settings."""
        label2id = {name: i for i, name in enumerate(self.label_names)}
        options = {"label2id": label2id, "max_length": self.max_length, **settings}
        key = (tokenizer.backend_tokenizer.to_str(), self.on_bad_row, read_with, options)
        for split, dataset in self.raw.items():
            source = self.sources[split]
            data = (
                fingerprint.cached_file_sha256(source, self.cache_dir)
                if Path(source).is_file()
                else dataset._fingerprint
            )
            folder = self.cache_dir / "tokenized" / fingerprint.key(key, data)
            folder.mkdir(parents=True, exist_ok=True)
            self.ready[split] = dataset.map(
                encode if callable(encode) else encode["train" if split == "train" else "eval"],
                batched=True,
                fn_kwargs={"tokenizer": tokenizer, **options},
                remove_columns=dataset.column_names,
                cache_file_name=str(folder / f"{split}.arrow"),
                load_from_cache_file=True,
                desc=f"Tokenizing {split}",
            )
        self.collate = PadBatch(tokenizer)
