"""Accuracy of a dlkit ONNX export on a labelled csv/tsv/jsonl file, using onnxruntime,
tokenizers and numpy only: no torch and no dlkit, as a deployment would run it.

    python scripts/onnx_accuracy.py runs/bert_cls/<run>/exports/onnx ../shared/data/sst2/dev.tsv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if path.suffix == ".tsv" else {}
    return list(csv.DictReader(path.open(encoding="utf-8", newline=""), **options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="an exports/onnx (or onnx-int8) folder")
    parser.add_argument("data", type=Path, help="labelled csv, tsv or jsonl")
    parser.add_argument("--text-column", help="default: the column the model was trained on")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    manifest = json.loads((args.export / "export.json").read_text())
    labels = json.loads((args.export / "config.json").read_text())["id2label"]
    tokenizer = Tokenizer.from_file(str(args.export / "tokenizer.json"))
    tokenizer.enable_truncation(manifest["max_length"])
    pad = manifest["pad_token"]
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    session = ort.InferenceSession(
        str(args.export / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in session.get_inputs()]
    text_column = args.text_column or manifest["text_columns"][0]

    rows = read_rows(args.data)
    correct = 0
    for start in range(0, len(rows), args.batch_size):
        chunk = rows[start : start + args.batch_size]
        encodings = tokenizer.encode_batch([row[text_column] for row in chunk])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        logits = session.run(None, {n: feed[n] for n in names})[0]
        predicted = [labels[str(i)] for i in logits.argmax(-1)]
        correct += sum(
            p == str(row[args.label_column]) for p, row in zip(predicted, chunk, strict=True)
        )
    heavy = sorted(m for m in ("torch", "dlkit", "transformers") if m in sys.modules)
    print(json.dumps({"examples": len(rows), "accuracy": correct / len(rows), "imported": heavy}))


if __name__ == "__main__":
    main()
