"""Question answering end to end on a generated SQuAD v1.1 file: the split by article and the
windows as the datamodule builds them, a tiny train / evaluate round trip, and `dlkit predict`
agreeing with the span a plain reading of the model's logits gives."""

from __future__ import annotations

import json
import random
import re
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
        "data.files.validation=null",  # the file split by article
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


def test_evaluate_reproduces_the_run_and_writes_the_official_predictions(qa_run, squad) -> None:
    from dlkit.families.question_answering.metrics import squad_scores
    from dlkit.families.question_answering.squad import read_squad_json, split_by_article

    run, results = qa_run
    metrics = evaluate(compose_root([f"run={run}", "paths.output_dir=."]))
    assert metrics["f1"] == pytest.approx(results["validation"]["f1"], abs=1e-6)
    assert metrics["exact_match"] == pytest.approx(results["validation"]["exact_match"], abs=1e-6)
    # {id: answer} for every validation question, as SQuAD's evaluate-v1.1.py reads it
    predictions = json.loads((run / "eval" / "validation.predictions.json").read_text())
    _, validation = split_by_article(read_squad_json(squad), 3)
    references = {row["id"]: row["answers"]["text"] for row in validation.rows}
    assert set(predictions) == set(references)
    assert all(isinstance(answer, str) for answer in predictions.values())
    assert squad_scores(predictions, references)["f1"] == pytest.approx(metrics["f1"], abs=1e-4)


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


# -- windows, int8 and the ONNX README ---------------------------------------------------------
def _long_row() -> dict:
    """A context many windows long (the run's windows are 64 tokens sharing 16), whose answer
    is near its end: only a later window holds it."""
    rng = random.Random(7)
    context = " ".join(" ".join(rng.choices(FILLER, k=rng.randint(4, 9))) + "." for _ in range(30))
    context += " Hana lives in Kyoto. It was a quiet year."
    return {"question": "Where does Hana live?", "context": context, "answer": "Kyoto"}


def _evaluate_path(run: Path, row: dict, tmp_path: Path) -> tuple[dict, int]:
    """The best span as `dlkit evaluate` picks it: the run's validation windows (its data
    module, max_length and doc_stride), the model's logits and `postprocess_predictions`;
    and how many windows the context made."""
    from dlkit.families.question_answering.postprocess import postprocess_predictions

    start = row["context"].index(row["answer"])
    qa = {"id": "long", "question": row["question"]}
    qa["answers"] = [{"text": row["answer"], "answer_start": start}]
    paragraph = {"context": row["context"], "qas": [qa]}
    source = tmp_path / "long.json"
    source.write_text(json.dumps({"data": [{"title": "Long", "paragraphs": [paragraph]}]}))
    data = QuestionAnsweringData(
        "t", {"validation": str(source)}, max_length=64, doc_stride=16, cache_dir=str(tmp_path)
    )
    data.load(("validation",))
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    data.tokenize(tokenizer)
    windows = data.ready["validation"]
    batch = data.collator("validation")([windows[i] for i in range(len(windows))])
    model = AutoModelForQuestionAnswering.from_pretrained(run / "model").eval()
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        out = model(**inputs, token_type_ids=batch.get("token_type_ids"))
    records = batch["windows"]
    lengths = [len(r["offset_mapping"]) for r in records]
    starts = [out.start_logits[i, :n].numpy() for i, n in enumerate(lengths)]
    ends = [out.end_logits[i, :n].numpy() for i, n in enumerate(lengths)]
    best = postprocess_predictions([{"id": "long", **row}], records, starts, ends)["long"][0]
    last_of_first = max(o[1] for o in records[0]["offset_mapping"] if o is not None)
    assert start > last_of_first  # the first window does not hold the answer
    return {"answer": best.text, "start": best.start, "end": best.end}, len(records)


def _predict(folder: Path, rows: list[dict], tmp_path: Path) -> list[dict]:
    source = tmp_path / "rows.jsonl"
    rows = [{"question": r["question"], "context": r["context"]} for r in rows]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"{folder.name}.out.jsonl"
    predict(compose_root([f"run={folder}", f"input={source}", f"output={out}"]))
    return [json.loads(line) for line in out.read_text().splitlines()]


def _onnx_export(run: Path) -> Path:
    from dlkit.commands.export import export

    folder = run / "exports" / "onnx"
    if not folder.is_dir():
        assert export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))["passed"]
    return folder


def test_predict_windows_a_long_context_as_evaluate_does(qa_run, tmp_path, monkeypatch) -> None:
    """The run's max_length and doc_stride (64, 16) make the windows, in the run folder and in
    its export; the answer's characters index the context and are evaluation's answer."""
    from dlkit.commands import trained
    from dlkit.families.question_answering import predictor
    from dlkit.runs.folder import open_run

    run, _ = qa_run
    saved = trained.saved_config(open_run(run), compose_root([]))
    info = trained.serving_info(saved)
    assert (info["max_length"], info["doc_stride"], info["max_answer_length"]) == (64, 16, 30)
    manifest = json.loads((_onnx_export(run) / "export.json").read_text())
    assert (manifest["max_length"], manifest["doc_stride"]) == (64, 16)

    windowed: list[tuple[int, int]] = []
    real = predictor.prepare_eval_features

    def recorded(examples, tokenizer, max_length, doc_stride):
        windowed.append((max_length, doc_stride))
        return real(examples, tokenizer, max_length, doc_stride)

    monkeypatch.setattr(predictor, "prepare_eval_features", recorded)
    row = _long_row()
    expected, windows = _evaluate_path(run, row, tmp_path)
    assert windows >= 3
    for folder in (run, run / "exports" / "onnx"):
        (got,) = _predict(folder, [row], tmp_path)
        assert row["context"][got["start"] : got["end"]] == got["answer"]
        assert {k: got[k] for k in expected} == expected
        assert 0 < got["score"] <= 1
    assert windowed == [(64, 16), (64, 16)]


def test_an_int8_export_is_judged_on_squad_f1(qa_run) -> None:
    from dlkit.commands.export import export
    from dlkit.errors import ExportError

    run, results = qa_run
    line = [f"run={run}", "format=onnx", "quantize=dynamic_int8", "paths.output_dir=."]
    report = export(compose_root([*line, "export.max_quality_drop=100"]))
    f1 = report["squad_f1"]  # the validation split, post-processed as evaluation does
    assert f1["reference"] == pytest.approx(results["validation"]["f1"] / 100, abs=1e-5)
    assert 0 <= f1["export"] <= 1 and "accuracy" not in report
    drop = 100 * (f1["reference"] - f1["export"])
    assert report["quality_drop_points"] == pytest.approx(drop, abs=1e-3) and report["passed"]
    folder = run / "exports" / "onnx-int8"
    assert json.loads((folder / "parity.json").read_text())["squad_f1"] == f1
    assert "squad_f1" in (folder / "README.md").read_text()
    with pytest.raises(ExportError, match="validation squad_f1 drops by"):
        export(compose_root([*line, "export.max_quality_drop=-101"]))


def test_the_onnx_readme_snippet_answers_as_predict(qa_run, tmp_path, monkeypatch, capsys) -> None:
    """The README's code, run as written (its own example), and with a context several
    windows long, gives dlkit predict's answer from the same export."""
    folder = _onnx_export(run := qa_run[0])
    readme = (folder / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert not re.search(r"import (torch|transformers|dlkit)|from dlkit", code)
    own = {
        "question": re.search(r'^question = "(.*)"$', code, re.M).group(1),
        "context": re.search(r'^context = "(.*)"$', code, re.M).group(1),
    }
    long = _long_row()
    monkeypatch.chdir(run)  # the README names its folder relative to the run
    for row in (own, long):
        snippet = re.sub(r"^question = .*$", f"question = {row['question']!r}", code, flags=re.M)
        snippet = re.sub(r"^context = .*$", f"context = {row['context']!r}", snippet, flags=re.M)
        exec(compile(snippet, "README.md", "exec"), {})
        printed = capsys.readouterr().out.strip().splitlines()[-1]
        (expected,) = _predict(folder, [row], tmp_path)
        assert printed == str({k: expected[k] for k in ("answer", "start", "end")})
