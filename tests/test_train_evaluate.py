"""A tiny end-to-end train, then evaluate and reload, on generated data."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from dlkit.commands.evaluate import evaluate
from tests.conftest import compose_root, tiny_overrides


def test_run_folder_holds_the_contract(trained) -> None:
    run_dir, results = trained
    for name in (
        "run.json",
        "results.json",
        "metrics.csv",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "model/config.json",
        "model/model.safetensors",
        "model/tokenizer.json",
    ):
        assert (run_dir / name).is_file(), name
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "completed"
    assert run["seed"] == 42 and run["labels"] == ["neg", "pos"]
    assert set(run["data_files"]) == {"train", "validation", "test"}
    assert len(run["data_files"]["train"]["sha256"]) == 64
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert {"validation", "test", "evaluated", "best_during_training"} <= set(saved)
    assert saved["evaluated"]["weights"] == "best" and saved["evaluated"]["precision"] == "32-true"
    assert saved["best_during_training"]["step"] == saved["evaluated"]["step"]
    assert saved["samples_per_second"] > 0


def test_loss_falls_and_model_learns(trained) -> None:
    run_dir, results = trained
    with open(run_dir / "metrics.csv") as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(losses) >= 6
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first * 0.7, (first, last)
    assert results["validation"]["acc"] >= 0.9


def test_model_dir_reloads_with_identical_logits(trained) -> None:
    run_dir, _ = trained
    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    assert model.config.id2label == {0: "neg", 1: "pos"}
    batch = tokenizer(["the film was good", "a dull plot"], padding=True, return_tensors="pt")
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    weights = {k.removeprefix("model."): v for k, v in state["state_dict"].items()}
    fresh = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    fresh.load_state_dict(weights)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, fresh(**batch).logits)
    classify = pipeline("text-classification", model=str(run_dir / "model"))
    assert classify("the film was excellent")[0]["label"] in {"neg", "pos"}


def test_evaluate_reproduces_validation_metrics(trained, tiny_data) -> None:
    run_dir, results = trained
    cfg = compose_root([f"run={run_dir}", "split=validation", "paths.output_dir=."])
    metrics = evaluate(cfg)
    assert metrics["acc"] == pytest.approx(results["validation"]["acc"], abs=1e-6)
    saved = json.loads((run_dir / "eval" / "validation.json").read_text())
    assert saved["acc"] == metrics["acc"]
    other = compose_root(
        [f"run={run_dir}", f"data.files.eval={tiny_data['test']}", "paths.output_dir=."]
    )
    assert evaluate(other)["acc"] == pytest.approx(results["test"]["acc"], abs=1e-6)
    assert (run_dir / "eval" / "test.json").is_file()


def test_finetune_from_run_folder_loads_its_weights(trained, tiny_data, tmp_path) -> None:
    from dlkit.commands.finetune import finetune

    run_dir, _ = trained
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if "max_epochs" not in o]
    cfg = compose_root(
        [
            *overrides,
            f"model.init_from={run_dir}",
            "trainer.max_steps=1",
            f"paths.output_dir={tmp_path / 'ft'}",
        ]
    )
    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    results = finetune(cfg)
    init = json.loads((tmp_path / "ft" / "run.json").read_text())["init"]
    assert init["new"] == [] and "classifier.weight" in init["loaded"]
    # One tiny step from the trained weights: still as good as the run it started from.
    assert results["validation"]["acc"] >= 0.9
    tuned = AutoModelForSequenceClassification.from_pretrained(tmp_path / "ft" / "model")
    embeddings = "bert.embeddings.word_embeddings.weight"
    assert torch.allclose(tuned.state_dict()[embeddings], model.state_dict()[embeddings], atol=1e-2)


def test_a_pretrained_model_trains_with_dropout_on(trained, tiny_data, tmp_path) -> None:
    """from_pretrained returns a model in eval mode, and Lightning keeps submodule modes."""
    from dlkit.commands.components import build

    run_dir, _ = trained
    cfg = compose_root(
        [*tiny_overrides(tiny_data, tmp_path), f"model.init_from={run_dir}", "paths.output_dir=."]
    )
    model = build(cfg, splits=("train",)).task.model
    assert all(module.training for module in model.modules())


def test_evaluate_from_a_checkpoint_file(trained) -> None:
    run_dir, results = trained
    cfg = compose_root([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "paths.output_dir=."])
    assert evaluate(cfg)["acc"] == pytest.approx(results["validation"]["acc"], abs=1e-6)


def test_training_without_validation_keeps_the_last_weights(tiny_data, tmp_path) -> None:
    """trainer.limit_val_batches=0 (no validation, as for a long pretraining) still ends in a
    run folder: the last weights in model/, test metrics, no validation figures; evaluate then
    gives them for the whole split."""
    from dlkit.commands.train import train

    run_dir = tmp_path / "run"
    overrides = [*tiny_overrides(tiny_data, tmp_path), "trainer.max_epochs=1"]
    results = train(compose_root([*overrides, "trainer.limit_val_batches=0",
                                  f"paths.output_dir={run_dir}"]))  # fmt: skip
    assert "validation" not in results and "acc" in results["test"]
    assert results["evaluated"]["weights"] == "last"
    assert json.loads((run_dir / "results.json").read_text())["test"] == results["test"]
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert "acc" in evaluate(compose_root([f"run={run_dir}", "paths.output_dir=."]))
