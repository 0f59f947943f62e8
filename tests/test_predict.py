"""`dlkit predict` over files and stdin, from a run folder and from an export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from dlkit.commands.export import export
from dlkit.commands.predict import predict
from dlkit.errors import DataError, RunFolderError
from tests.conftest import compose_root
from tests.test_cli import dlkit

TEXTS = ["the film was excellent", "a dull and boring plot", "really lovely story", "poor actors"]


def _predict(run: Path, source: Path | str, output: Path, *overrides: str) -> list[dict]:
    cfg = compose_root([f"run={run}", f"input={source}", f"output={output}", *overrides])
    count = predict(cfg)
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert count == len(rows)
    return rows


@pytest.fixture(scope="module")
def run(trained, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("predict") / "run"
    shutil.copytree(trained[0], copy)
    return copy


def test_predictions_match_the_model(run: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("\n".join([TEXTS[0], "", *TEXTS[1:]]) + "\n")
    rows = _predict(run, source, tmp_path / "out.jsonl")
    assert [r["text"] for r in rows] == TEXTS  # the blank line is skipped and counted
    model = AutoModelForSequenceClassification.from_pretrained(run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    with torch.no_grad():
        probs = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits.softmax(-1)
    for row, p in zip(rows, probs, strict=True):
        assert set(row["scores"]) == {"neg", "pos"}
        assert row["label"] == model.config.id2label[int(p.argmax())]
        assert row["scores"]["pos"] == pytest.approx(float(p[1]), abs=1e-5)


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl"])
def test_structured_inputs_use_the_training_text_column(run: Path, tmp_path: Path, suffix) -> None:
    source = tmp_path / f"in.{suffix}"
    if suffix == "jsonl":
        source.write_text(
            "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS))
        )
    else:
        sep = "," if suffix == "csv" else "\t"
        source.write_text(f"id{sep}text\n" + "".join(f"{i}{sep}{t}\n" for i, t in enumerate(TEXTS)))
    rows = _predict(run, source, tmp_path / "out.jsonl")
    assert [r["text"] for r in rows] == TEXTS


def test_onnx_export_predicts_like_the_run(run: Path, tmp_path: Path) -> None:
    export(compose_root([f"run={run}", "format=onnx", "paths.output_dir=."]))
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS * 20) + "\n")  # several batches of 32
    eager = _predict(run, source, tmp_path / "eager.jsonl")
    graph = _predict(run / "exports" / "onnx", source, tmp_path / "onnx.jsonl")
    assert len(eager) == len(graph) == 80
    for a, b in zip(eager, graph, strict=True):
        assert a["label"] == b["label"]
        assert a["scores"]["pos"] == pytest.approx(b["scores"]["pos"], abs=1e-5)


def test_predict_reads_stdin_and_writes_stdout(run: Path, tmp_path: Path) -> None:
    result = dlkit("predict", f"run={run}", "input=-", cwd=tmp_path, stdin="\n".join(TEXTS))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == TEXTS and all(r["label"] in {"neg", "pos"} for r in rows)
    assert "Wrote 4 predictions" in result.stderr


def test_bad_inputs_fail_clearly_and_keep_earlier_output(run: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text("earlier\n")
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"fine line\n\xff\xfe not utf-8\n")
    with pytest.raises(DataError, match=r"broken.txt, line 2: not valid UTF-8"):
        _predict(run, broken, output)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        _predict(run, bad_json, output)
    no_column = tmp_path / "cols.csv"
    no_column.write_text("sentence\nhello\n")
    with pytest.raises(DataError, match="no column 'text'.*predict.text_column"):
        _predict(run, no_column, output)
    with pytest.raises(DataError, match="Input not found"):
        _predict(run, tmp_path / "missing.txt", output)
    with pytest.raises(RunFolderError, match="not found"):
        _predict(tmp_path / "no_run", broken, output)
    assert output.read_text() == "earlier\n"
    assert not list(tmp_path.glob("*.partial"))


def test_predict_cli_errors_exit_2_without_traceback(run: Path, tmp_path: Path) -> None:
    missing = dlkit("predict", f"run={tmp_path / 'nope'}", "input=-", cwd=tmp_path, stdin="x")
    unreadable = dlkit("predict", f"run={run}", f"input={tmp_path / 'nope.txt'}", cwd=tmp_path)
    for result in (missing, unreadable):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "not found" in missing.stderr and "Input not found" in unreadable.stderr


def test_the_reader_streams(tmp_path: Path) -> None:
    """Rows come out while most of the file is still unread: memory does not grow with it."""
    from dlkit.data.stream import TextStream

    source = tmp_path / "big.tsv"
    source.write_text("id\ttext\n" + "".join(f"{i}\tline {i}\n" for i in range(20_000)))
    stream = TextStream(str(source), ["text"])
    rows = iter(stream)
    assert next(rows) == (2, ["line 0"])
    assert stream.bytes_read < stream.size / 100
    assert sum(1 for _ in rows) == 19_999 and stream.bytes_read == stream.size
