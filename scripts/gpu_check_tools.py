"""Helpers of scripts/gpu_check.sh: the device and its bf16 peak, a synthetic corpus, a
steady-state clock for the training steps, and the report.

    python scripts/gpu_check_tools.py env                       # JSON: torch, device, peak
    python scripts/gpu_check_tools.py corpus FILE --words N     # synthetic text, no hub
    python scripts/gpu_check_tools.py pytest-counts LOG         # JSON: passed, failed, ...
    python scripts/gpu_check_tools.py report OUT_DIR            # gpu_check.json and .md

The clock is a Lightning callback that gpu_check.sh adds to each run with
`+callbacks.steady._target_=gpu_check_tools.SteadyClock` (scripts/ on PYTHONPATH).

Model FLOPs per token (PaLM's MFU, appendix B): 6 N + 12 L H S, with N the parameters outside
the embedding tables, L layers, H the hidden size and S the sequence length: 6 N for the
matrix products forward and backward, 12 L H S for attention's QK^T and AV products. BERT's
masked-LM head projects every position onto the vocabulary with the word-embedding matrix
(tied), which 6 N leaves out; `mfu_incl_lm_head` adds its 6 V H per token as well.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

# Dense (not 2:4 sparse) bf16 tensor-core peaks in TFLOPS, from the vendors' data sheets. The
# first key found in torch.cuda.get_device_name() (lowercased) wins: longer names first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("gb200", 2500.0),
    ("b200", 2250.0),
    ("b100", 1750.0),
    ("gh200", 989.0),
    ("h200", 989.0),  # SXM; an H200 NVL is 835
    ("h100 nvl", 835.0),
    ("h100 pcie", 756.0),
    ("h100", 989.0),  # SXM
    ("h800", 989.0),
    ("a100", 312.0),
    ("a800", 312.0),
    ("l40s", 362.0),
    ("l40", 181.0),
    ("l4", 121.0),
    ("a10", 125.0),  # not A10G, whose peak NVIDIA does not publish (matched below)
    ("rtx a6000", 155.0),
    ("mi300x", 1307.0),
    ("mi250x", 383.0),
)
NO_PEAK = ("a10g", "v100", "t4", "p100")  # no published bf16 tensor peak, or no bf16 at all


def peak_tflops(device_name: str) -> tuple[float | None, str | None]:
    """(peak, where it came from): PEAK_TFLOPS from the environment, else the table."""
    given = os.environ.get("PEAK_TFLOPS", "").strip()
    if given:
        return float(given), "PEAK_TFLOPS"
    name = device_name.lower()
    if any(key in name for key in NO_PEAK):
        return None, None
    for key, value in PEAK_BF16_TFLOPS:
        if key in name:
            return value, f"table ({key})"
    return None, None


def environment() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    peak, source = peak_tflops(name)
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cuda_available": cuda,
        "device_count": torch.cuda.device_count() if cuda else 0,
        "device": name,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "peak_tflops": peak,
        "peak_source": source,
    }


def write_corpus(path: Path, words: int, seed: int = 0) -> None:
    """Sentences of made-up words drawn by Zipf's law from a 60,000-word lexicon: a WordPiece
    tokenizer trained on it fills a BERT-sized vocabulary, and nothing comes from the hub."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai")]
    lexicon = sorted({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(90000)})
    rng.shuffle(lexicon)
    lexicon = lexicon[:60000]
    weights = [1.0 / (rank + 10) for rank in range(len(lexicon))]
    drawn = rng.choices(lexicon, weights=weights, k=words)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        i = 0
        while i < len(drawn):
            n = rng.randint(8, 30)
            handle.write(" ".join(drawn[i : i + n]).capitalize() + " .\n")
            i += n


def __getattr__(name: str) -> Any:
    """SteadyClock is built on first use, so the other commands need not import Lightning."""
    if name == "SteadyClock":
        return _steady_clock()
    raise AttributeError(name)


@cache
def _steady_clock() -> type:
    import lightning as L
    import torch

    class SteadyClock(L.Callback):
        """Times the training steps after the first `skip` (start-up, compilation, the
        allocator's warm-up) and writes them to `path` (JSON) at the last step. The device is
        synchronised only at the two ends, so the steps in between run as in any run."""

        def __init__(self, path: str, skip: int = 10) -> None:
            self.path, self.skip = Path(path), skip
            self.steps = self.samples = 0
            self.model: dict[str, Any] = {}
            self.start: float | None = None
            self.done = False

        def setup(self, trainer, pl_module, stage: str) -> None:
            """Parameter counts of the task's model, before a strategy wraps or shards it."""
            model = getattr(pl_module, "model", pl_module)
            config = getattr(model, "config", None)
            embedding = sum(
                p.numel()
                for module in model.modules()
                if isinstance(module, torch.nn.Embedding)
                for p in module.parameters(recurse=False)
            )
            total = sum(p.numel() for p in model.parameters())  # tied weights once
            self.model = {
                "parameters": total,
                "non_embedding_parameters": total - embedding,
                "layers": getattr(config, "num_hidden_layers", None),
                "hidden_size": getattr(config, "hidden_size", None),
                "vocab_size": getattr(config, "vocab_size", None),
            }

        def _sync(self, module: L.LightningModule) -> None:
            if module.device.type == "cuda":
                torch.cuda.synchronize(module.device)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if self.done:
                return
            self.steps += 1
            if self.steps == self.skip:
                self._sync(pl_module)
                self.start = time.perf_counter()
                if pl_module.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(pl_module.device)
            elif self.start is not None:
                self.samples += len(batch["input_ids"]) * trainer.world_size
            if 0 < trainer.max_steps <= trainer.global_step:
                self._write(pl_module)

        def on_train_end(self, trainer, pl_module) -> None:
            self._write(pl_module)

        def _write(self, pl_module: L.LightningModule) -> None:
            if self.done:
                return
            self.done = True
            self._sync(pl_module)
            seconds = time.perf_counter() - self.start if self.start is not None else 0.0
            cuda = pl_module.device.type == "cuda"
            peak = torch.cuda.max_memory_allocated(pl_module.device) if cuda else None
            record = {
                "skipped_steps": self.skip,
                "timed_steps": max(self.steps - self.skip, 0),
                "samples": self.samples,
                "seconds": round(seconds, 4),
                "samples_per_second": self.samples / seconds if seconds > 0 else None,
                "peak_memory_gib": round(peak / 2**30, 2) if peak is not None else None,
                "model": self.model,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(record, indent=2))

    return SteadyClock


def pytest_counts(log: Path) -> dict[str, Any]:
    """Counts from pytest's summary line, or from its progress dots when it was cut short."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    counts: dict[str, Any] = {}
    summary = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    if summary:
        for number, word in re.findall(r"(\d+) (\w+)", summary[-1]):
            word = {"error": "errors", "warning": "warnings"}.get(word, word)
            if word in ("passed", "failed", "errors", "skipped", "deselected", "xfailed"):
                counts[word] = int(number)
        counts["complete"] = True
        return counts
    progress = "".join(
        line.split(" [")[0]
        for line in text.splitlines()
        if re.fullmatch(r"[.FEsxX]+\s*(\[\s*\d+%\])?", line.strip())
    )
    counts.update(
        passed=progress.count("."),
        failed=progress.count("F"),
        errors=progress.count("E"),
        skipped=progress.count("s"),
        complete=False,
    )
    return counts


def last_error(log: Path) -> str | None:
    """The line of a failed step's log that says why: dlkit's `error:` line, else the last
    exception, else the last line."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [line for line in lines if line]
    for pattern in (r"^error:", r"^\w+(\.\w+)*(Error|Exception|Interrupt)\b"):
        found = [line for line in lines if re.search(pattern, line)]
        if found:
            return found[-1][:400]
    return lines[-1][:400] if lines else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def model_flops(model: dict[str, Any], block_size: int) -> dict[str, Any]:
    """FLOPs per token from the parameter counts SteadyClock recorded (module docstring)."""
    layers, hidden, vocab = model.get("layers"), model.get("hidden_size"), model.get("vocab_size")
    non_embedding = model.get("non_embedding_parameters")
    if not (layers and hidden and vocab and non_embedding):
        return dict(model)
    per_token = 6 * non_embedding + 12 * layers * hidden * block_size
    return {
        **model,
        "flops_per_token": per_token,
        "flops_per_token_incl_lm_head": per_token + 6 * vocab * hidden,
    }


def summarise_run(
    run: Path, name: str, meta: dict[str, Any], env: dict[str, Any], block: int
) -> dict[str, Any]:
    """One measurement: its status from the shell, its figures from the files the shell
    copied from its run folder (`run`)."""
    row: dict[str, Any] = {"name": name, "status": meta.get("status"), "log": meta.get("log")}
    row["wall_seconds"] = meta.get("seconds") if meta.get("log") else None  # run or not
    results, steady = _read(run / "results.json"), _read(run / "steady.json")
    if meta.get("status") != "ok" and meta.get("log"):
        row["error"] = last_error(run.parent.parent / meta["log"])
    peak = env.get("peak_tflops")
    if results:
        row["samples_per_second_fit"] = results.get("samples_per_second")
        row["train_seconds_fit"] = results.get("train_seconds")
        row["global_step"] = results.get("global_step")
        row["tokens_per_second_fit"] = round((results.get("samples_per_second") or 0) * block, 1)
    if steady and steady.get("samples_per_second"):
        row["tokens_per_second"] = round(steady["samples_per_second"] * block, 1)
        row["timed_steps"] = steady.get("timed_steps")
        row["peak_memory_gib"] = steady.get("peak_memory_gib")
        row["tokens_per_second_source"] = "steady (steps after warm-up)"
    elif results:
        row["tokens_per_second"] = row["tokens_per_second_fit"]
        row["tokens_per_second_source"] = "results.json (whole fit)"
    if steady and steady.get("model"):
        row.update(model_flops(steady["model"], block))
    tokens = row.get("tokens_per_second")
    for key, per_token in (
        ("mfu", "flops_per_token"),
        ("mfu_incl_lm_head", "flops_per_token_incl_lm_head"),
    ):
        row[key] = (
            round(tokens * row[per_token] / (peak * 1e12), 4)
            if tokens and peak and row.get(per_token)
            else None
        )
    return row


def report(out: Path) -> dict[str, Any]:
    env = _read(out / "env.json") or {}
    settings = _read(out / "settings.json") or {}
    runs = []
    for name in settings.get("runs", []):
        meta = _read(out / "status" / f"{name}.json") or {"status": "not run"}
        try:
            runs.append(summarise_run(out / "runs" / name, name, meta, env, settings["block_size"]))
        except Exception as err:  # a damaged run folder is reported, not a crash
            runs.append({"name": name, "status": f"{meta.get('status')}; report: {err}"})
    tests = _read(out / "status" / "make_test.json") or {"status": "not run"}
    if tests.get("log") and (out / tests["log"]).is_file():
        tests.update(pytest_counts(out / tests["log"]))
    install = _read(out / "status" / "install.json") or {"status": "not run"}
    result = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **settings,
        "environment": env,
        "install": install,
        "flops_per_token": "6 * non-embedding parameters + 12 * layers * hidden * seq_len",
        "runs": runs,
        "make_test": tests,
    }
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    markdown = _markdown(result)
    (out / "gpu_check.md").write_text(markdown)
    print(markdown)
    return result


def _number(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    peak = env.get("peak_tflops")
    shown_peak = "-" if peak is None else f"{peak:g}"
    lines = [
        f"# dlkit GPU check ({result.get('mode')})",
        "",
        f"{result.get('model')} masked-LM, sequence length {result.get('block_size')}, batch "
        f"{result.get('batch_size')}, {result.get('precision')}, {result.get('steps')} steps "
        f"(the first {result.get('skip')} untimed); device {env.get('device')}, torch "
        f"{env.get('torch')}, peak {shown_peak} TFLOPS ({env.get('peak_source') or 'unknown'}); "
        f"data: {result.get('data')}.",
        "",
        "| run | status | tokens/s | tokens/s (whole fit) | MFU | MFU incl. LM head | peak GiB "
        "| wall s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["runs"]:
        mfu = row.get("mfu")
        head = row.get("mfu_incl_lm_head")
        lines.append(
            f"| {row['name']} | {row.get('status')} | {_number(row.get('tokens_per_second'))} "
            f"| {_number(row.get('tokens_per_second_fit'))} "
            f"| {'-' if mfu is None else f'{mfu:.1%}'} | {'-' if head is None else f'{head:.1%}'} "
            f"| {_number(row.get('peak_memory_gib'), 1)} | {_number(row.get('wall_seconds'))} |"
        )
    lines += [f"- {row['name']}: {row['error']}" for row in result["runs"] if row.get("error")]
    tests = result["make_test"]
    counts = ", ".join(
        f"{tests[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if tests.get(k)
    )
    lines += [
        "",
        f"make test: {tests.get('status')}" + (f" ({counts})" if counts else ""),
        f"install: {result['install'].get('status')}",
        f"MFU: model FLOPs per token = {result['flops_per_token']} (the LM head's 6 * vocab * "
        "hidden per token only in the last MFU column), over the dense bf16 peak.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env")
    corpus = sub.add_parser("corpus")
    corpus.add_argument("path", type=Path)
    corpus.add_argument("--words", type=int, default=2_000_000)
    counts = sub.add_parser("pytest-counts")
    counts.add_argument("log", type=Path)
    rep = sub.add_parser("report")
    rep.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "env":
        print(json.dumps(environment(), indent=2))
    elif args.command == "corpus":
        write_corpus(args.path, args.words)
    elif args.command == "pytest-counts":
        print(json.dumps(pytest_counts(args.log)))
    else:
        report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
