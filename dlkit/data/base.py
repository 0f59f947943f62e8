"""What every datamodule shares: loader settings, and DataLoaders over its prepared splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import lightning as L
from torch.utils.data import DataLoader

from dlkit.data.loader import ResumableLoader, Shard
from dlkit.errors import DataError


class PreparedData(L.LightningDataModule):
    """Subclasses fill `self.ready` (split name -> tokenized Dataset) and say in `collator`
    how a split's examples become a batch."""

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
        self.ready: dict[str, datasets.Dataset] = {}
        self.label_names: list[str] = []  # empty for unlabelled data
        self.group_by_length = False  # set by datamodules whose examples vary in length

    def collator(self, split: str) -> Any:
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
