"""The training loader: a permutation per epoch from the seed, length-grouped on request, and
the same batches after a mid-epoch restart."""

from __future__ import annotations

import random

import torch

from dlkit.data.loader import ResumableLoader


def _loader(lengths: list[int], group: bool, **kw) -> ResumableLoader:
    data = [{"i": i} for i in range(len(lengths))]
    return ResumableLoader(
        data,
        lengths=lengths if group else None,
        batch_size=16,
        collate_fn=lambda rows: [r["i"] for r in rows],
        **kw,
    )


def _padding(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


def test_grouping_pads_less_and_keeps_every_example_once() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 120) for _ in range(1000)]
    torch.manual_seed(1)
    plain = list(_loader(lengths, group=False))
    torch.manual_seed(1)
    grouped = list(_loader(lengths, group=True))
    assert sorted(i for b in grouped for i in b) == list(range(1000))
    assert _padding(grouped, lengths) * 5 < _padding(plain, lengths)
    assert max(lengths) in [lengths[i] for i in grouped[0]]  # peak memory meets the first batch


def test_a_restarted_loader_continues_with_the_same_batches() -> None:
    lengths = [random.Random(2).randint(3, 50) for _ in range(200)]
    for group in (False, True):
        torch.manual_seed(7)
        whole = list(_loader(lengths, group))
        torch.manual_seed(7)
        first = _loader(lengths, group)
        seen = [b for _, b in zip(range(5), first, strict=False)]
        restarted = _loader(lengths, group)
        restarted.load_state_dict(first.state_dict())
        assert seen + list(restarted) == whole


def test_processes_share_one_order() -> None:
    """The global batch of 2 processes x 8 is the batch of 1 process x 16."""
    torch.manual_seed(3)
    single = list(_loader([5] * 64, False))
    halves = [
        ResumableLoader(
            [{"i": i} for i in range(64)],
            rank=r,
            world=2,
            batch_size=8,
            collate_fn=lambda rows: [x["i"] for x in rows],
        )
        for r in (0, 1)
    ]
    a, b = (list(h) for h in halves)
    assert [sorted(x + y) for x, y in zip(a, b, strict=True)] == [sorted(s) for s in single]
    assert not set(a[0]) & set(b[0])
