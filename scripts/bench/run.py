"""`make bench`: train the same model on the same data the same way with dlkit, a plain PyTorch
loop and transformers' Trainer, interleaved, and compare what each costs.

Every run is its own process (so start-up counts and peak RSS is per run). All three load
one saved initialisation (dropout 0), see dlkit's seeded training order, and use AdamW with
the same groups, linear warm-up/decay and gradient clipping at 1.0, so their losses agree
step by step: the check that they compute the same thing."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WAYS = ("plain", "trainer", "dlkit")
SIZES = ("2L-128H", "4L-256H")  # layers and hidden size; attention heads of 64 dimensions
WARMUP_STEPS = 10  # steady state is measured after these
LOSS_TOLERANCE = 1e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("DLKIT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sizes", default=",".join(SIZES), help="e.g. 2L-128H,4L-256H")
    parser.add_argument("--datasets", default="sst2,synthetic")
    parser.add_argument(
        "--dlkit-override",
        action="append",
        default=[],
        help="extra dlkit override, repeatable; callbacks.cpu_linear=null measures dlkit with "
        "torch's own CPU linear kernel, as the other two use",
    )
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS:
        sys.exit(f"error: --steps must be more than the {WARMUP_STEPS} warm-up steps.")

    out = Path(args.out).resolve()
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sst2 = Path(args.data_dir).resolve() / "sst2"
    if not (sst2 / "train.tsv").is_file():
        sys.exit(f"error: {sst2 / 'train.tsv'} not found; pass --data-dir (or DLKIT_DATA_DIR).")

    sizes = args.sizes.split(",")
    datasets = {"sst2": (sst2 / "train.tsv", sst2 / "dev.tsv")}
    tokenizer = prepare_tokenizer(sst2 / "train.tsv", work)
    if "synthetic" in args.datasets.split(","):
        datasets["synthetic"] = synthetic_data(tokenizer, work / "synthetic", args.seed)
    datasets = {k: v for k, v in datasets.items() if k in args.datasets.split(",")}
    inits = {s: prepare_model(tokenizer, s, work / f"init-{s}", args.seed) for s in sizes}

    runs: list[dict] = []
    for round_ in range(args.rounds):
        for size in sizes:
            for data, (train, validation) in datasets.items():
                ways = WAYS[round_ % 3 :] + WAYS[: round_ % 3]  # interleaved, order rotated
                for way in ways:
                    folder = work / f"{size}-{data}-{way}-r{round_}"
                    run = run_one(way, folder, inits[size], train, validation, args)
                    runs.append({"size": size, "data": data, "way": way, "round": round_, **run})
                    print(
                        f"round {round_} {size} {data} {way}: {run['samples_per_second']:.1f} "
                        f"samples/s, first step {run['first_step_s']:.2f} s, wall "
                        f"{run['wall_s']:.2f} s, peak RSS {run['peak_rss_mib']:.0f} MiB",
                        flush=True,
                    )

    results = summarise(runs, sizes, list(datasets), args)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (out / "results.md").write_text(table)
    print(table)


def prepare_tokenizer(train: Path, work: Path):
    """WordPiece trained on SST-2's training text, exactly as dlkit trains it."""
    from dlkit.models.tokenizer import train_tokenizer

    sys.path.insert(0, str(HERE))
    from shared import read_rows

    texts = [text for text, _ in read_rows(str(train))]
    return train_tokenizer("wordpiece", texts, 8000, True, work / "cache")


def prepare_model(tokenizer, size: str, folder: Path, seed: int) -> Path:
    """The shared initialisation: a random BERT with dropout 0 (so runs are comparable)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    match = re.fullmatch(r"(\d+)L-(\d+)H", size)
    if not match or int(match[2]) % 64:
        sys.exit(f"error: size {size!r} is not <layers>L-<hidden>H with hidden a multiple of 64.")
    layers, hidden = int(match[1]), int(match[2])
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
        id2label={0: "0", 1: "1"},
        label2id={"0": 0, "1": 1},
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def synthetic_data(tokenizer, folder: Path, seed: int) -> tuple[Path, Path]:
    """Random vocabulary words, long enough that every row is max-length tokens."""
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii())
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    paths = []
    for name, rows in (("train", 2048), ("dev", 256)):
        lines = ["sentence\tlabel"] + [
            f"{' '.join(rng.choices(words, k=130))}\t{rng.randint(0, 1)}" for _ in range(rows)
        ]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
        paths.append(folder / f"{name}.tsv")
    return paths[0], paths[1]


def command(way: str, folder: Path, init: Path, train: Path, validation: Path, args) -> list[str]:
    record = folder / "steps.json"
    if way == "dlkit":
        return [
            str(Path(sys.executable).with_name("dlkit")),
            "train",
            f"model.init_from={init}",
            "data=text_classification",
            f"data.files.train={train}",
            f"data.files.validation={validation}",
            "data.text_column=sentence",
            f"data.batch_size={args.batch_size}",
            f"data.max_length={args.max_length}",
            f"trainer.max_steps={args.steps}",
            "trainer.precision=32-true",
            "optimizer.lr=5e-4",
            "scheduler.warmup_ratio=0.06",
            "task.module.weight_decay=0.01",
            f"seed={args.seed}",
            f"paths.cache_dir={folder.parent / 'cache'}",
            f"hydra.run.dir={folder / 'run'}",
            "+callbacks.bench_timer._target_=dlkit_timer.StepTimer",
            f"+callbacks.bench_timer.out={record}",
            *args.dlkit_override,
        ]
    script = {"plain": "plain_loop.py", "trainer": "hf_trainer.py"}[way]
    return [
        sys.executable,
        str(HERE / script),
        f"--init={init}",
        f"--train={train}",
        f"--validation={validation}",
        f"--out={record}",
        f"--workdir={folder}",
        f"--steps={args.steps}",
        f"--batch-size={args.batch_size}",
        f"--max-length={args.max_length}",
        f"--seed={args.seed}",
    ]


def run_one(way: str, folder: Path, init: Path, train: Path, validation: Path, args) -> dict:
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    env.pop("DLKIT_RUN_STAMP", None)
    log = folder / "output.log"
    with log.open("w") as sink:
        started = time.time()
        clock = time.perf_counter()
        process = subprocess.Popen(
            command(way, folder, init, train, validation, args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - clock
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        sys.exit(f"error: the {way} run failed (exit {process.returncode}); {log}:\n{tail}")
    record = json.loads((folder / "steps.json").read_text())
    times = record["step_times"]
    steady = (len(times) - WARMUP_STEPS) * args.batch_size / (times[-1] - times[WARMUP_STEPS - 1])
    if way == "dlkit":
        results = json.loads((folder / "run" / "results.json").read_text())
        record["val_acc"] = results["validation"]["acc"]
    return {
        "samples_per_second": steady,
        "first_step_s": record["first_step_at"] - started,
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
        "val_acc": record["val_acc"],
        "losses": record["losses"],
    }


METRICS = ("samples_per_second", "first_step_s", "wall_s", "peak_rss_mib")


def summarise(runs: list[dict], sizes: list[str], datasets: list[str], args) -> dict:
    import torch
    import transformers

    configs = []
    for size in sizes:
        for data in datasets:
            mine = [r for r in runs if r["size"] == size and r["data"] == data]
            median = {
                way: {m: statistics.median(r[m] for r in mine if r["way"] == way) for m in METRICS}
                for way in WAYS
            }
            for way in WAYS:
                median[way]["val_acc"] = next(r["val_acc"] for r in mine if r["way"] == way)
                median[way]["ratio_to_plain"] = {
                    m: median[way][m] / median["plain"][m] for m in METRICS
                }
            losses = {way: next(r["losses"] for r in mine if r["way"] == way) for way in WAYS}
            diff = {
                way: max(abs(a - b) for a, b in zip(losses[way], losses["plain"], strict=True))
                for way in ("trainer", "dlkit")
            }
            configs.append(
                {
                    "size": size,
                    "data": data,
                    "median": median,
                    "dlkit_speed_by_round": round_ratios(mine),
                    "loss_at_steps": {w: [round(v, 6) for v in losses[w][::10]] for w in WAYS},
                    "max_loss_diff_to_plain": diff,
                    "same_loss": all(d <= LOSS_TOLERANCE for d in diff.values()),
                    "targets": targets(median),
                }
            )
    return {
        "settings": {
            "steps": args.steps,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "seed": args.seed,
            "rounds": args.rounds,
            "steady_state_after_steps": WARMUP_STEPS,
            "loss_tolerance": LOSS_TOLERANCE,
            "dlkit_overrides": args.dlkit_override,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "configs": configs,
        "runs": [{k: v for k, v in r.items() if k != "losses"} for r in runs],
    }


def round_ratios(runs: list[dict]) -> dict[str, list[float]]:
    """dlkit's samples/s over the others' within each round: the three runs of a round are
    back to back, so these ratios move less with the machine's drift than whole runs do."""
    speed = {(r["round"], r["way"]): r["samples_per_second"] for r in runs}
    rounds = sorted({r["round"] for r in runs})
    return {
        f"vs {way}": [round(speed[r, "dlkit"] / speed[r, way], 3) for r in rounds]
        for way in ("plain", "trainer")
    }


def targets(median: dict) -> dict[str, bool]:
    speed = {way: median[way]["samples_per_second"] for way in WAYS}
    return {
        "throughput >= 0.97x plain": speed["dlkit"] >= 0.97 * speed["plain"],
        "throughput >= 1.03x trainer": speed["dlkit"] >= 1.03 * speed["trainer"],
        "wall <= 1.10x plain": median["dlkit"]["wall_s"] <= 1.10 * median["plain"]["wall_s"],
    }


def markdown(results: dict) -> str:
    """Each figure with its ratio to the plain loop's in brackets."""
    lines = [
        "| model | data | way | samples/s | first step (s) | wall (s) | peak RSS (MiB) | dev acc "
        "| max loss diff |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config in results["configs"]:
        for way in WAYS:
            m, ratio = config["median"][way], config["median"][way]["ratio_to_plain"]
            cells = [config["size"], config["data"], way]
            for metric, digits in zip(METRICS, (1, 2, 2, 0), strict=True):
                cells.append(f"{m[metric]:.{digits}f} ({ratio[metric]:.3f}x)")
            cells += [f"{m['val_acc']:.4f}", f"{config['max_loss_diff_to_plain'].get(way, 0):.1e}"]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if overrides := results["settings"]["dlkit_overrides"]:
        lines += [f"dlkit ran with `{' '.join(overrides)}`.", ""]
    for config in results["configs"]:
        met = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in config["targets"].items())
        by_round = "; ".join(
            f"{k} {', '.join(f'{v:.3f}x' for v in values)}"
            for k, values in config["dlkit_speed_by_round"].items()
        )
        lines.append(
            f"- {config['size']} {config['data']}: same loss {config['same_loss']}; {met}; "
            f"dlkit's samples/s round by round {by_round}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
