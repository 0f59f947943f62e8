"""Exports of a tiny trained run: each verified against the PyTorch model; the check can fail."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from transformers import AutoModelForSequenceClassification

from dlkit.commands.export import export
from dlkit.errors import ConfigError, ExportError
from dlkit.export.parity import compare
from tests.conftest import compose_root

ROOT = Path(__file__).resolve().parent.parent


def _export(run: Path, *overrides: str) -> dict:
    return export(compose_root([f"run={run}", "paths.output_dir=.", *overrides]))


@pytest.fixture(scope="module")
def run(trained, tmp_path_factory) -> Path:
    """A copy of the shared run, so these exports do not show up in other tests' folders."""
    copy = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(trained[0], copy)
    return copy


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "hf"])
def test_fp32_exports_pass_parity(run: Path, fmt: str) -> None:
    report = _export(run, f"format={fmt}")
    folder = run / "exports" / fmt
    parity = json.loads((folder / "parity.json").read_text())
    assert parity["passed"] and parity == json.loads(json.dumps({"export": fmt, **report}))
    assert parity["max_abs_logit_diff"] <= 1e-4 and parity["label_agreement"] == 1.0
    assert parity["examples"] == 64  # the whole tiny validation split (fewer than 256)
    assert parity["accuracy"]["export"] == parity["accuracy"]["reference"] >= 0.9
    manifest = json.loads((folder / "export.json").read_text())
    assert manifest["family"] == "sequence_classification" and manifest["format"] == fmt
    assert (folder / "tokenizer.json").is_file() and (folder / "README.md").is_file()
    assert not list((run / "exports").glob(".*"))  # no staging folder left behind


def test_onnx_graph_has_dynamic_axes_and_runs_without_torch(run: Path, tiny_data) -> None:
    folder = run / "exports" / "onnx"
    if not folder.is_dir():
        _export(run, "format=onnx")
    graph = onnx.load(str(folder / "model.onnx")).graph
    for tensor in graph.input:  # batch and sequence axes are symbolic
        assert [d.dim_param for d in tensor.type.tensor_type.shape.dim] == ["batch", "sequence"]
    (logits,) = graph.output
    assert logits.type.tensor_type.shape.dim[0].dim_param == "batch"
    script = ROOT / "scripts" / "onnx_accuracy.py"
    out = _run_script(script, [str(folder), str(tiny_data["validation"])])
    result = json.loads(out.strip().splitlines()[-1])
    parity = json.loads((folder / "parity.json").read_text())
    assert result["imported"] == [] and result["examples"] == 64
    assert result["accuracy"] == pytest.approx(parity["accuracy"]["reference"])
    readme = (folder / "README.md").read_text()
    assert "import onnxruntime" in readme and "import torch" not in readme


def _run_script(script: Path, args: list[str]) -> str:
    """In a fresh interpreter, so what it imports is its own doing."""
    import subprocess

    result = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=True
    )
    return result.stdout


def test_a_perturbed_export_is_caught_and_the_good_one_kept(run: Path, monkeypatch) -> None:
    good = run / "exports" / "onnx"
    if not good.is_dir():
        _export(run, "format=onnx")
    before = (good / "model.onnx").read_bytes()
    from dlkit.export import graph

    original = graph.export_onnx

    def perturbed(model, inputs, outputs, example, path, opset):
        exporter = original(model, inputs, outputs, example, path, opset)
        proto = onnx.load(str(path))
        weight = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
        noise = np.random.default_rng(0).normal(0, 1e-2, size=tuple(weight.dims))
        values = numpy_helper.to_array(weight) + noise  # random: LayerNorm removes a constant
        weight.CopyFrom(numpy_helper.from_array(values.astype(np.float32), weight.name))
        onnx.save(proto, str(path))
        return exporter

    monkeypatch.setattr(graph, "export_onnx", perturbed)
    with pytest.raises(ExportError, match="failed verification: largest"):
        _export(run, "format=onnx")
    rejected = json.loads((run / "exports" / "onnx.rejected" / "parity.json").read_text())
    assert not rejected["passed"] and rejected["max_abs_logit_diff"] > 1e-4
    assert (good / "model.onnx").read_bytes() == before


def test_compare_never_passes_nan() -> None:
    class Fixed:
        input_names = ["input_ids"]

        def __init__(self, value: float) -> None:
            self.value = value

        def __call__(self, inputs):
            return {"logits": np.full((len(inputs["input_ids"]), 2), self.value, dtype=np.float32)}

    batch = {"input_ids": np.zeros((2, 3), dtype=np.int64)}
    from dlkit.export.parity import within

    assert within(compare(Fixed(0.5), Fixed(0.5), [batch]), 1e-4)
    assert not within(compare(Fixed(0.5), Fixed(float("nan")), [batch]), 1e-4)
    assert not within(compare(Fixed(0.5), Fixed(0.6), [batch]), 1e-4)


def test_int8_records_size_and_accuracy_and_enforces_the_bound(run: Path) -> None:
    report = _export(run, "format=onnx", "quantize=dynamic_int8", "export.max_quality_drop=100")
    assert report["passed"] and report["size_bytes"]["int8"] < report["size_bytes"]["fp32"]
    assert set(report["accuracy"]) == {"reference", "export"}
    assert not list((run / "exports" / "onnx-int8").glob("fp32*"))
    # Demanding a 5-point gain over a model that is already near 100% cannot be met.
    with pytest.raises(ExportError, match="accuracy drops by"):
        _export(run, "format=onnx", "quantize=dynamic_int8", "export.max_quality_drop=-5")
    assert json.loads((run / "exports" / "onnx-int8" / "parity.json").read_text())["passed"]


def test_benchmark_compares_every_verified_format(run: Path) -> None:
    for fmt in ("onnx", "torchscript"):
        if not (run / "exports" / fmt).is_dir():
            _export(run, f"format={fmt}")
    _export(
        run,
        "format=hf",
        "benchmark=true",
        "trust_remote_code=true",  # this test wrote the TorchScript export it times
        "export.timing.latency_calls=4",
        "export.timing.throughput_batches=2",
        "export.timing.throughput_batch_size=8",
    )
    bench = json.loads((run / "exports" / "benchmark.json").read_text())
    assert {"pytorch", "hf", "onnx", "torchscript"} <= set(bench["formats"])
    assert not any(name.endswith(".rejected") for name in bench["formats"])
    for row in bench["formats"].values():
        assert row["latency_ms_p50"] > 0 and row["throughput_samples_per_s"] > 0
    assert bench["formats"]["pytorch"]["throughput_vs_pytorch"] == 1.0


def test_hf_export_loads_with_from_pretrained(run: Path) -> None:
    folder = run / "exports" / "hf"
    if not folder.is_dir():
        _export(run, "format=hf")
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label == {0: "neg", 1: "pos"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["format=tflite"], "format=tflite is not one of hf, onnx, torchscript"),
        (["format=hf", "quantize=dynamic_int8"], "hf-int8 export is not available"),
        (["quantize=int4"], "the only quantization is dynamic_int8"),
    ],
)
def test_bad_export_requests_are_usage_errors(run: Path, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _export(run, *overrides)


def test_export_of_a_missing_run_names_it(tmp_path: Path) -> None:
    from dlkit.errors import RunFolderError

    with pytest.raises(RunFolderError, match="Run folder not found"):
        _export(tmp_path / "nope", "format=onnx")
    assert os.listdir(tmp_path) == []
