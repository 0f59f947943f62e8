"""What every datamodule shares: the contract a task family's data implements, loader
settings, and DataLoaders over its prepared splits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from dlkit.data.loader import ResumableLoader, Shard
from dlkit.errors import DataError


class PreparedData(L.LightningDataModule):
    """The runner calls `load` (read and check the raw splits), then `train_texts` (to train
    a tokenizer when the model has none), then `tokenize`, which fills `self.ready` (split
    name -> tokenized Dataset); `collator` says how a split's examples become a batch;
    `describe` and `files_used` go into run.json. A family's data implements the methods
    below that raise NotImplementedError."""

    def __init__(
        self,
        name: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        pin_memory: bool,
        cache_dir: str,
    ) -> None:
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.cache_dir = Path(cache_dir)
        self.ready: dict[str, Any] = {}  # datasets.Dataset, or any map-style dataset
        self.label_names: list[str] = []  # empty for unlabelled data
        self.group_by_length = False  # set by datamodules whose examples vary in length

    def load(self, splits: tuple[str, ...], label_names: list[str] | None = None) -> None:
        """Read and check the raw splits; `label_names` fixes the label set (evaluating a
        trained model), else labelled data takes it from its training split."""
        raise NotImplementedError

    def train_texts(self) -> Iterator[str]:
        """The training text a new tokenizer learns its vocabulary from; called more than
        once (each call reads it afresh)."""
        raise NotImplementedError

    def train_texts_key(self) -> str | None:
        """A key of the training text that is cheaper than hashing it (file hashes), or None:
        the tokenizer cache then hashes the text."""
        return None

    def tokenize(self, tokenizer: Any) -> None:
        raise NotImplementedError

    def collator(self, split: str) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Rows (and what was skipped) per split, for run.json."""
        raise NotImplementedError

    def files_used(self) -> dict[str, str]:
        """Split or source name -> local file read, hashed into run.json's provenance."""
        raise NotImplementedError

    def has(self, split: str) -> bool:
        return split in self.ready

    def split_dataloader(self, split: str, shuffle: bool = False) -> DataLoader:
        """Shuffled (training) loaders resume mid-epoch; under DDP each process gets its
        share of the training order and a disjoint, unpadded part of an evaluation split."""
        if split not in self.ready:
            raise DataError(
                f"Data '{self.name}' has no '{split}' split: for labelled files set "
                f"data.files.{split}=<file>; a corpus has train and validation only."
            )
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        data = self.ready[split]
        if shuffle:
            lengths = [len(ids) for ids in data["input_ids"]] if self.group_by_length else None
            loader, options = ResumableLoader, {"rank": rank, "world": world, "lengths": lengths}
        elif world > 1:
            loader, options = DataLoader, {"sampler": Shard(len(data), rank, world)}
        else:
            loader, options = DataLoader, {}
        return loader(
            data,
            batch_size=self.batch_size if shuffle else self.eval_batch_size,
            **options,
            collate_fn=self.collator(split),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.split_dataloader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.split_dataloader("validation")

    def test_dataloader(self) -> DataLoader:
        return self.split_dataloader("test")
