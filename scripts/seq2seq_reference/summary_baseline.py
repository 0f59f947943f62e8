"""Trivial DialogSum baselines: the yardstick a trained summarizer must beat. No model, no
training: the summary is cut out of the dialogue (its first two utterances, its longest one,
or LEAD-3: its first three), with the `#PersonN#:` speaker tags kept as written or stripped.
Scored on the test split's three references per dialogue with dlkit's seq2seq ROUGE, as the
best reference per dialogue (`max`, the data config's default) and as the mean over them.

    python scripts/seq2seq_reference/summary_baseline.py [--data-dir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from dlkit.families.seq2seq.metrics import KINDS, summary_scores

REPO = Path(__file__).resolve().parents[2]
_TAG = re.compile(r"^#[^#\s]+#:\s*")

BASELINES: dict[str, Callable[[list[str]], list[str]]] = {
    "first-2": lambda utterances: utterances[:2],
    "longest": lambda utterances: [max(utterances, key=lambda u: len(u.split()))],
    "lead-3": lambda utterances: utterances[:3],
}


def read(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """(utterances of each dialogue, its three reference summaries)."""
    dialogues, references = [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            dialogues.append([u.strip() for u in row["dialogue"].split("\n") if u.strip()])
            references.append([row[f"summary{i}"] for i in (1, 2, 3)])
    return dialogues, references


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("DLKIT_DATA_DIR", str(REPO.parent / "shared" / "data")),
        help="data root holding dialogsum/ (default: $DLKIT_DATA_DIR or ../shared/data)",
    )
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--json", help="also write the scores to this file")
    args = parser.parse_args()

    path = Path(args.data_dir) / "dialogsum" / f"dialogsum.{args.split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; pass --data-dir (or set DLKIT_DATA_DIR).")
    dialogues, references = read(path)

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, pick in BASELINES.items():
        for tags in ("tags", "no-tags"):
            hypotheses = [
                " ".join(u if tags == "tags" else _TAG.sub("", u) for u in pick(utterances))
                for utterances in dialogues
            ]
            results[f"{name} ({tags})"] = {
                mode: summary_scores(hypotheses, references, multi_reference=mode)
                for mode in ("max", "mean")
            }

    keys = KINDS["rouge"]
    print(f"DialogSum {args.split}, {len(dialogues)} dialogues, 3 references each\n")
    print("| baseline | refs | " + " | ".join(keys) + " |")
    print("|---|---|" + "---:|" * len(keys))
    for name, by_mode in results.items():
        for mode, score in by_mode.items():
            print(f"| {name} | {mode} | " + " | ".join(f"{score[k]:.2f}" for k in keys) + " |")
    for mode in ("max", "mean"):
        best = max(results, key=lambda name, m=mode: results[name][m]["rougeL"])
        print(f"\nBest by ROUGE-L ({mode}): {best}: {results[best][mode]}")
    if args.json:
        payload = {"split": args.split, "dialogues": len(dialogues), "scores": results}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
