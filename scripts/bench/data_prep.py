"""`make bench-data`: pretraining data preparation on corpora of N MB, dlkit against the
tokenizers library alone, for time and peak memory.

For each size, a synthetic corpus (shuffled copies of the lines of the shared WikiText-2 and
tiny Shakespeare files) is written under --work, then each job runs in its own process, so
its peak RSS is its own (os.wait4's rusage of that child):

- tokenizers: train WordPiece (bert_mlm's settings: BERT normalizer, lowercase, vocab 8000,
  dlkit's special tokens) with `train_from_iterator` over the file's non-blank lines, then
  `encode_batch` over them, 10,000 lines a call (streamed, as dlkit does);
- dlkit: what `dlkit pretrain +experiment=bert_mlm data.sources=[<file>]` runs before it
  builds a model: the composed config's CorpusData `load`, the run's tokenizer training
  (`components.tokenizer_for`) and `tokenize` (packing into the on-disk token store), with an
  empty cache;
- dlkit-warm: the same again on the same cache (the second run of a pretraining job).

Writes <out>/data_prep.json and <out>/data_prep.md."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
TARGET_RATIO = 1.5  # dlkit's preparation time / the tokenizers library's train + encode
TARGET_PEAK_MB = 2048  # at 1 GB of text, and not growing with the corpus
SOURCES = (
    "wikitext-2-raw/wiki.valid.raw",
    "wikitext-2-raw/wiki.test.raw",
    "tiny_shakespeare/input.txt",
)
JOBS = ("tokenizers", "dlkit", "dlkit-warm")
# dlkit.models.tokenizer.SPECIALS, written out: importing dlkit would import transformers into
# the baseline's process, whose start-up is not the library's cost
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,1000", help="corpus sizes in MB, e.g. 5 or 100,1000"
    )
    parser.add_argument("--work", default="/tmp/dlkit-bench-data", help="corpora and caches")
    parser.add_argument("--data-dir", default=os.environ.get("DLKIT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--job", choices=JOBS, help=argparse.SUPPRESS)  # a child's job
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        job = {"tokenizers": tokenizers_alone, "dlkit": dlkit_prep, "dlkit-warm": dlkit_prep}
        result = job[args.job](Path(args.file), Path(args.cache))
        Path(args.result).write_text(json.dumps(result))
        return

    data_dir, work, out = Path(args.data_dir).resolve(), Path(args.work), Path(args.out)
    missing = [s for s in SOURCES if not (data_dir / s).is_file()]
    if missing:
        sys.exit(
            f"error: {missing} not found under {data_dir}; pass --data-dir (or DLKIT_DATA_DIR)."
        )
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (float(s) for s in args.sizes.split(",")):
        corpus = synthetic_corpus(data_dir, work, size, args.seed)
        cache = work / f"cache-{size:g}mb"
        shutil.rmtree(cache, ignore_errors=True)  # dlkit starts cold, then runs warm on it
        row: dict[str, Any] = {"size_mb": size, "bytes": corpus.stat().st_size}
        for job in JOBS:
            row[job] = run_job(job, corpus, cache, work)
            done = row[job]
            print(
                f"{size:g} MB {job}: {done['prep_s']:.1f} s preparing ({done['wall_s']:.1f} s "
                f"with start-up), peak {done['peak_mb']:.0f} MB"
            )
        row["ratio"] = row["dlkit"]["prep_s"] / row["tokenizers"]["prep_s"]
        rows.append(row)
        shutil.rmtree(cache, ignore_errors=True)
    report = {
        "what": "dlkit: composed bert_mlm config, CorpusData.load + tokenizer_for + tokenize "
        "(no model); tokenizers: WordPiece train_from_iterator + encode_batch, streamed. "
        "Times exclude interpreter start-up and imports (wall includes them); peak is the "
        "process's RSS",
        "targets": {"ratio": TARGET_RATIO, "peak_mb": TARGET_PEAK_MB},
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    (out / "data_prep.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "data_prep.md").write_text(markdown(report))
    print(markdown(report))


def synthetic_corpus(data_dir: Path, work: Path, size_mb: float, seed: int) -> Path:
    """Shuffled copies of the shared corpora's non-blank lines up to `size_mb` MB (written once
    per size and seed, then reused)."""
    path = work / f"corpus-{size_mb:g}mb-seed{seed}.txt"
    if path.is_file():
        return path
    lines = [
        line.strip()
        for name in SOURCES
        for line in (data_dir / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rng, target, written = random.Random(seed), int(size_mb * 1e6), 0
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        while written < target:
            rng.shuffle(lines)
            for line in lines:
                handle.write(line + "\n")
                written += len(line.encode()) + 1
                if written >= target:
                    break
    partial.replace(path)
    return path


def run_job(job: str, corpus: Path, cache: Path, work: Path) -> dict[str, Any]:
    """One job in a child process: its wall time and its own peak RSS."""
    result = work / f"{job}-result.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, str(HERE), "--job", job, "--file", str(corpus)]
    command += ["--cache", str(cache), "--result", str(result)]
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.exit(f"error: the {job} job failed (exit {child.returncode}).")
    details = json.loads(result.read_text())
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, **details}  # Linux: KiB


def lines_of(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        yield from (line.strip() for line in handle if line.strip())


def tokenizers_alone(corpus: Path, cache: Path) -> dict[str, Any]:
    from itertools import islice

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    start = time.perf_counter()
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=8000, special_tokens=SPECIALS, show_progress=False
    )
    tok.train_from_iterator(lines_of(corpus), trainer=trainer)
    trained = time.perf_counter()
    tokens, lines = 0, lines_of(corpus)
    while batch := list(islice(lines, 10_000)):
        tokens += sum(len(e.ids) for e in tok.encode_batch(batch))
    end = time.perf_counter()
    return {
        "prep_s": end - start,
        "train_s": trained - start,
        "encode_s": end - trained,
        "tokens": tokens,
    }


def dlkit_prep(corpus: Path, cache: Path) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir

    from dlkit.commands.app import config_dir
    from dlkit.commands.components import load_data, tokenizer_for

    start = time.perf_counter()
    overrides = ["+experiment=bert_mlm", f"data.sources=[{corpus}]", f"paths.cache_dir={cache}"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data = load_data(cfg, ())
    loaded = time.perf_counter()
    tokenizer = tokenizer_for(cfg, data, None)  # as every run trains it
    trained = time.perf_counter()
    data.tokenize(tokenizer)
    end = time.perf_counter()
    return {
        "prep_s": end - start,
        "load_s": loaded - start,
        "tokenizer_s": trained - loaded,
        "tokenize_s": end - trained,
        "data": data.describe(),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Pretraining data preparation: dlkit vs the tokenizers library",
        "",
        f"{report['what']}. {report['cpus']} CPUs. Targets: dlkit within "
        f"{report['targets']['ratio']}x tokenizers' time, peak under "
        f"{report['targets']['peak_mb']} MB at 1 GB.",
        "",
        "| corpus | tokenizers s (wall) | tokenizers MB | dlkit s (wall) | dlkit MB | ratio | "
        "dlkit load / tokenizer / tokenize s | warm s (wall) | warm MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["rows"]:
        tok, dl, warm = row["tokenizers"], row["dlkit"], row["dlkit-warm"]
        phases = f"{dl['load_s']:.1f} / {dl['tokenizer_s']:.1f} / {dl['tokenize_s']:.1f}"
        lines.append(
            f"| {row['size_mb']:g} MB | {_time(tok)} | {tok['peak_mb']:.0f} | {_time(dl)} | "
            f"{dl['peak_mb']:.0f} | {row['ratio']:.2f} | {phases} | {_time(warm)} | "
            f"{warm['peak_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _time(job: dict[str, Any]) -> str:
    return f"{job['prep_s']:.1f} ({job['wall_s']:.1f})"


if __name__ == "__main__":
    main()
