"""A training DataLoader that can stop mid-epoch and continue at the very next batch.

Lightning saves a loader's `state_dict` in every checkpoint and hands it back on resume; this
one records the epoch's shuffling seed and how many batches it has handed out, so a resumed
run sees exactly the batches the uninterrupted run would have seen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


class _EpochShuffle(Sampler[int]):
    """RandomSampler's order (a seed drawn from the global torch RNG at each epoch's start),
    with the seed kept so a resumed epoch can replay it and skip what was already served."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seed: int | None = None  # the current epoch's seed
        self.skip = 0  # samples to skip once, on resume

    def __iter__(self) -> Iterator[int]:
        if self.seed is None or not self.skip:
            self.seed = int(torch.empty((), dtype=torch.int64).random_().item())
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        order = torch.randperm(self.size, generator=generator).tolist()
        skip, self.skip = self.skip, 0
        yield from order[skip:]

    def __len__(self) -> int:
        return self.size


class ResumableLoader(DataLoader):
    """Shuffles like `DataLoader(shuffle=True)` and counts the batches it has yielded (not
    the ones its workers prefetched), which is what Lightning's checkpoint needs."""

    def __init__(self, dataset: Any, **options: Any) -> None:
        super().__init__(dataset, sampler=_EpochShuffle(len(dataset)), **options)
        self.served = 0

    def __iter__(self) -> Iterator[Any]:
        sampler: _EpochShuffle = self.sampler  # type: ignore[assignment]
        self.served = sampler.skip // self.batch_size
        if self.served:
            # Making an iterator draws a worker seed from the global RNG. The uninterrupted
            # run drew it before the checkpoint, whose RNG state already counts it: draw from
            # a throwaway generator instead, or every random number after it would shift.
            self.generator = torch.Generator()
            iterator = super().__iter__()
            self.generator = None
        else:
            iterator = super().__iter__()
        for batch in iterator:
            self.served += 1
            yield batch

    def state_dict(self) -> dict[str, int | None]:
        return {"seed": self.sampler.seed, "batches": self.served}

    def load_state_dict(self, state: dict[str, int | None]) -> None:
        """A checkpoint from the end of an epoch starts the next epoch afresh."""
        batches = int(state.get("batches") or 0)
        if 0 < batches < len(self):
            self.sampler.seed = state["seed"]
            self.sampler.skip = batches * self.batch_size
