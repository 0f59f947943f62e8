"""scripts/gpu_check.sh: its syntax, and its CPU dry run end to end (the same steps and report
as on a GPU, with bert_tiny for a few fp32 steps); the peak table, the FLOPs per token and
pytest's counts of scripts/gpu_check_tools.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_check_tools as tools  # noqa: E402


def test_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu_check")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPU_CHECK_", "PEAK_"))}
    env |= {
        "DRY_RUN": "1",
        "OUT": str(out),
        "GPU_CHECK_WORK": str(out.parent / "gpu_check_work"),
        "PYTHON": sys.executable,
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| eager | ok |" in done.stdout  # the table, printed at the end
    return out


def test_dry_run_reports_tokens_per_second_and_no_mfu_without_a_peak(dry_run: Path) -> None:
    report = json.loads((dry_run / "gpu_check.json").read_text())
    assert report["mode"] == "cpu-dry-run" and report["block_size"] == 64
    runs = {row["name"]: row for row in report["runs"]}
    assert list(runs) == ["eager", "compile", "fsdp"]
    eager = runs["eager"]
    assert eager["status"] == "ok" and eager["tokens_per_second"] > 0
    assert eager["tokens_per_second_source"].startswith("steady")
    assert eager["timed_steps"] == report["steps"] - report["skip"]
    assert eager["tokens_per_second_fit"] > 0 and eager["global_step"] == report["steps"]
    assert report["environment"]["device"] == "cpu" and eager["mfu"] is None
    assert runs["compile"]["status"].startswith("skipped")
    assert runs["fsdp"]["status"].startswith("skipped")
    assert report["make_test"]["status"] == "skipped (dry run)"
    assert (dry_run / "logs" / "eager.log").read_text()  # the measurement's dlkit log
    assert (dry_run / "runs" / "eager" / "results.json").is_file()
    assert "| eager | ok |" in (dry_run / "gpu_check.md").read_text()


def test_mfu_from_a_given_peak(dry_run: Path) -> None:
    """The dry run's own figures, reported against PEAK_TFLOPS: MFU = tokens/s x FLOPs per
    token / peak, FLOPs per token = 6 N + 12 L H S."""
    env_file = dry_run / "env.json"
    env = json.loads(env_file.read_text())
    env_file.write_text(json.dumps({**env, "peak_tflops": 0.5, "peak_source": "PEAK_TFLOPS"}))
    try:
        eager = tools.report(dry_run)["runs"][0]
    finally:
        env_file.write_text(json.dumps(env))
    assert eager["layers"] == 2 and eager["hidden_size"] == 128
    assert 0 < eager["non_embedding_parameters"] < eager["parameters"]
    assert eager["flops_per_token"] == 6 * eager["non_embedding_parameters"] + 12 * 2 * 128 * 64
    expected = eager["tokens_per_second"] * eager["flops_per_token"] / 0.5e12
    assert eager["mfu"] == pytest.approx(expected, abs=1e-4) and eager["mfu"] > 0
    assert eager["mfu_incl_lm_head"] > eager["mfu"]


def test_bert_base_flops_per_token() -> None:
    """BERT-base at 512 tokens: 6 x 85.6M non-embedding parameters (12 layers of 7.09M, and
    the MLM head's 0.59M transform) + 12 x 12 x 768 x 512 attention."""
    layer = 4 * (768 * 768 + 768) + 2 * 768 * 3072 + 3072 + 768 + 4 * 768
    head = 768 * 768 + 768 + 2 * 768 + 30522  # transform, its LayerNorm, the output bias
    model = {"layers": 12, "hidden_size": 768, "vocab_size": 30522}
    flops = tools.model_flops({**model, "non_embedding_parameters": 12 * layer + head}, 512)
    assert flops["flops_per_token"] == 6 * (12 * layer + head) + 12 * 12 * 768 * 512
    assert 5.7e8 < flops["flops_per_token"] < 5.8e8
    assert flops["flops_per_token_incl_lm_head"] - flops["flops_per_token"] == 6 * 30522 * 768


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L4", 121.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA A10G", None),
        ("Tesla V100-SXM2-16GB", None),
        ("cpu", None),
    ],
)
def test_peak_table(name: str, peak: float | None, monkeypatch) -> None:
    monkeypatch.delenv("PEAK_TFLOPS", raising=False)
    assert tools.peak_tflops(name)[0] == peak
    monkeypatch.setenv("PEAK_TFLOPS", "100")
    assert tools.peak_tflops(name) == (100.0, "PEAK_TFLOPS")


def test_pytest_counts(tmp_path: Path) -> None:
    log = tmp_path / "make_test.log"
    progress = ".venv/bin/pytest -q\n....F.s. [ 40%]\n..E\n"
    log.write_text(progress + "3 failed, 250 passed, 2 skipped, 1 error in 90.1s\n")
    counts = tools.pytest_counts(log)
    assert counts == {"failed": 3, "passed": 250, "skipped": 2, "errors": 1, "complete": True}
    log.write_text(progress + "Terminated\n")  # cut short by the time budget
    counts = tools.pytest_counts(log)
    assert counts == {"passed": 8, "failed": 1, "errors": 1, "skipped": 1, "complete": False}
