"""Tiny MLM and CLM pretraining on generated text, and the pretrain-to-finetune handoff."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoTokenizer,
)

from dlkit.commands.finetune import finetune
from dlkit.commands.pretrain import pretrain
from dlkit.errors import ConfigError
from dlkit.families.language_modeling.data import CorpusData
from dlkit.models.tokenizer import train_tokenizer
from tests.conftest import tiny_overrides

SUBJECTS = ["the cat", "a dog", "the king", "my friend", "the old man", "a small bird"]
VERBS = ["sat on", "looked at", "walked to", "ran past", "sang about"]
OBJECTS = ["the mat", "a tree", "the castle", "the river", "a green hill"]


def write_corpus(folder: Path, lines: int = 1500, seed: int = 0) -> list[dict]:
    """Templated sentences as plain text and as jsonl. The subject decides the verb and the
    object, so a masked word can be predicted from its context."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sentences = []
    for _ in range(lines):
        i = rng.randrange(len(SUBJECTS))
        verb, obj = VERBS[i % len(VERBS)], OBJECTS[(i * 2) % len(OBJECTS)]
        sentences.append(f"{SUBJECTS[i]} {verb} {obj} .")
    half = lines // 2
    (folder / "a.txt").write_text("\n".join(sentences[:half]) + "\n\n")
    with open(folder / "b.jsonl", "w") as handle:
        for sentence in sentences[half:]:
            handle.write(json.dumps({"body": sentence, "id": 1}) + "\n")
    return [
        {"path": str(folder / "*.txt")},
        {"path": str(folder / "b.jsonl"), "text_column": "body"},
    ]


def lm_overrides(experiment: str, model: str, sources: list[dict], work: Path) -> list[str]:
    keep = [
        o
        for o in tiny_overrides({"train": "", "validation": "", "test": ""}, work)
        if o.startswith(("paths.", "callbacks.", "trainer.log_every", "trainer.enable"))
    ]
    return [
        *keep,
        f"+experiment={experiment}",
        f"model={model}",
        "model.config." + ("n_embd=64" if model.startswith("gpt") else "hidden_size=64"),
        "data.sources=" + json.dumps(sources).replace('"', ""),
        "data.block_size=32",
        "data.batch_size=16",
        "data.validation_fraction=0.1",
        "trainer.max_steps=300",
        "trainer.val_check_interval=150",
        "trainer.precision=32-true",
        "optimizer.lr=1e-3",
        "model.tokenizer.vocab_size=200",
    ]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[dict]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_masking_rate_and_packing(corpus, tmp_path) -> None:
    data = CorpusData("c", corpus, objective="mlm", block_size=32, cache_dir=str(tmp_path))
    data.load()
    tokenizer = train_tokenizer("wordpiece", data.train_texts(), 200, True, tmp_path)
    data.tokenize(tokenizer)
    blocks = data.block_ids("train")
    assert all(len(b) == 32 for b in blocks), "every block is full"
    assert not any(tokenizer.pad_token_id in b for b in blocks), "no padding in packed blocks"
    batch = data.collator("validation")([{"input_ids": torch.tensor(b)} for b in blocks])
    special = torch.isin(torch.tensor(blocks), torch.tensor(tokenizer.all_special_ids))
    selected = (batch["labels"] != -100) & ~special
    rate = selected.sum() / (~special).sum()
    assert 0.14 < float(rate) < 0.16, float(rate)
    assert not ((batch["labels"] != -100) & special).any()
    masked = (batch["input_ids"] == tokenizer.mask_token_id) & selected
    assert 0.75 < float(masked.sum() / selected.sum()) < 0.85  # 80% of selected become [MASK]
    assert data.describe()["train"]["blocks"] == len(blocks)


def test_missing_corpus_source_is_named(tmp_path) -> None:
    from dlkit.errors import DataError

    data = CorpusData("c", [{"path": str(tmp_path / "none*.txt")}], cache_dir=str(tmp_path))
    with pytest.raises(DataError, match="none\\*.txt"):
        data.load()


def test_plain_paths_are_corpus_sources(corpus, tmp_path) -> None:
    """data.sources=[/path/to/text.txt] reads the same lines as {path: ...} entries."""
    from dlkit.errors import DataError

    plain = [entry["path"] for entry in corpus if "text_column" not in entry]
    as_dicts = [{"path": path} for path in plain]
    lines = []
    for sources in (plain, as_dicts, plain[0]):
        data = CorpusData("c", sources, cache_dir=str(tmp_path))
        data.load()
        lines.append(data.lines)
    assert lines[0] == lines[1] and lines[0]["train"]
    assert set(lines[2]["train"]) <= set(lines[0]["train"])
    with pytest.raises(DataError, match="without a path"):
        CorpusData("c", [{"text_column": "text"}], cache_dir=str(tmp_path))


@pytest.fixture(scope="module")
def mlm_run(corpus, tmp_path_factory) -> tuple[Path, dict]:
    from tests.conftest import compose_root as _compose

    work = tmp_path_factory.mktemp("mlm")
    run = work / "runs" / "bert_mlm" / "2026-01-01_00-00-00"
    cfg = _compose(
        [*lm_overrides("bert_mlm", "bert_tiny", corpus, work), f"paths.output_dir={run}"]
    )
    return run, pretrain(cfg)


def test_mlm_pretraining_learns_and_saves_a_masked_lm(mlm_run) -> None:
    run, results = mlm_run
    model = AutoModelForMaskedLM.from_pretrained(run / "model")
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    # Well past a uniform guess over the vocabulary (a tiny BERT needs far more steps than a
    # test can spend to get past the unigram plateau).
    assert results["validation"]["loss"] < 0.75 * math.log(len(tokenizer))
    assert results["validation"]["acc"] > 20 / len(tokenizer)
    encoded = tokenizer(f"the cat sat on {tokenizer.mask_token} mat .", return_tensors="pt")
    assert model(**encoded).logits.shape[-1] == len(tokenizer)
    assert json.loads((run / "run.json").read_text())["data"]["train"]["tokens"] > 0


def test_finetune_from_pretrain_run_loads_encoder(mlm_run, tiny_data, tmp_path) -> None:
    from dlkit.commands import components
    from tests.conftest import compose_root as _compose

    run, _ = mlm_run
    latest = run.parent / "latest"  # the newest completed run of the experiment
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if not o.startswith("model")]
    cfg = _compose(
        [
            *overrides,
            f"model.init_from={latest}",
            "trainer.max_steps=1",
            f"paths.output_dir={tmp_path / 'ft'}",
        ]
    )
    pretrained = AutoModelForMaskedLM.from_pretrained(run / "model").state_dict()
    encoder = components.build(cfg).task.model.state_dict()
    shared = [k for k in encoder if k.startswith(("bert.embeddings", "bert.encoder"))]
    assert shared and all(torch.equal(encoder[k], pretrained[k]) for k in shared)

    finetune(cfg)
    init = json.loads((tmp_path / "ft" / "run.json").read_text())["init"]
    assert init["from"] == str(run / "model")
    assert sorted(init["new"]) == [
        "bert.pooler.dense.bias",
        "bert.pooler.dense.weight",
        "classifier.bias",
        "classifier.weight",
    ]
    assert set(shared) <= set(init["loaded"])
    assert any(k.startswith("cls.predictions") for k in init["unused"])
    assert AutoTokenizer.from_pretrained(tmp_path / "ft" / "model").get_vocab() == (
        AutoTokenizer.from_pretrained(run / "model").get_vocab()
    )


def test_mlm_run_exports_to_onnx_and_fills_masks(mlm_run, tmp_path) -> None:
    from dlkit.commands.export import export
    from dlkit.commands.predict import predict
    from tests.conftest import compose_root

    run, _ = mlm_run
    report = export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))
    assert report["passed"] and report["max_abs_logit_diff"] <= 1e-4  # token logits [B, T, V]
    with pytest.raises(ConfigError, match="onnx-int8 export is not available for a masked_lm"):
        export(compose_root([f"run={run}", "format=onnx", "quantize=dynamic_int8"]))
    source = tmp_path / "in.txt"
    source.write_text("the cat [MASK] on the mat\nno mask here\n")
    out = tmp_path / "out.jsonl"
    onnx_dir = run / "exports" / "onnx"
    predict(
        compose_root([f"run={onnx_dir}", f"input={source}", f"output={out}", "predict.top_k=3"])
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows[0]["masks"]) == 1 and len(rows[0]["masks"][0]) == 3 and rows[1]["masks"] == []
    scores = [c["score"] for c in rows[0]["masks"][0]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1


def test_clm_pretraining_beats_unigram_and_writes_samples(corpus, tmp_path, compose_cfg) -> None:
    cfg = compose_cfg(lm_overrides("gpt_clm", "gpt2_tiny", corpus, tmp_path))
    results = pretrain(cfg)
    unigram = json.loads((tmp_path / "run" / "run.json").read_text())["data"]["validation"][
        "unigram_perplexity"
    ]
    assert results["validation"]["ppl"] < unigram / 2, (results["validation"], unigram)
    samples = json.loads((tmp_path / "run" / "samples.json").read_text())
    assert len(samples) == 3 and all(s["text"].startswith(s["prompt"][:3]) for s in samples)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "run" / "model")
    out = model.generate(
        **tokenizer("the cat", return_tensors="pt"),
        max_new_tokens=3,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert out.shape[1] > 2
    _clm_predict_generates(tmp_path / "run", tmp_path)


def _clm_predict_generates(run: Path, tmp_path: Path) -> None:
    from dlkit.commands.export import export
    from dlkit.commands.predict import predict
    from tests.conftest import compose_root

    source = tmp_path / "prompts.jsonl"
    source.write_text('{"text": "the cat"}\n{"text": "a dog walked"}\n')
    out = tmp_path / "gen.jsonl"
    settings = ["predict.max_new_tokens=5", "predict.temperature=0", f"output={out}"]
    predict(compose_root([f"run={run}", f"input={source}", *settings]))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["the cat", "a dog walked"]
    assert all(r["generation"].strip() for r in rows)
    export(compose_root([f"run={run}", "format=torchscript", "paths.output_dir=."]))
    with pytest.raises(ConfigError, match="Generation runs on the Hugging Face model"):
        ts = run / "exports" / "torchscript"
        predict(compose_root([f"run={ts}", f"input={source}", "trust_remote_code=true"]))


def test_pretrain_refuses_a_labelled_task(tmp_path, compose_cfg) -> None:
    with pytest.raises(ConfigError, match="pretrain needs a language-modelling task"):
        pretrain(compose_cfg(["+experiment=bert_cls"]))


def test_evaluate_reproduces_mlm_validation(mlm_run) -> None:
    from dlkit.commands.evaluate import evaluate
    from tests.conftest import compose_root as _compose

    run, results = mlm_run
    metrics = evaluate(_compose([f"run={run}", "paths.output_dir=."]))
    assert metrics["loss"] == pytest.approx(results["validation"]["loss"], abs=1e-5)
    assert metrics["acc"] == pytest.approx(results["validation"]["acc"], abs=1e-6)


def test_validation_masks_repeat_across_validations(corpus, tmp_path) -> None:
    data = CorpusData("c", corpus, objective="mlm", block_size=32, cache_dir=str(tmp_path))
    data.load()
    data.tokenize(train_tokenizer("wordpiece", data.train_texts(), 200, True, tmp_path))
    loader = data.val_dataloader()  # Lightning builds it once per fit and iterates it again
    first, second = next(iter(loader)), next(iter(loader))
    assert torch.equal(first["labels"], second["labels"])
    assert torch.equal(first["input_ids"], second["input_ids"])
    train = data.train_dataloader().collate_fn
    rows = [{"input_ids": torch.tensor(b)} for b in data.block_ids("train")[:64]]
    assert not torch.equal(train(rows)["labels"], train(rows)["labels"])
