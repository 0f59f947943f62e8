"""A data config can name its labels ({0: negative, 1: positive}); the names are the label
set and reach model/config.json, evaluation, predictions and the transformers pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import pipeline

from dlkit.commands.evaluate import evaluate
from dlkit.commands.predict import predict
from dlkit.commands.train import train
from tests.conftest import compose_root, tiny_overrides

NAMES = "data.label_names={neg: negative, pos: positive}"


def test_named_labels_reach_every_output(tiny_data, tmp_path: Path) -> None:
    run = tmp_path / "named"
    overrides = [*tiny_overrides(tiny_data, tmp_path), NAMES, "trainer.max_epochs=2"]
    results = train(compose_root([*overrides, f"paths.output_dir={run}"]))
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    metrics = evaluate(compose_root([f"run={run}", "paths.output_dir=."]))
    assert metrics["acc"] == results["validation"]["acc"]

    source, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("a great film\nan awful film\n")
    predict(compose_root([f"run={run}", f"input={source}", f"output={out}"]))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["label"] for r in rows} <= {"negative", "positive"}
    assert set(rows[0]["scores"]) == {"negative", "positive"}
    classify = pipeline("text-classification", model=str(run / "model"))
    assert classify("a great film")[0]["label"] in {"negative", "positive"}


def test_a_label_outside_the_named_set_is_a_data_error(tiny_data, tmp_path: Path) -> None:
    import pytest

    from dlkit.errors import DataError

    overrides = [*tiny_overrides(tiny_data, tmp_path), "data.label_names={pos: positive}"]
    with pytest.raises(DataError, match="named by data.label_names"):
        train(compose_root([*overrides, f"paths.output_dir={tmp_path / 'run'}"]))
