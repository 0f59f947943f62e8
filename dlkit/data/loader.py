"""DataLoaders that stop mid-epoch and continue at the very next batch, and that share data
between processes so each example is seen exactly once.

Lightning saves a loader's `state_dict` in every checkpoint and hands it back on resume; the
training loader records its shuffling seed, the epoch and how many batches it has handed out,
so a resumed run sees exactly the batches the uninterrupted run would have seen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


class _EpochShuffle(Sampler[int]):
    """One permutation per epoch, seeded with the run's seed + the epoch: the order depends on
    nothing else (not on how much randomness model building or Lightning's DDP set-up used),
    so every process has the same one, and process `rank` takes every `world`-th example of
    it. The global batch of N processes is then the batch one process would have had with N
    times the batch size."""

    def __init__(
        self, size: int, rank: int = 0, world: int = 1, group: tuple[list[int], int] | None = None
    ) -> None:
        self.size, self.rank, self.world = size, rank, world
        self.group = group  # (lengths, global batch size): batch examples of similar length
        self.base: int | None = None
        self.epoch = -1
        self.skip = 0  # this process's samples to skip once, on resume

    def __iter__(self) -> Iterator[int]:
        if self.skip:
            skip, self.skip = self.skip, 0
        else:
            skip, self.epoch = 0, self.epoch + 1
        if self.base is None:
            self.base = torch.initial_seed()  # the seed the runner set (seed_everything)
        generator = torch.Generator()
        generator.manual_seed(self.base + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        if self.group:
            order = _grouped(order, *self.group, generator)
        order += order[: len(self) * self.world - self.size]  # equal shares: repeat a few
        yield from order[self.rank :: self.world][skip:]

    def __len__(self) -> int:
        return -(-self.size // self.world)


def _grouped(
    order: list[int], lengths: list[int], batch: int, generator: torch.Generator
) -> list[int]:
    """Length-grouped batching: sort windows of 50 batches of the shuffled order by length,
    cut them into batches, and shuffle the batches, so a batch pads little while batches
    still come in random order (the longest first, to meet peak memory at once)."""
    window = batch * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: -lengths[i])
        batches += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    longest = max(range(len(batches)), key=lambda b: lengths[batches[b][0]])
    first = batches.pop(longest)
    rest = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return [i for b in [first, *rest] for i in b]


class ResumableLoader(DataLoader):
    """Counts the batches it has yielded (not the ones its workers prefetched), which is
    what Lightning's checkpoint needs."""

    def __init__(
        self,
        dataset: Any,
        rank: int = 0,
        world: int = 1,
        lengths: list[int] | None = None,
        **options: Any,
    ) -> None:
        group = (lengths, options["batch_size"] * world) if lengths else None
        sampler = _EpochShuffle(len(dataset), rank, world, group)
        super().__init__(dataset, sampler=sampler, **options)
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
        sampler: _EpochShuffle = self.sampler  # type: ignore[assignment]
        return {"base": sampler.base, "epoch": sampler.epoch, "batches": self.served}

    def load_state_dict(self, state: dict[str, int | None]) -> None:
        """A checkpoint from the end of an epoch starts the next epoch afresh."""
        sampler: _EpochShuffle = self.sampler  # type: ignore[assignment]
        sampler.base, sampler.epoch = state["base"], int(state["epoch"] or 0)
        batches = int(state.get("batches") or 0)
        if 0 < batches < len(self):
            sampler.skip = batches * self.batch_size


class Shard(Sampler[int]):
    """Evaluation order split between processes without padding: every example once."""

    def __init__(self, size: int, rank: int, world: int) -> None:
        self.indices = range(rank, size, world)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
