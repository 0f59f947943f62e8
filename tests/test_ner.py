"""Token classification end to end on generated CoNLL files: word-piece alignment, data
checks, a tiny train / evaluate / export / predict round trip, and the pipeline agreeing
with `dlkit predict`."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer, pipeline

from dlkit.commands.evaluate import evaluate
from dlkit.commands.export import export
from dlkit.commands.predict import predict
from dlkit.errors import ConfigError, DataError
from dlkit.families.token_classification.data import TokenClassificationData
from tests.conftest import TINY_MODEL, compose_root

PEOPLE = [["John", "Smith"], ["Maria"], ["Wolfgang", "Amadeus", "Mozart"], ["Li"]]
PLACES = [["Paris"], ["New", "York"], ["Frankfurt"], ["Bolzano"]]
ORGS = [["Acme", "Corporation"], ["Reuters"], ["Deutsche", "Bundesbank"]]
FILLER = ["the", "said", "on", "visited", "with", "met", "in", "today", "a", "report"]


def _entity(words: list[str], kind: str) -> list[tuple[str, str]]:
    return [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(words)]


def write_conll(path: Path, sentences: int, seed: int) -> Path:
    """Sentences of filler words around names, places and organisations, in documents."""
    rng = random.Random(seed)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for n in range(sentences):
        pairs: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 3)):
            pairs += [(w, "O") for w in rng.choices(FILLER, k=rng.randint(1, 3))]
            kind, names = rng.choice([("PER", PEOPLE), ("LOC", PLACES), ("ORG", ORGS)])
            pairs += _entity(rng.choice(names), kind)
        pairs.append((".", "O"))
        lines += [f"{w} NN O {t}" for w, t in pairs] + [""]
        if n % 10 == 9:
            lines += ["-DOCSTART- -X- -X- O", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def conll(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("conll")
    return {
        "train": write_conll(root / "train.txt", 160, seed=1),
        "validation": write_conll(root / "dev.txt", 40, seed=2),
        "test": write_conll(root / "test.txt", 40, seed=3),
    }


def ner_overrides(data: dict[str, Path], work: Path) -> list[str]:
    return [
        "+experiment=bert_ner",
        *TINY_MODEL,
        "model.tokenizer.lowercase=false",
        f"data.files.train={data['train']}",
        f"data.files.validation={data['validation']}",
        f"data.files.test={data['test']}",
        "data.batch_size=16",
        "data.max_length=64",
        "data.label_all_tokens=true",
        "optimizer.lr=5e-3",
        "trainer.max_epochs=8",
        "trainer.precision=32-true",
        "trainer.log_every_n_steps=5",
        "trainer.enable_model_summary=false",
        "callbacks.progress.rich=false",
        f"paths.run_root={work / 'runs'}",
        f"paths.cache_dir={work / 'cache'}",
    ]


@pytest.fixture(scope="module")
def ner_run(conll, tmp_path_factory) -> tuple[Path, dict]:
    from dlkit.commands.train import train

    work = tmp_path_factory.mktemp("ner")
    run = work / "runs" / "ner"
    results = train(compose_root([*ner_overrides(conll, work), f"paths.output_dir={run}"]))
    return run, results


def test_alignment_labels_the_first_piece_of_each_word(tmp_path: Path, conll) -> None:
    from dlkit.models.tokenizer import train_tokenizer

    data = TokenClassificationData("t", {"train": str(conll["train"])}, cache_dir=str(tmp_path))
    data.load(("train",))
    tokenizer = train_tokenizer("wordpiece", data.train_texts(), 60, False, tmp_path)
    for label_all in (False, True):
        data.label_all_tokens = label_all
        data.tokenize(tokenizer)
        row = data.ready["train"][0]
        words = data.raw["train"][0]["tokens"]
        tags = data.raw["train"][0]["tags"]
        encoded = tokenizer(words, is_split_into_words=True)
        assert encoded["input_ids"] == row["input_ids"]
        pieces = encoded.word_ids()
        assert len(pieces) > len(words) + 2  # a 60-piece vocabulary splits words
        assert ("piece_labels" in row) == label_all
        previous = None
        for i, word in enumerate(pieces):
            label, trained = row["labels"][i], row.get("piece_labels", row["labels"])[i]
            if word is None:
                assert label == trained == -100
            elif word != previous:  # the first piece: scored and trained
                assert data.label_names[label] == tags[word] == data.label_names[trained]
            else:  # never scored; trained as the word's inside tag with label_all_tokens
                assert label == -100
                inside = "O" if tags[word] == "O" else "I-" + tags[word][2:]
                assert trained == (data.label_names.index(inside) if label_all else -100)
            previous = word


def test_label_set_comes_from_training_and_a_new_dev_tag_names_its_line(tmp_path, conll) -> None:
    dev = tmp_path / "dev.txt"
    dev.write_text("Paris NN O B-LOC\n\nBerlin NN O B-CITY\n")
    files = {"train": str(conll["train"]), "validation": str(dev)}
    data = TokenClassificationData("t", files, cache_dir=str(tmp_path))
    with pytest.raises(DataError, match=r"dev.txt, line 3: unknown tag .*'B-CITY'"):
        data.load(("train", "validation"))
    skipping = TokenClassificationData("t", files, on_bad_row="skip", cache_dir=str(tmp_path))
    skipping.load(("train", "validation"))
    assert skipping.label_names == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(skipping.raw["validation"]) == 1
    assert skipping.describe()["validation"]["skipped"] == 1


def test_bioes_and_jsonl_read_as_iob2(tmp_path: Path) -> None:
    rows = [
        {
            "tokens": ["New", "York", "City", "is", "big"],
            "tags": ["B-LOC", "I-LOC", "E-LOC", "O", "O"],
        },
        {"tokens": ["Li", "came"], "tags": ["S-PER", "O"]},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = TokenClassificationData(
        "t", {"train": str(path)}, tag_scheme="bioes", cache_dir=str(tmp_path)
    )
    data.load(("train",))
    assert data.raw["train"]["tags"] == [["B-LOC", "I-LOC", "I-LOC", "O", "O"], ["B-PER", "O"]]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"tokens": ["a", "b"], "tags": ["O"]}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl, line 1: malformed row \(2 tokens but 1"):
        TokenClassificationData("t", {"train": str(bad)}, cache_dir=str(tmp_path)).load(("train",))
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"tokens": ["a"], "tags": ["X-PER"]}) + "\n")
    with pytest.raises(DataError, match=r"wrong.jsonl, line 1: bad tag"):
        TokenClassificationData("t", {"train": str(wrong)}, cache_dir=str(tmp_path)).load(
            ("train",)
        )


def test_ner_trains_and_reports_entity_scores(ner_run) -> None:
    run, results = ner_run
    validation = results["validation"]
    assert {"f1", "precision", "recall", "token_acc", "f1_PER", "f1_LOC", "f1_ORG"} <= set(
        validation
    )
    assert validation["f1"] > 0.8, validation  # the generated entities are easy to learn
    assert results["test"]["f1"] > 0.8
    assert json.loads((run / "run.json").read_text())["labels"][0] == "O"


def test_evaluate_reproduces_the_run(ner_run) -> None:
    run, results = ner_run
    metrics = evaluate(compose_root([f"run={run}", "paths.output_dir=."]))
    assert metrics["f1"] == pytest.approx(results["validation"]["f1"], abs=1e-6)


def test_pipeline_and_predict_give_the_same_entities(ner_run, conll, tmp_path: Path) -> None:
    run, _ = ner_run
    sentences = [
        " ".join(line.split()[0] for line in block.splitlines())
        for block in conll["test"].read_text().split("\n\n")
        if block.strip() and not block.startswith("-DOCSTART-")
    ][:12]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(sentences) + "\n")
    out = tmp_path / "out.jsonl"
    count = predict(compose_root([f"run={run}", f"input={source}", f"output={out}"]))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == len(rows) == len(sentences)

    tagger = pipeline(
        "token-classification",
        model=str(run / "model"),
        tokenizer=AutoTokenizer.from_pretrained(run / "model"),
        aggregation_strategy="simple",
    )
    found = 0
    for row, expected in zip(rows, tagger(sentences), strict=True):
        ours = [(e["type"], e["start"], e["end"]) for e in row["entities"]]
        theirs = [(e["entity_group"], e["start"], e["end"]) for e in expected]
        assert ours == theirs
        for entity, reference in zip(row["entities"], expected, strict=True):
            assert entity["score"] == pytest.approx(float(reference["score"]), abs=1e-5)
            assert entity["text"] == row["text"][entity["start"] : entity["end"]]
            words = row["text"].split()[entity["words"][0] : entity["words"][1]]
            assert entity["text"] in " ".join(words)  # the words an entity touches
        found += len(ours)
    assert found >= len(sentences)  # every sentence has at least one entity

    pretokenized = tmp_path / "in.jsonl"
    pretokenized.write_text("".join(json.dumps({"tokens": s.split()}) + "\n" for s in sentences))
    again = tmp_path / "again.jsonl"
    predict(compose_root([f"run={run}", f"input={pretokenized}", f"output={again}"]))
    assert again.read_text() == out.read_text()


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8", "torchscript"])
def test_exports_are_verified_by_outputs_and_entity_f1(ner_run, fmt, tmp_path) -> None:
    run, _ = ner_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    name, _, int8 = fmt.partition("-")
    extra = ["quantize=dynamic_int8", "export.max_quality_drop=100"] if int8 else []
    report = export(compose_root([f"run={copy}", f"format={name}", "paths.output_dir=.", *extra]))
    assert report["passed"], report
    assert set(report["entity_f1"]) == {"reference", "export"}
    if not int8:
        assert report["max_abs_logit_diff"] <= 1e-4
        assert report["entity_f1"]["export"] == report["entity_f1"]["reference"]
    manifest = json.loads((copy / "exports" / fmt / "export.json").read_text())
    assert manifest["family"] == "token_classification"
    assert manifest["output_names"] == ["logits"] and manifest["text_columns"] == ["tokens"]
    source = tmp_path / "in.txt"
    source.write_text("John Smith visited Paris today .\n")
    rows = tmp_path / "rows.jsonl"
    trust = ["trust_remote_code=true"] if fmt == "torchscript" else []  # a program: opt in
    predict(
        compose_root([f"run={copy / 'exports' / fmt}", f"input={source}", f"output={rows}", *trust])
    )
    (row,) = [json.loads(line) for line in rows.read_text().splitlines()]
    assert row["text"] == "John Smith visited Paris today ."


def test_the_bilstm_tagger_trains_exports_and_serves_the_pipeline(conll, tmp_path) -> None:
    """lstm_ner's model on the same data, with the first piece of each word trained only."""
    from dlkit.commands.train import train

    run = tmp_path / "lstm"
    overrides = [o for o in ner_overrides(conll, tmp_path) if not o.startswith(("model", "+"))]
    sizes = ["model.config.embedding_dim=16", "model.config.char_channels=8"]
    sizes += ["model.config.hidden_size=16", "model.tokenizer.vocab_size=200"]
    sizes += ["model.config.dropout=0.1", "optimizer.lr=1e-2"]
    cfg = compose_root(["+experiment=lstm_ner", *overrides, *sizes, "data.label_all_tokens=false"])
    cfg.paths.output_dir = str(run)
    results = train(cfg)
    assert results["validation"]["f1"] > 0.6, results
    report = export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))
    assert report["passed"] and report["exporter"] == "torchscript-based"
    text = "Maria met John Smith in Frankfurt today ."
    source = tmp_path / "in.txt"
    source.write_text(text + "\n")
    out = tmp_path / "out.jsonl"
    predict(compose_root([f"run={run / 'exports' / 'onnx'}", f"input={source}", f"output={out}"]))
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    import dlkit.families.token_classification.tagger  # noqa: F401  (registers the model)

    expected = pipeline(
        "token-classification", model=str(run / "model"), aggregation_strategy="simple"
    )(text)
    assert [(e["type"], e["start"], e["end"]) for e in row["entities"]] == [
        (e["entity_group"], e["start"], e["end"]) for e in expected
    ]


def test_ner_refuses_classification_data_before_anything_is_built() -> None:
    from dlkit.commands.overrides import check

    with pytest.raises(ConfigError, match="takes data=conll2003 or data=token_classification"):
        check(["task=token_classification", "data=sst2"])
    with pytest.raises(ConfigError, match="For this data use task=token_classification"):
        check(["task=text_classification", "data=conll2003"])
