"""A NER run's model/ through a plain transformers pipeline (aggregation_strategy="simple")
against `dlkit predict` on the same sentences: how many sentences get the very same entities
(type and character span), and the pipeline's entity F1 against the file's gold entities.

    python scripts/pipeline_entities.py runs/lstm_ner/<ts> ../shared/data/conll2003/dev.txt
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from transformers import pipeline

import dlkit.families.token_classification.tagger  # noqa: F401  (registers dlkit's tagger)
from dlkit.data.conll import read_conll
from dlkit.families.token_classification.metrics import entity_scores


def _word_tags(text: str, entities: list[dict], words: int) -> list[str]:
    """IOB2 tags per whitespace word from character-span entities."""
    starts, position = [], 0
    for word in text.split(" "):
        starts.append(position)
        position += len(word) + 1
    tags = ["O"] * words
    for entity in entities:
        touched = [i for i, s in enumerate(starts) if entity["start"] <= s < entity["end"]]
        for n, i in enumerate(touched):
            tags[i] = ("B-" if n == 0 else "I-") + entity["entity_group"]
    return tags


def main(run: str, data: str) -> None:
    sentences = read_conll(Path(data)).sentences
    texts = [" ".join(s.tokens) for s in sentences]
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder) / "in.txt", Path(folder) / "out.jsonl"
        source.write_text("\n".join(texts) + "\n")
        command = [sys.executable, "-m", "dlkit", "predict", f"run={run}", f"input={source}"]
        command.append(f"output={out}")
        subprocess.run(command, check=True)
        ours = [json.loads(line)["entities"] for line in out.read_text().splitlines()]
    tagger = pipeline(
        "token-classification", model=str(Path(run) / "model"), aggregation_strategy="simple"
    )
    theirs = tagger(texts, batch_size=64)
    same = sum(
        [(e["type"], e["start"], e["end"]) for e in a]
        == [(e["entity_group"], e["start"], e["end"]) for e in b]
        for a, b in zip(ours, theirs, strict=True)
    )
    gold = [s.tags for s in sentences]
    predicted = [
        _word_tags(t, e, len(s.tokens)) for t, e, s in zip(texts, theirs, sentences, strict=True)
    ]
    f1 = entity_scores(gold, predicted)["f1"]
    print(
        f"same entities in {same}/{len(texts)} sentences; pipeline entity F1 (whole words) {f1:.4f}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
