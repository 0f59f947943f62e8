"""Labelled text (single sentences or pairs) for sequence classification."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from dlkit.data import fingerprint
from dlkit.data.base import PreparedData
from dlkit.data.files import check_file, load_hub, load_split
from dlkit.errors import DataError

SPLITS = ("train", "validation", "test", "eval")


class TextClassificationData(PreparedData):
    """Reads every configured split, derives the label set from the training split, and
    tokenizes once into an Arrow cache keyed on the tokenizer, the files and the settings."""

    def __init__(
        self,
        name: str,
        files: dict[str, str | None],
        text_column: str,
        label_column: str,
        text_pair_column: str | None = None,
        hub: dict[str, Any] | None = None,
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        cache_dir: str = ".cache/dlkit",
    ) -> None:
        super().__init__(name, batch_size, eval_batch_size, num_workers, pin_memory, cache_dir)
        self.files = {k: v for k, v in (files or {}).items() if v}
        self.hub = hub or {}
        self.text_columns = [c for c in (text_column, text_pair_column) if c]
        self.label_column = label_column
        self.max_length = max_length
        self.raw: dict[str, datasets.Dataset] = {}
        self.sources: dict[str, str] = {}
        self.collate: DataCollatorWithPadding | None = None

    # -- loading -------------------------------------------------------------------------
    def load(self, splits: tuple[str, ...] = SPLITS, label_names: list[str] | None = None) -> None:
        """Read and validate the raw splits. `label_names` fixes the label set (evaluation of
        a trained model); otherwise it comes from the training split."""
        for split in splits:
            source, dataset = self._read(split)
            if dataset is None:
                continue
            self._check_columns(split, source, dataset)
            self.raw[split], self.sources[split] = dataset, source
        if label_names is None:
            if "train" not in self.raw:
                raise DataError(
                    "No training data: set data.files.train to a labelled file "
                    "(the label set is read from it)."
                )
            label_names = _label_names(self.raw["train"][self.label_column])
        self.label_names = list(label_names)
        label2id = {name: i for i, name in enumerate(self.label_names)}
        for split, dataset in self.raw.items():
            self._check_labels(split, dataset, label2id)

    def _read(self, split: str) -> tuple[str, datasets.Dataset | None]:
        hub_split = (self.hub.get("splits") or {}).get(split)
        if self.hub.get("path") and hub_split:
            source = f"{self.hub['path']}/{self.hub.get('name')}:{hub_split}"
            return source, load_hub(
                self.hub["path"], self.hub.get("name"), hub_split, self._ds_cache
            )
        if split not in self.files:
            return "", None
        path = check_file(self.files[split], f"data.files.{split}")
        return str(path), load_split(path, self._ds_cache)

    @property
    def _ds_cache(self) -> Path:
        return self.cache_dir / "datasets"

    def _check_columns(self, split: str, source: str, dataset: datasets.Dataset) -> None:
        for role, column in [("text", c) for c in self.text_columns] + [
            ("label", self.label_column)
        ]:
            if column not in dataset.column_names:
                setting = "data.label_column" if role == "label" else "data.text_column"
                raise DataError(
                    f"{source}: no {role} column '{column}'; the file has columns "
                    f"{dataset.column_names}. Set {setting}=<one of them>."
                )
        for column in self.text_columns:
            for row, text in enumerate(dataset[column]):
                if not isinstance(text, str) or not text.strip():
                    raise DataError(
                        f"{source}: row {row + 1} has an empty or missing '{column}' "
                        f"(value {text!r}). Fix or remove that row."
                    )

    def _check_labels(self, split: str, dataset: datasets.Dataset, label2id: dict) -> None:
        for row, label in enumerate(dataset[self.label_column]):
            if label is None or str(label) not in label2id:
                raise DataError(
                    f"{self.sources[split]}: row {row + 1} has label {label!r}, which is not "
                    f"in the label set {list(label2id)} read from the training data."
                )

    def train_texts(self) -> Iterator[str]:
        for column in self.text_columns:
            yield from self.raw["train"][column]

    def describe(self) -> dict[str, dict[str, int]]:
        return {split: {"rows": len(dataset)} for split, dataset in self.raw.items()}

    def files_used(self) -> dict[str, str]:
        return {split: src for split, src in self.sources.items() if Path(src).is_file()}

    # -- tokenization --------------------------------------------------------------------
    def tokenize(self, tokenizer: PreTrainedTokenizerBase) -> None:
        label2id = {name: i for i, name in enumerate(self.label_names)}
        settings = (tokenizer.backend_tokenizer.to_str(), self.text_columns, self.max_length)
        for split, dataset in self.raw.items():
            data_key = (
                fingerprint.file_sha256(self.sources[split])
                if Path(self.sources[split]).is_file()
                else dataset._fingerprint
            )
            folder = self.cache_dir / "tokenized" / fingerprint.key(settings, data_key, label2id)
            folder.mkdir(parents=True, exist_ok=True)
            self.ready[split] = dataset.map(
                _encode,
                batched=True,
                fn_kwargs={
                    "tokenizer": tokenizer,
                    "columns": self.text_columns,
                    "label_column": self.label_column,
                    "label2id": label2id,
                    "max_length": self.max_length,
                },
                remove_columns=dataset.column_names,
                cache_file_name=str(folder / f"{split}.arrow"),
                load_from_cache_file=True,
                desc=f"Tokenizing {split}",
            )
        self.collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")

    def collator(self, split: str) -> DataCollatorWithPadding:
        return self.collate


def _label_names(values: list) -> list[str]:
    present = {v for v in values if v is not None}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return [str(v) for v in sorted(present)]
    return sorted(str(v) for v in present)


def _encode(batch: dict, tokenizer, columns, label_column, label2id, max_length) -> dict:
    texts = [batch[c] for c in columns]
    encoded = tokenizer(*texts, truncation=True, max_length=max_length)
    encoded["labels"] = [label2id[str(v)] for v in batch[label_column]]
    return encoded
