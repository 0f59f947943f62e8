"""Question answering end to end on a generated SQuAD v1.1 file: the split by article and the
windows as the datamodule builds them, a tiny train / evaluate round trip, and `dlkit predict`
agreeing with the span a plain reading of the model's logits gives."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from dlkit.commands.evaluate import evaluate
from dlkit.commands.predict import predict
from dlkit.families.question_answering.data import QuestionAnsweringData
from tests.conftest import TINY_MODEL, compose_root

PEOPLE = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Farah", "Goran", "Hana"]
CITIES = ["Paris", "Oslo", "Lima", "Rome", "Kyoto", "Quito", "Dakar", "Perth"]
FILLER = ["It", "was", "a", "quiet", "year", "and", "the", "weather", "stayed", "mild"]


def _paragraph(rng: random.Random, article: int, paragraph: int) -> dict:
    """Sentences "<person> lives in <city>." among filler, a question per person."""
    people = rng.sample(PEOPLE, 3)
    context, qas = "", []
    for n, person in enumerate(people):
        context += " ".join(rng.choices(FILLER, k=rng.randint(2, 8))) + ". "
        city = rng.choice(CITIES)
        start = len(context) + len(person) + len(" lives in ")
        context += f"{person} lives in {city}. "
        qas.append(
            {
                "id": f"a{article}p{paragraph}q{n}",
                "question": f"Where does {person} live?",
                "answers": [{"text": city, "answer_start": start}],
            }
        )
    return {"context": context.strip(), "qas": qas}


def write_squad(path: Path, articles: int, seed: int) -> Path:
    rng = random.Random(seed)
    data = [
        {"title": f"Article_{a}", "paragraphs": [_paragraph(rng, a, p) for p in range(4)]}
        for a in range(articles)
    ]
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


@pytest.fixture(scope="module")
def squad(tmp_path_factory) -> Path:
    return write_squad(tmp_path_factory.mktemp("squad") / "dev-v1.1.json", 12, seed=1)


def qa_overrides(squad: Path, work: Path) -> list[str]:
    return [
        "+experiment=bert_qa",
        *TINY_MODEL,
        "model.tokenizer.lowercase=false",
        f"data.files.train={squad}",
        "data.validation_articles=3",
        "data.max_length=64",
        "data.doc_stride=16",
        "data.batch_size=16",
        "optimizer.lr=5e-3",
        "trainer.max_epochs=3",
        "trainer.precision=32-true",
        "trainer.log_every_n_steps=5",
        "trainer.enable_model_summary=false",
        "callbacks.progress.rich=false",
        f"paths.run_root={work / 'runs'}",
        f"paths.cache_dir={work / 'cache'}",
    ]


@pytest.fixture(scope="module")
def qa_run(squad, tmp_path_factory) -> tuple[Path, dict]:
    from dlkit.commands.train import train

    work = tmp_path_factory.mktemp("qa")
    run = work / "runs" / "qa"
    results = train(compose_root([*qa_overrides(squad, work), f"paths.output_dir={run}"]))
    return run, results


def test_split_by_article_and_windows_point_at_the_answer(squad, tmp_path: Path) -> None:
    from dlkit.models.tokenizer import train_tokenizer

    files = {"train": str(squad), "validation": None}
    data = QuestionAnsweringData(
        "t", files, validation_articles=3, max_length=40, doc_stride=8, cache_dir=str(tmp_path)
    )
    data.load(("train", "validation"))
    assert len(data.raw["train"]) == 9 * 4 * 3 and len(data.raw["validation"]) == 3 * 4 * 3
    assert set(data.raw["validation"]["title"]) == {"Article_9", "Article_10", "Article_11"}
    assert data.describe()["validation"] == {"source": str(squad), "questions": 36}
    tokenizer = train_tokenizer("wordpiece", data.train_texts(), 120, False, tmp_path)
    data.tokenize(tokenizer)
    train = data.ready["train"]
    assert len(train) > len(data.raw["train"])  # long contexts make several windows
    found = 0
    for row in train:
        start, end = row["start_positions"], row["end_positions"]
        if start:  # 0: the CLS token, this window lacks the answer
            found += 1
            assert tokenizer.decode(row["input_ids"][start : end + 1]).replace(" ", "") in CITIES
    assert found >= len(data.raw["train"])
    batch = data.collator("validation")([data.ready["validation"][i] for i in range(3)])
    assert batch["input_ids"].shape[0] == 3 and len(batch["windows"]) == 3
    assert batch["windows"][0]["answers"] == data.raw["validation"][0]["answers"]["text"]


def test_qa_trains_and_reports_squad_scores(qa_run) -> None:
    run, results = qa_run
    validation = results["validation"]
    assert {"exact_match", "f1", "loss"} <= set(validation)
    assert 0 <= validation["exact_match"] <= validation["f1"] <= 100
    saved = json.loads((run / "results.json").read_text())
    assert saved["validation"]["f1"] == validation["f1"]
    assert saved["monitor"] == "val/f1"
    model = AutoModelForQuestionAnswering.from_pretrained(run / "model")
    assert type(model).__name__ == "BertForQuestionAnswering"


def test_evaluate_reproduces_the_run(qa_run) -> None:
    run, results = qa_run
    metrics = evaluate(compose_root([f"run={run}", "paths.output_dir=."]))
    assert metrics["f1"] == pytest.approx(results["validation"]["f1"], abs=1e-6)
    assert metrics["exact_match"] == pytest.approx(results["validation"]["exact_match"], abs=1e-6)


def test_predict_gives_the_most_likely_span(qa_run, squad, tmp_path: Path) -> None:
    """The answer is the context span whose start x end probability (softmax over the
    context tokens) is highest: what transformers' question-answering pipeline answered
    before transformers 5 removed it; computed here by brute force over every span."""
    run, _ = qa_run
    paragraphs = json.loads(squad.read_text())["data"][-1]["paragraphs"]
    rows = [
        {"question": qa["question"], "context": p["context"]}
        for p in paragraphs[:2]
        for qa in p["qas"]
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    count = predict(compose_root([f"run={run}", f"input={source}", f"output={out}"]))
    predicted = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == len(predicted) == len(rows)

    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    model = AutoModelForQuestionAnswering.from_pretrained(run / "model").eval()
    for row, got in zip(rows, predicted, strict=True):
        assert set(got) == {"answer", "score", "start", "end"}
        assert row["context"][got["start"] : got["end"]] == got["answer"]
        encoded = tokenizer(row["question"], row["context"], return_offsets_mapping=True)
        if len(encoded["input_ids"]) > 64:
            continue  # several windows: the brute force below reads one
        with torch.no_grad():
            out = model(**tokenizer(row["question"], row["context"], return_tensors="pt"))
        context = np.array([s == 1 for s in encoded.sequence_ids()])
        starts = _softmax(out.start_logits[0].numpy(), context)
        ends = _softmax(out.end_logits[0].numpy(), context)
        scores = np.triu(np.outer(starts, ends)) - np.triu(np.outer(starts, ends), 30)
        s, e = np.unravel_index(int(scores.argmax()), scores.shape)
        offsets = encoded["offset_mapping"]
        assert (got["start"], got["end"]) == (offsets[s][0], offsets[e][1])
        assert got["score"] == pytest.approx(float(scores[s, e]), abs=1e-5)


def _softmax(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    masked = np.where(keep, logits.astype(np.float64), -np.inf)
    exp = np.exp(masked - masked.max())
    return exp / exp.sum()


def test_an_onnx_export_answers_as_the_run_does(qa_run, squad, tmp_path: Path) -> None:
    from dlkit.commands.export import export

    run, _ = qa_run
    report = export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))
    assert report["passed"], report
    paragraphs = json.loads(squad.read_text())["data"][0]["paragraphs"]
    rows = [
        {"question": q["question"], "context": p["context"]} for p in paragraphs for q in p["qas"]
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = []
    for folder in (run, run / "exports" / "onnx"):
        out = tmp_path / f"{folder.name}.jsonl"
        predict(compose_root([f"run={folder}", f"input={source}", f"output={out}"]))
        answers.append([json.loads(line) for line in out.read_text().splitlines()])
    assert [a["answer"] for a in answers[0]] == [a["answer"] for a in answers[1]]
    assert [a["score"] for a in answers[0]] == pytest.approx(
        [a["score"] for a in answers[1]], abs=1e-4
    )


def test_a_stride_as_long_as_a_window_is_refused_before_training() -> None:
    from dlkit.commands.overrides import check
    from dlkit.errors import ConfigError

    with pytest.raises(ConfigError, match="data.doc_stride=384 must be below data.max_length=384"):
        check(["+experiment=bert_qa", "data.doc_stride=384"])


def test_an_hf_export_names_no_pipeline_that_transformers_lacks(qa_run) -> None:
    from dlkit.commands.export import export

    run, _ = qa_run
    assert export(compose_root([f"run={run}", "format=hf", "paths.output_dir=."]))["passed"]
    readme = (run / "exports" / "hf" / "README.md").read_text()
    assert "AutoModelForQuestionAnswering.from_pretrained" in readme
    assert "pipeline(" not in readme


def test_a_validation_file_wins_over_the_split_by_article(squad, tmp_path: Path) -> None:
    other = write_squad(tmp_path / "other.json", 2, seed=5)
    files = {"train": str(squad), "validation": str(other)}
    data = QuestionAnsweringData("t", files, validation_articles=3, cache_dir=str(tmp_path))
    data.load(("train", "validation", "test"))
    assert len(data.raw["train"]) == 12 * 4 * 3 and len(data.raw["validation"]) == 2 * 4 * 3
    assert not data.has("test") and "test" not in data.raw
    only = QuestionAnsweringData(
        "t", {"train": str(squad)}, validation_articles=3, cache_dir=str(tmp_path)
    )
    only.load(("validation",))  # what `dlkit evaluate` asks for
    assert list(only.raw) == ["validation"] and len(only.raw["validation"]) == 36


def test_ddp_is_refused_rather_than_scoring_a_share_of_the_windows() -> None:
    from types import SimpleNamespace

    from torch import nn

    from dlkit.errors import ConfigError
    from dlkit.families.question_answering.module import QuestionAnsweringTask

    task = QuestionAnsweringTask(nn.Linear(2, 2), optimizer=None)
    task._trainer = SimpleNamespace(world_size=2)
    with pytest.raises(ConfigError, match="DDP would spread over 2 processes"):
        task.setup("fit")
