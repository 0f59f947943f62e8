"""Translation and summarization end to end on generated data: tiny train / evaluate / predict
/ export round trips for both experiments (a BART-style and a T5-style model), generation
settings carried into model/, and `dlkit predict` giving exactly what `model.generate` on
model/ gives (transformers 5 has no translation or summarization pipeline)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from dlkit.commands.evaluate import evaluate
from dlkit.commands.predict import predict
from dlkit.errors import ConfigError
from tests.conftest import compose_root

WHO = {
    "Der Hund": "The dog",
    "Die Katze": "The cat",
    "Der Mann": "The man",
    "Die Frau": "The woman",
}
DOES = {"läuft": "runs", "schläft": "sleeps", "isst": "eats", "singt": "sings"}
WHERE = {"im Park": "in the park", "zu Hause": "at home", "am Strand": "on the beach"}


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        who, does, where = (rng.choice(list(d)) for d in (WHO, DOES, WHERE))
        out.append((f"{who} {does} {where}.", f"{WHO[who]} {DOES[does]} {WHERE[where]}."))
    return out


def _write_parallel(folder: Path, stem: str, n: int, seed: int) -> Path:
    pairs = _pairs(n, seed)
    (folder / f"{stem}.de").write_text("".join(f"{de}\n" for de, _ in pairs), encoding="utf-8")
    (folder / f"{stem}.en").write_text("".join(f"{en}\n" for _, en in pairs), encoding="utf-8")
    return folder / f"{stem}.de"


def _common(work: Path) -> list[str]:
    return [
        "model.tokenizer.vocab_size=200",
        "data.hub.path=null",
        "data.batch_size=16",
        "task.generate.num_beams=2",
        "task.generate.max_new_tokens=16",
        "optimizer.lr=5e-3",
        "trainer.max_steps=-1",
        "trainer.log_every_n_steps=5",
        "trainer.enable_model_summary=false",
        "callbacks.progress.rich=false",
        f"paths.run_root={work / 'runs'}",
        f"paths.cache_dir={work / 'cache'}",
    ]


@pytest.fixture(scope="module")
def translation(tmp_path_factory) -> tuple[Path, dict, Path]:
    from dlkit.commands.train import train

    work = tmp_path_factory.mktemp("translate")
    files = {s: _write_parallel(work, s, n, i) for i, (s, n) in enumerate(
        [("train", 240), ("val", 30), ("test", 30)])}  # fmt: skip
    run = work / "runs" / "translate"
    overrides = [
        "+experiment=bart_translate",
        "model=bart_tiny",
        *_common(work),
        f"data.files.train={files['train']}",
        f"data.files.validation={files['val']}",
        f"data.files.test={files['test']}",
        "task.module.generate_every_n_epochs=3",
        "trainer.max_epochs=6",
        f"paths.output_dir={run}",
    ]
    return run, train(compose_root(overrides)), files["test"]


def _write_dialogues(path: Path, n: int, seed: int, references: int) -> Path:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        food = rng.choice(["tea", "rice", "soup", "bread", "fish"])
        verb = rng.choice(["likes", "hates"])
        dialogue = f"#Person1#: Do you like {food}?\n#Person2#: I {verb[:-1]} {food}."
        summary = f"#Person2# {verb} {food}."
        row = {"dialogue": dialogue}
        if references == 1:
            row["summary"] = summary
        else:
            row.update({f"summary{i + 1}": summary for i in range(references)})
            row["summary2"] = f"#Person1# asks about {food}."
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def summarization(tmp_path_factory) -> tuple[Path, dict, Path]:
    from dlkit.commands.train import train

    work = tmp_path_factory.mktemp("summarize")
    train_file = _write_dialogues(work / "train.jsonl", 200, 1, 1)
    dev = _write_dialogues(work / "dev.jsonl", 20, 2, 1)
    test = _write_dialogues(work / "test.jsonl", 20, 3, 3)
    run = work / "runs" / "summarize"
    overrides = [
        "+experiment=bart_summarize",
        "model=t5_tiny",  # the other architecture
        *_common(work),
        f"data.files.train={train_file}",
        f"data.files.validation={dev}",
        f"data.files.test={test}",
        "trainer.max_epochs=4",
        f"paths.output_dir={run}",
    ]
    return run, train(compose_root(overrides)), test


def test_translation_trains_and_reports_bleu_with_its_signature(translation) -> None:
    run, results, _ = translation
    for split in ("validation", "test"):
        assert set(results[split]) == {"loss", "bleu", "chrf"}
        assert 0 <= results[split]["bleu"] <= 100 and 0 < results[split]["chrf"] <= 100
    signature = results["sacrebleu"]["test"]["bleu"]
    assert signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert json.loads((run / "results.json").read_text())["sacrebleu"] == results["sacrebleu"]
    # generate_every_n_epochs=3: validation generated after epochs 3 and 6 only
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    bleu = header.split(",").index("val/bleu")
    assert sum(1 for row in rows if row.split(",")[bleu]) == 2


def test_generation_settings_and_decoder_start_are_saved_with_the_model(
    translation, summarization
) -> None:
    for run in (translation[0], summarization[0]):
        saved = json.loads((run / "model" / "generation_config.json").read_text())
        tokenizer = AutoTokenizer.from_pretrained(run / "model")
        assert saved["num_beams"] == 2 and saved["max_new_tokens"] == 16
        # decoder inputs start with </s>: the targets' own last token, as mBART's shift wraps it
        assert saved["decoder_start_token_id"] == saved["eos_token_id"] == tokenizer.eos_token_id
    summary = json.loads((summarization[0] / "model" / "generation_config.json").read_text())
    assert summary["no_repeat_ngram_size"] == 3  # bart_summarize's own setting
    models = [json.loads((r[0] / "model" / "config.json").read_text())["model_type"]
              for r in (translation, summarization)]  # fmt: skip
    assert models == ["mbart", "t5"]


def test_evaluate_writes_the_hypotheses_that_give_its_bleu(translation) -> None:
    run, results, test = translation
    metrics = evaluate(compose_root([f"run={run}", "split=test", "paths.output_dir=."]))
    assert metrics["bleu"] == pytest.approx(results["test"]["bleu"], abs=1e-6)
    written = json.loads((run / "eval" / "test.predictions.json").read_text())
    hypotheses = written["hypotheses"]
    references = test.with_suffix(".en").read_text(encoding="utf-8").splitlines()
    assert len(hypotheses) == len(references) == 30
    assert written["generate"]["num_beams"] == 2
    assert sacrebleu.corpus_bleu(hypotheses, [references]).score == pytest.approx(
        metrics["bleu"], abs=1e-3
    )
    saved = json.loads((run / "eval" / "test.json").read_text())
    assert saved["sacrebleu"]["test"]["bleu"].startswith("nrefs:1|")


def _generate(folder: Path, sources: list[str], batch_size: int) -> list[str]:
    """What a user of model/ gets: model.generate with the saved generation config."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    out = []
    for start in range(0, len(sources), batch_size):
        inputs = tokenizer(sources[start : start + batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            out += tokenizer.batch_decode(model.generate(**inputs), skip_special_tokens=True)
    return out


def test_predict_gives_what_generate_on_the_model_folder_gives(translation, tmp_path) -> None:
    run, _, test = translation
    out = tmp_path / "out.jsonl"
    count = predict(
        compose_root(
            [f"run={run}", f"input={test}", f"output={out}", "predict.batch_size=8"]
            + ["predict.input_format=txt"]  # .de: plain text, one sentence a line
        )
    )
    predicted = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    sources = test.read_text(encoding="utf-8").splitlines()
    assert count == len(predicted) == 30
    assert [p["source"] for p in predicted] == sources
    assert [p["generated_text"] for p in predicted] == _generate(run / "model", sources, 8)


def test_summarization_scores_rouge_against_every_reference(summarization, tmp_path) -> None:
    run, results, test = summarization
    assert set(results["test"]) == {"loss", "rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert "sacrebleu" not in results
    dialogues = [json.loads(line)["dialogue"] for line in test.read_text().splitlines()]
    out = tmp_path / "out.jsonl"
    predict(compose_root([f"run={run}", f"input={test}", f"output={out}"]))
    predicted = [json.loads(line)["generated_text"] for line in out.read_text().splitlines()]
    assert predicted == _generate(run / "model", dialogues, 32)
    from dlkit.families.seq2seq.metrics import summary_scores

    references = [
        [row[f"summary{i}"] for i in (1, 2, 3)]
        for row in map(json.loads, test.read_text().splitlines())
    ]
    # the final evaluation generated these same texts and took the best of three references
    expected = summary_scores(predicted, references, "max")
    assert results["test"]["rouge1"] == pytest.approx(expected["rouge1"], abs=1e-3)
    assert expected["rouge1"] >= summary_scores(predicted, references, "mean")["rouge1"]


def test_the_copy_step_scores_copies_and_hands_the_summarizer_its_tokenizer(tmp_path) -> None:
    """bart_summarize_copy learns to write out the dialogues (scored against them, not the
    summaries); bart_summarize fine-tuned from it keeps its tokenizer and generates its own way,
    and bart_summarize_256 goes on from that with 256 tokens of each dialogue."""
    from dlkit.commands.finetune import finetune
    from dlkit.commands.train import train
    from dlkit.families.seq2seq.metrics import summary_scores

    splits = (("train", 120, 1, 1), ("validation", 10, 2, 1), ("test", 10, 3, 3))
    files = {s: _write_dialogues(tmp_path / f"{s}.jsonl", n, seed, r) for s, n, seed, r in splits}
    common = [
        *[o for o in _common(tmp_path) if not o.startswith("task.generate.num_beams")],
        "model=bart_tiny",
        "model.config.max_position_embeddings=256",  # for bart_summarize_256
        *[f"data.files.{split}={path}" for split, path in files.items()],
        "trainer.max_epochs=2",
    ]
    copy_run = tmp_path / "runs" / "copy"
    results = train(compose_root(["+experiment=bart_summarize_copy", *common,
                                  f"paths.output_dir={copy_run}"]))  # fmt: skip
    saved = json.loads((copy_run / "model" / "generation_config.json").read_text())
    assert (saved["num_beams"], saved.get("no_repeat_ngram_size", 0)) == (1, 0)
    rows = [json.loads(line) for line in files["test"].read_text().splitlines()]
    out = tmp_path / "copies.jsonl"
    predict(compose_root([f"run={copy_run}", f"input={files['test']}", f"output={out}"]))
    copies = [json.loads(line)["generated_text"] for line in out.read_text().splitlines()]
    against = summary_scores(copies, [[r["dialogue"]] for r in rows], "max")
    assert results["test"]["rouge1"] == pytest.approx(against["rouge1"], abs=1e-3)

    run = tmp_path / "runs" / "summarize"
    finetune(compose_root(["+experiment=bart_summarize", *common, f"model.init_from={copy_run}",
                           "trainer.max_epochs=1", f"paths.output_dir={run}"]))  # fmt: skip
    vocab = [AutoTokenizer.from_pretrained(r / "model").get_vocab() for r in (copy_run, run)]
    assert vocab[0] == vocab[1]
    saved = json.loads((run / "model" / "generation_config.json").read_text())
    assert (saved["num_beams"], saved["no_repeat_ngram_size"]) == (4, 3)

    longer = tmp_path / "runs" / "summarize_256"
    finetune(compose_root(["+experiment=bart_summarize_256", *common, f"model.init_from={run}",
                           "trainer.max_epochs=1", f"paths.output_dir={longer}"]))  # fmt: skip
    config = OmegaConf.load(longer / "config.yaml")
    assert config.data.max_length == 256
    assert AutoTokenizer.from_pretrained(longer / "model").get_vocab() == vocab[0]
    predicted = tmp_path / "summaries.jsonl"
    predict(compose_root([f"run={longer}", f"input={files['test']}", f"output={predicted}"]))
    assert len(predicted.read_text().splitlines()) == len(rows)


def test_an_hf_export_is_verified_and_onnx_is_refused(translation) -> None:
    from dlkit.commands.export import export

    run, _, _ = translation
    report = export(compose_root([f"run={run}", "format=hf", "paths.output_dir=."]))
    assert report["passed"], report
    assert (run / "exports" / "hf" / "generation_config.json").is_file()
    with pytest.raises(ConfigError, match="onnx export is not available for a seq2seq run"):
        export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))
    done = subprocess.run(
        [sys.executable, "-m", "dlkit", "export", f"run={run}", "format=onnx"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not (run / "exports" / "onnx").exists()


def test_unknown_generation_settings_and_metrics_are_refused() -> None:
    from hydra.utils import instantiate
    from torch import nn
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(
        d_model=16, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=16, decoder_ffn_dim=16
    )
    cfg = compose_root(["+experiment=bart_translate", "++task.generate.top_p=0.9"])
    # Hydra wraps what the constructor raises; the command line shows the ConfigError's text
    with pytest.raises(Exception, match="task.generate sets top_p; the generation settings"):
        instantiate(cfg.task.module, model=BartForConditionalGeneration(config), optimizer=None)
    cfg = compose_root(["+experiment=bart_translate", "data.metric=meteor"])
    with pytest.raises(Exception, match="data.metric: unknown value 'meteor'"):
        instantiate(cfg.task.module, model=nn.Linear(2, 2), optimizer=None)
