"""The BiLSTM and CNN baselines train behind the same task interface and reload."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import dlkit.families.classification.baselines  # noqa: F401  (registers the baselines with the Auto classes)
from dlkit.commands.train import train
from tests.conftest import tiny_overrides


@pytest.mark.parametrize("model", ["bilstm", "cnn"])
def test_baseline_trains_and_reloads(model, tiny_data, tmp_path, compose_cfg) -> None:
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if not o.startswith("model")]
    cfg = compose_cfg([*overrides, f"model={model}", "model.tokenizer.vocab_size=120"])
    results = train(cfg)
    assert results["validation"]["acc"] >= 0.9
    folder = tmp_path / "run" / "model"
    reloaded = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(["the plot was superb", "a dull movie"], padding=True, return_tensors="pt")
    with torch.no_grad():
        predicted = reloaded(**batch).logits.argmax(-1).tolist()
    assert [reloaded.config.id2label[i] for i in predicted] == ["pos", "neg"]
