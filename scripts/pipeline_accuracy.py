"""Accuracy of a run's model/ folder through a plain transformers pipeline (no dlkit code),
to check that the exported model reproduces dlkit's dev accuracy.

    python scripts/pipeline_accuracy.py runs/bert_cls/<ts> ../shared/data/sst2/dev.tsv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from transformers import pipeline


def main(run: str, data: str, text_column: str = "sentence", label_column: str = "label") -> None:
    with open(data, newline="") as handle:
        delimiter = "\t" if data.endswith(".tsv") else ","
        rows = list(csv.DictReader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE))
    classify = pipeline("text-classification", model=str(Path(run) / "model"), device="cpu")
    predictions = classify([r[text_column] for r in rows], batch_size=64, truncation=True)
    correct = sum(
        p["label"] == str(r[label_column]) for p, r in zip(predictions, rows, strict=True)
    )
    print(f"pipeline accuracy: {correct / len(rows):.6f} ({correct}/{len(rows)})")


if __name__ == "__main__":
    main(*sys.argv[1:])
