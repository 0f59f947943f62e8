"""What the plain loop and the Trainer script share with dlkit, so all three compute the same
thing: the rows, their tokenization, the training order and the step recorder."""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--init", required=True, help="model + tokenizer folder (shared init)")
    parser.add_argument("--train", required=True, help="tsv with sentence and label columns")
    parser.add_argument("--validation", required=True)
    parser.add_argument("--out", required=True, help="where the step record goes (JSON)")
    parser.add_argument("--workdir", required=True, help="where the model is saved")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-ratio", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def read_rows(path: str) -> list[tuple[str, int]]:
    """GLUE-style tsv: no quoting (SST-2 has bare quotes), header sentence<TAB>label."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["sentence"], int(row["label"])) for row in reader]


def encode(tokenizer: Any, rows: list[tuple[str, int]], max_length: int) -> list[dict]:
    """Truncated, unpadded features; the collator pads each batch to its longest row."""
    encoded = tokenizer([text for text, _ in rows], truncation=True, max_length=max_length)
    columns = list(encoded.keys())
    return [
        {**{c: encoded[c][i] for c in columns}, "labels": label}
        for i, (_, label) in enumerate(rows)
    ]


def epoch_order(size: int, seed: int, epoch: int) -> list[int]:
    """dlkit's training order: one permutation per epoch, seeded with seed + epoch."""
    import torch

    generator = torch.Generator()
    generator.manual_seed(seed + epoch)
    return torch.randperm(size, generator=generator).tolist()


def warmup_steps(steps: int, ratio: float) -> int:
    return int(round(steps * ratio))


class Recorder:
    """The time after each optimizer step and that step's loss (kept as a tensor: reading it
    would add a host sync that the frameworks under test do not all make)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.losses: list[Any] = []
        self.first_step_at: float | None = None

    def loss(self, value: Any) -> None:
        self.losses.append(value.detach())

    def tick(self) -> None:
        self.times.append(time.perf_counter())
        if self.first_step_at is None:
            self.first_step_at = time.time()

    def save(self, path: str, **extra: Any) -> None:
        record = {
            "first_step_at": self.first_step_at,
            "step_times": self.times,
            "losses": [float(v) for v in self.losses],
            **extra,
        }
        Path(path).write_text(json.dumps(record))
