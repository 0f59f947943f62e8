"""Every kind of bad input, each run as a user would (a subprocess): a one-paragraph message
naming the problem and the fix, the right exit code, no traceback, and an existing run folder
left exactly as it was. docs/errors.md's table lists these cases."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent
Setup = Callable[[Path, Path], list[str]]  # (workdir, run folder) -> argv


def _data(work: Path, name: str, text: str | bytes) -> Path:
    path = work / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _train_with(work: Path, **files: Path) -> list[str]:
    data = {
        "train": work / "good" / "train.csv",
        "validation": work / "good" / "dev.csv",
        "test": work / "good" / "test.csv",
    }
    return ["train", *tiny_overrides({**data, **files}, work)]


def _latin1(work: Path) -> Path:
    return _data(work, "in.txt", "ok\ncaf\xe9\n".encode("latin-1"))


def _with_other_task(work: Path, run: Path) -> Path:
    """A checkpoint whose tensors are a masked-LM head's, not the classifier's."""
    state = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    state["state_dict"] = {
        k.replace("classifier", "cls.predictions.decoder"): v
        for k, v in state["state_dict"].items()
    }
    path = work / "other_task.ckpt"
    torch.save(state, path)
    return path


def _truncated(work: Path, run: Path) -> Path:
    path = work / "truncated.ckpt"
    path.write_bytes((run / "checkpoints" / "best.ckpt").read_bytes()[:5000])
    return path


def _run_copy(work: Path, run: Path, name: str, change: Callable[[Path], None]) -> Path:
    """A copy of the trained run, damaged by `change`; the original stays as it was."""
    copy = work / "copies" / name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(run, copy)
    change(copy)
    return copy


def _write(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        path = run / relative
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return change


def _truncate(relative: str) -> Callable[[Path], None]:
    def change(run: Path) -> None:
        path = run / relative
        path.write_bytes(path.read_bytes()[:1000])

    return change


def _pickled_bin(run: Path) -> None:
    """Weights as a pickle that would run os.system if unpickled without weights_only."""
    (run / "model" / "model.safetensors").unlink()
    (run / "model" / "pytorch_model.bin").write_bytes(
        b"cos\nsystem\n(S'touch " + str(run / "ran").encode() + b"'\ntR."
    )


def _as_corpus_run(run: Path) -> None:
    """The run's config as a masked-LM run on a text corpus would save it."""
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["data"] = {
        "_target_": "dlkit.families.language_modeling.data.CorpusData",
        "name": "corpus",
        "sources": [str(run / "corpus.txt")],
    }
    (run / "config.yaml").write_text(yaml.safe_dump(saved))


def _failed(run: Path) -> None:
    """Marked failed: resume=<it> may continue it."""
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "status": "failed"}))


def _export_folder(work: Path, manifest: str) -> Path:
    folder = work / "exports" / hashlib.sha256(manifest.encode()).hexdigest()[:8]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.json").write_text(manifest)
    return folder


def _numbers_file(work: Path) -> Path:
    return _data(
        work, "numbers.jsonl", '{"text": 5, "label": "pos"}\n{"text": 7, "label": "neg"}\n'
    )


def _user_configs(work: Path) -> str:
    """A user's config folder with a YAML file that does not parse."""
    folder = work / "myconfigs" / "model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text("name: broken\nconfig: {hidden_size: 32\n")
    return f"hydra.searchpath=[file://{work / 'myconfigs'}]"


UNKNOWN_FORMAT = '{"format": "tflite", "input_names": ["input_ids"]}'


def _squad_as_csv(work: Path) -> list[str]:
    """`dlkit data get squad` asked to write a split whose answers are lists as a csv."""
    import datasets

    folder = work / "squad_hub"
    row = {"id": "q1", "title": "T", "context": "Ann lives in Oslo.", "question": "Where?"}
    row["answers"] = {"text": ["Oslo"], "answer_start": [13]}
    split = datasets.Dataset.from_list([row])
    datasets.DatasetDict({"train": split, "validation": split}).save_to_disk(str(folder))
    root, train = work / "squad_root", work / "squad_train.csv"
    return ["data", "get", "squad", f"paths.data_dir={root}", f"data.hub.path={folder}",
            f"data.files.train={train}"]  # fmt: skip


CASES: dict[str, tuple[Setup, int, str]] = {
    # -- config mistakes (answered before torch is imported) -----------------------------
    "typo in a data key": (lambda w, r: ["train", "data.max_lenght=3"], 2, "max_length"),
    "typo in a trainer key": (lambda w, r: ["train", "trainer.max_epoch=2"], 2, "max_epochs"),
    "typo in an optimizer key": (lambda w, r: ["train", "optimizer.lrr=1e-3"], 2, "lr"),
    "typo at the top level": (lambda w, r: ["train", "sed=1"], 2, "seed"),
    "text for an int": (lambda w, r: ["train", "trainer.max_epochs=abc"], 2, "max_epochs"),
    "bool for an int": (lambda w, r: ["train", "data.batch_size=true"], 2, "batch_size"),
    "unknown model": (lambda w, r: ["train", "model=bert_tinyy"], 2, "bert_tiny"),
    "unknown hardware": (lambda w, r: ["train", "hardware=gpuu"], 2, "gpu"),
    "unknown experiment": (lambda w, r: ["train", "+experiment=bert_clss"], 2, "bert_cls"),
    "malformed override": (lambda w, r: ["train", "data.batch_size==3"], 2, "key=value"),
    "typo in export settings": (
        lambda w, r: ["export", f"run={r}", "export.tolerence=1"],
        2,
        "tolerance",
    ),
    "typo in predict settings": (
        lambda w, r: ["predict", f"run={r}", "input=-", "predict.batch_sise=2"],
        2,
        "batch_size",
    ),
    "unknown export format": (lambda w, r: ["export", f"run={r}", "format=tflite"], 2, "tflite"),
    "int8 of an hf export": (
        lambda w, r: ["export", f"run={r}", "format=hf", "quantize=dynamic_int8"],
        2,
        "not available",
    ),
    "run root is a file": (
        lambda w, r: [*_train_with(w), f"paths.run_root={_data(w, 'afile', 'x')}"],
        2,
        "Cannot create the run folder",
    ),
    # -- values out of range (answered before torch is imported) ---------------------------
    "batch size 0": (lambda w, r: ["train", "data.batch_size=0"], 2, "data.batch_size=0"),
    "negative evaluation batch size": (
        lambda w, r: ["train", "data.eval_batch_size=-4"],
        2,
        "data.eval_batch_size",
    ),
    "accumulating 0 batches": (
        lambda w, r: ["train", "trainer.accumulate_grad_batches=0"],
        2,
        "accumulate_grad_batches",
    ),
    "learning rate 0": (lambda w, r: ["train", "optimizer.lr=0"], 2, "optimizer.lr=0"),
    "negative learning rate": (lambda w, r: ["train", "optimizer.lr=-1e-3"], 2, "must be > 0"),
    "warm-up ratio above 1": (
        lambda w, r: ["train", "scheduler.warmup_ratio=1.5"],
        2,
        "scheduler.warmup_ratio",
    ),
    "zero epochs": (lambda w, r: ["train", "trainer.max_epochs=0"], 2, "trainer.max_epochs"),
    "zero steps": (lambda w, r: ["train", "trainer.max_steps=0"], 2, "trainer.max_steps"),
    "no limit on epochs or steps": (
        lambda w, r: ["train", "trainer.max_epochs=-1"],
        2,
        "train forever",
    ),
    "negative seed": (lambda w, r: ["train", "seed=-1"], 2, "seed=-1"),
    "seed beyond 32 bits": (lambda w, r: ["train", "seed=4294967296"], 2, "4294967295"),
    "max_length 0": (lambda w, r: ["train", "data.max_length=0"], 2, "data.max_length=0"),
    "max_length beyond the positions": (
        lambda w, r: ["train", "data.max_length=4096"],
        2,
        "512 positions",
    ),
    "max_length beyond a loaded model's positions": (
        lambda w, r: [*_train_with(w), f"model.init_from={r}", "data.max_length=100"],
        2,
        "64 positions",
    ),
    "heads that do not divide the width": (
        lambda w, r: ["train", "model.config.num_attention_heads=3"],
        2,
        "does not divide",
    ),
    "decoder heads that do not divide a BART width": (
        lambda w, r: [
            "train",
            "+experiment=bart_translate",
            "model.config.decoder_attention_heads=3",
        ],
        2,
        "decoder_attention_heads=3 does not divide model.config.d_model=256",
    ),
    "tokenizer vocabulary 0": (
        lambda w, r: ["train", "model.tokenizer.vocab_size=0"],
        2,
        "model.tokenizer.vocab_size",
    ),
    "unknown precision": (lambda w, r: ["train", "trainer.precision=17"], 2, "not a precision"),
    "zero devices": (lambda w, r: ["train", "hardware.devices=0"], 2, "hardware.devices=0"),
    "export of 0 examples": (
        lambda w, r: ["export", f"run={r}", "export.examples=0"],
        2,
        "export.examples",
    ),
    "export opset 5": (
        lambda w, r: ["export", f"run={r}", "format=onnx", "export.opset=5"],
        2,
        "export.opset",
    ),
    "predict batch size 0": (
        lambda w, r: ["predict", f"run={r}", "input=-", "predict.batch_size=0"],
        2,
        "predict.batch_size",
    ),
    # -- arguments the callables do not take ----------------------------------------------
    "a trainer argument Lightning does not take": (
        lambda w, r: [*_train_with(w), "+trainer.foo=1"],
        2,
        "lightning.Trainer takes no argument 'foo'",
    ),
    "an optimizer argument AdamW does not take": (
        lambda w, r: [*_train_with(w), "+optimizer.betass=[0.9,0.99]"],
        2,
        "Did you mean betas",
    ),
    "a data argument the datamodule does not take": (
        lambda w, r: [*_train_with(w), "+data.colour=red"],
        2,
        "takes no argument 'colour'",
    ),
    "a target that cannot be imported": (
        lambda w, r: [*_train_with(w), "optimizer._target_=torch.optim.Adamm"],
        2,
        "cannot be imported",
    ),
    "invalid YAML in a user config folder": (
        lambda w, r: ["train", _user_configs(w), "model=broken"],
        2,
        "broken.yaml",
    ),
    # -- names and places ------------------------------------------------------------------
    "experiment name climbing out of run_root": (
        lambda w, r: [*_train_with(w), "experiment_name=a/../../b"],
        2,
        "single folder name",
    ),
    "experiment name of 300 characters": (
        lambda w, r: [*_train_with(w), f"experiment_name={'x' * 300}"],
        2,
        "bytes long",
    ),
    "predict output is the input": (
        lambda w, r: [
            "predict",
            f"run={r}",
            f"input={_data(w, 'same.txt', 'ok')}",
            f"output={w / 'same.txt'}",
        ],
        2,
        "is the input file",
    ),
    "predict output is a folder": (
        lambda w, r: ["predict", f"run={r}", f"input={_data(w, 'x.txt', 'ok')}", f"output={w}"],
        2,
        "is a folder",
    ),
    "predict input is a folder": (
        lambda w, r: ["predict", f"run={r}", f"input={w}"],
        2,
        "is a folder",
    ),
    "a folder given as a data file": (
        lambda w, r: _train_with(w, validation=w / "good"),
        2,
        "is a folder",
    ),
    "numbers in the text column": (
        lambda w, r: _train_with(w, validation=_numbers_file(w)),
        2,
        "not text",
    ),
    # -- damaged run and export folders ----------------------------------------------------
    "invalid YAML in a run's config.yaml": (
        lambda w, r: ["evaluate", f"run={_run_copy(w, r, 'yaml', _write('config.yaml', 'a: [b'))}"],
        2,
        "not valid YAML",
    ),
    "broken model/config.json": (
        lambda w, r: [
            "evaluate",
            f"run={_run_copy(w, r, 'cfgjson', _write('model/config.json', '{oops'))}",
        ],
        2,
        "config.json is not valid JSON",
    ),
    "truncated model.safetensors": (
        lambda w, r: [
            "evaluate",
            f"run={_run_copy(w, r, 'st', _truncate('model/model.safetensors'))}",
        ],
        2,
        "Cannot load the model weights",
    ),
    "pickled pytorch_model.bin": (
        lambda w, r: ["evaluate", f"run={_run_copy(w, r, 'bin', _pickled_bin)}"],
        2,
        "Cannot load the model weights",
    ),
    "corrupt export.json": (
        lambda w, r: ["predict", f"run={_export_folder(w, '{not json')}", "input=-"],
        2,
        "not valid JSON",
    ),
    "export.json of an unknown format": (
        lambda w, r: ["predict", f"run={_export_folder(w, UNKNOWN_FORMAT)}", "input=-"],
        2,
        "not a dlkit export manifest",
    ),
    "split=test of a masked-LM run": (
        lambda w, r: ["evaluate", f"run={_run_copy(w, r, 'mlm', _as_corpus_run)}", "split=test"],
        2,
        "Use split=validation",
    ),
    "resume of a completed run": (
        lambda w, r: [*_train_with(w), f"resume={r}"],
        2,
        "that run completed",
    ),
    # -- data ----------------------------------------------------------------------------
    "missing training file": (
        lambda w, r: _train_with(w, train=w / "nope.csv"),
        2,
        "Data file not found",
    ),
    "missing label column": (
        lambda w, r: _train_with(w, train=_data(w, "nolabel.csv", "text\nhello\n")),
        2,
        "no label column",
    ),
    "malformed row": (
        lambda w, r: _train_with(w, validation=_data(w, "bad.csv", "text,label\na,pos\nb,neg,x\n")),
        2,
        "line 3",
    ),
    "invalid UTF-8": (
        lambda w, r: _train_with(w, validation=_data(w, "latin.csv", b"text,label\ncaf\xe9,pos\n")),
        2,
        "UTF-8",
    ),
    "label outside the label set": (
        lambda w, r: _train_with(w, validation=_data(w, "lab.csv", "text,label\nfine,maybe\n")),
        2,
        "label set",
    ),
    "empty text": (
        lambda w, r: _train_with(w, validation=_data(w, "empty.csv", 'text,label\n"",pos\n')),
        2,
        "empty",
    ),
    "squad hub copy written as csv": (lambda w, r: _squad_as_csv(w), 2, "cannot hold"),
    "unreadable predict input": (
        lambda w, r: ["predict", f"run={r}", f"input={_latin1(w)}"],
        2,
        "UTF-8",
    ),
    "missing predict input": (
        lambda w, r: ["predict", f"run={r}", f"input={w / 'none.txt'}"],
        2,
        "Input not found",
    ),
    # -- runs and checkpoints ------------------------------------------------------------
    "missing run folder": (
        lambda w, r: ["evaluate", f"run={w / 'no_run'}"],
        2,
        "Run folder not found",
    ),
    "truncated checkpoint": (
        lambda w, r: ["evaluate", f"run={r}", f"ckpt={_truncated(w, r)}"],
        2,
        "Cannot read the checkpoint",
    ),
    "checkpoint of another task": (
        lambda w, r: ["evaluate", f"run={r}", f"ckpt={_with_other_task(w, r)}"],
        2,
        "another model or task head",
    ),
    "resume of a folder that is no run": (
        lambda w, r: ["train", f"resume={w / 'good'}"],
        2,
        "not a dlkit run folder",
    ),
    "resume with other settings": (
        lambda w, r: [
            *_train_with(w),
            "optimizer.lr=1e-3",
            f"resume={_run_copy(w, r, 'failed', _failed)}",
        ],
        2,
        "settings differ",
    ),
    "non-finite loss": (
        lambda w, r: [*_train_with(w), "optimizer.lr=1e30", "trainer.gradient_clip_val=null"],
        1,
        "loss is nan",
    ),
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def work(trained, tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("bad")
    (work / "good").mkdir()
    for path in tiny_data.values():
        shutil.copy(path, work / "good" / path.name)
    run = work / "runs" / "tiny"
    shutil.copytree(trained[0], run)
    return work, run


def _dlkit(argv: list[str], workdir: Path, cache: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *argv],
        capture_output=True,
        text=True,
        cwd=workdir,
        input="some text\n",
        timeout=600,
        env={
            **os.environ,
            "DLKIT_CACHE_DIR": str(workdir / "cache" / cache),
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",  # two at a time on two cores, without threads spinning
        },
    )


@pytest.fixture(scope="module")
def outcomes(work) -> tuple[dict[str, subprocess.CompletedProcess], dict, dict]:
    """Every case run as a user would (a subprocess), two at a time, each with its own cache;
    and the trained run's files before and after all of them."""
    workdir, run = work
    before = _digest(run)
    argvs = {case: setup(workdir, run) for case, (setup, _, _) in CASES.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case: pool.submit(_dlkit, argv, workdir, str(i))
            for i, (case, argv) in enumerate(argvs.items())
        }
        results = {case: future.result() for case, future in futures.items()}
    return results, before, _digest(run)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(outcomes, case: str) -> None:
    results, before, after = outcomes
    _, code, words = CASES[case]
    result = results[case]
    assert result.returncode == code, (case, result.returncode, result.stderr[-2000:])
    assert words in result.stderr, (case, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    message = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(message) == 1, result.stderr[-2000:]
    # every file of the trained run is still there, byte for byte, after all the cases
    assert {name: after.get(name) for name in before} == before


def test_errors_table_lists_every_case() -> None:
    """docs/errors.md's bad-inputs table (the README points to it) is this file's table: same
    cases, same exit codes."""
    text = (ROOT / "docs" / "errors.md").read_text()
    table = text.split("<!-- bad-inputs:", 1)[1].split("\n\n", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][2:]
    listed = {row[0].removeprefix("| "): int(row[1]) for row in rows}
    assert listed == {name: code for name, (_, code, _) in CASES.items()}
    assert len(listed) >= 60
