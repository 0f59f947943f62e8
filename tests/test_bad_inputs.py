"""Every kind of bad input, each run as a user would (a subprocess): a one-paragraph message
naming the problem and the fix, the right exit code, no traceback, and an existing run folder
left exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

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
        lambda w, r: [*_train_with(w), "optimizer.lr=1e-3", f"resume={r}"],
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


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(work, case: str) -> None:
    workdir, run = work
    setup, code, words = CASES[case]
    argv = setup(workdir, run)
    before = _digest(run)
    result = subprocess.run(
        [sys.executable, "-m", "dlkit", *argv],
        capture_output=True,
        text=True,
        cwd=workdir,
        input="some text\n",
        timeout=600,
        env={**os.environ, "DLKIT_CACHE_DIR": str(workdir / "cache"), "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == code, (case, result.returncode, result.stderr[-2000:])
    assert words in result.stderr, (case, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    message = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(message) == 1, result.stderr[-2000:]
    after = _digest(run)  # every file of the run is still there, byte for byte
    assert {name: after.get(name) for name in before} == before
