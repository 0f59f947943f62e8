"""What every datamodule shares: loader settings, and DataLoaders over its prepared splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import lightning as L
from torch.utils.data import DataLoader

from dlkit.data.loader import ResumableLoader
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

    def collator(self, split: str) -> Any:
        raise NotImplementedError

    def has(self, split: str) -> bool:
        return split in self.ready

    def split_dataloader(self, split: str, shuffle: bool = False) -> DataLoader:
        """Shuffled (training) loaders are resumable mid-epoch on one process; under DDP,
        Lightning swaps in its DistributedSampler and the loader resumes at epoch starts."""
        if split not in self.ready:
            raise DataError(
                f"Data '{self.name}' has no '{split}' split: for labelled files set "
                f"data.files.{split}=<file>; a corpus has train and validation only."
            )
        distributed = self.trainer is not None and self.trainer.world_size > 1
        if shuffle and not distributed:
            loader, options = ResumableLoader, {}
        else:
            loader, options = DataLoader, {"shuffle": shuffle}
        return loader(
            self.ready[split],
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
