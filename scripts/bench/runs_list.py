"""How long `dlkit runs list` takes on a run root of 100 run folders (the issue's bar: well
under half a second), start-up included: each timing is a fresh `dlkit` process, best of 5.

The folders are synthetic but full-sized: run.json, results.json, config.yaml and .hydra/
as training writes them, and a metrics.csv of a few hundred rows; most completed, a few
running, failed and preempted (whose metrics.csv `dlkit runs list` does read)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATUSES = ["completed"] * 17 + ["running", "failed", "preempted"]  # 85% completed


def make_root(root: Path, count: int) -> None:
    metrics = "step,epoch,train/loss,train/lr,val/acc,val/loss\n" + "".join(
        f"{s},0,{1 / s:.6f},{1e-4:.6g},{'0.8,0.4' if s % 500 == 0 else ','}\n"
        for s in range(50, 10001, 50)
    )
    config = "".join(
        f"group{g}:\n" + "".join(f"  key{k}: {k}\n" for k in range(20)) for g in range(8)
    )
    config += "task:\n  name: text_classification\n  monitor: val/acc\n  monitor_mode: max\n"
    for i in range(count):
        experiment = f"exp{i % 4}"
        run = root / experiment / f"2026-12-03_{i // 60:02d}-{i % 60:02d}-00"
        (run / ".hydra").mkdir(parents=True)
        status = STATUSES[i % len(STATUSES)]
        record = {
            "status": status,
            "started": "2026-12-03T10:00:00+0000",
            "command": ["dlkit", "train", f"+experiment={experiment}", f"optimizer.lr={i}e-5"],
            "experiment": experiment,
            "versions": {name: "1.0" for name in ("python", "torch", "lightning", "dlkit")},
            "data_files": {"train": {"path": "/data/train.tsv", "sha256": "0" * 64}},
            "labels": ["negative", "positive"],
            "updated": "2026-12-03T11:00:00+0000",
        }
        if status == "completed":
            record["finished"] = "2026-12-03T11:00:00+0000"
            results = {"monitor": "val/acc", "validation": {"acc": 0.8, "loss": 0.4}}
            (run / "results.json").write_text(json.dumps({**results, "global_step": 10000}))
        (run / "run.json").write_text(json.dumps(record, indent=2))
        (run / "config.yaml").write_text(config)
        (run / ".hydra" / "overrides.yaml").write_text(
            f"- +experiment={experiment}\n- optimizer.lr={i}e-5\n"
        )
        (run / "metrics.csv").write_text(metrics)


def time_listing(root: Path, repeats: int) -> tuple[float, int]:
    """The best wall time of `dlkit runs list` (output piped: TSV) and its row count."""
    program = Path(sys.executable).with_name("dlkit")
    command = [str(program)] if program.exists() else [sys.executable, "-m", "dlkit"]
    best, rows = float("inf"), 0
    for _ in range(repeats):
        began = time.perf_counter()
        done = subprocess.run(
            [*command, "runs", "list", "--root", str(root)],
            capture_output=True,
            text=True,
            check=True,
        )
        best = min(best, time.perf_counter() - began)
        rows = len(done.stdout.splitlines()) - 1
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dlkit-runs-bench-"))
    try:
        make_root(root, args.runs)
        seconds, rows = time_listing(root, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"dlkit runs list: {rows} runs in {seconds * 1000:.0f} ms (best of {args.repeats})")


if __name__ == "__main__":
    main()
