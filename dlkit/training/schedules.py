"""Learning-rate schedules, configured with a warm-up fraction instead of a step count
because the number of steps is known only once the Trainer has seen the data."""

from __future__ import annotations

import torch
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

LRScheduler = torch.optim.lr_scheduler.LRScheduler


def _warmup(num_training_steps: int, warmup_ratio: float) -> int:
    return int(round(num_training_steps * warmup_ratio))


def linear(optimizer, num_training_steps: int, warmup_ratio: float = 0.06) -> LRScheduler:
    warmup = _warmup(num_training_steps, warmup_ratio)
    return get_linear_schedule_with_warmup(optimizer, warmup, num_training_steps)


def cosine(optimizer, num_training_steps: int, warmup_ratio: float = 0.06) -> LRScheduler:
    warmup = _warmup(num_training_steps, warmup_ratio)
    return get_cosine_schedule_with_warmup(optimizer, warmup, num_training_steps)


def constant(optimizer, num_training_steps: int, warmup_ratio: float = 0.0) -> LRScheduler:
    return get_constant_schedule_with_warmup(optimizer, _warmup(num_training_steps, warmup_ratio))
