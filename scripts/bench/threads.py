"""`make bench`, shared CPUs: bert_cls training speed with hardware.threads=auto against a fixed
thread count (every usable CPU: torch's own default, dlkit's before the thread policy) and one
thread, on the quiet machine and with one CPU taken by a competing CPU-bound process.

Targets: with a CPU taken, auto at least 0.9 times the one-thread speed; quiet, auto within 3%
of the fixed count. Settings are interleaved (the order rotating each round), each run a fresh
process; medians reported, with the thread counts auto chose in each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUSY_LOOP = "while True: pass"


def usable() -> int:
    sys.path.insert(0, str(ROOT))
    from dlkit.training.threads import usable_cpus  # noqa: PLC0415 (torch loads only here)

    return usable_cpus()[0]


def reading_cost(calls: int = 2000) -> float:
    """Seconds one load reading takes: all that auto adds to a fixed count when it changes
    nothing (one reading every CHECK_SECONDS), so its quiet overhead is this / CHECK_SECONDS."""
    from dlkit.training.threads import CpuLoad, _affinity  # noqa: PLC0415

    load = CpuLoad(_affinity())
    start = time.perf_counter()
    for _ in range(calls):
        load.others()
    return (time.perf_counter() - start) / calls


def train(threads: str, steps: int, run: Path) -> tuple[float, dict]:
    """Samples per second, and run.json's account of the threads (with every change)."""
    command = [
        sys.executable, "-m", "dlkit", "train", "+experiment=bert_cls",
        f"trainer.max_steps={steps}", f"hardware.threads={threads}", f"paths.output_dir={run}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    speed = json.loads((run / "results.json").read_text())["samples_per_second"]
    return speed, json.loads((run / "run.json").read_text())["threads"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    cores = usable()
    settings = {"auto": "auto", f"fixed {cores}": str(cores), "one thread": "1"}
    speeds: dict[str, list[float]] = {}
    changes: dict[str, list[list[int]]] = {}  # auto's thread counts over each run
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds):
            for load in ("quiet", "one CPU taken"):
                rival = None
                if load != "quiet":
                    rival = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                try:
                    items = list(settings.items())  # each round starts with another one
                    shift = round_ % len(items)
                    for name, value in items[shift:] + items[:shift]:
                        run = Path(work) / f"{round_}-{load}-{name}".replace(" ", "_")
                        speed, threads = train(value, args.steps, run)
                        speeds.setdefault(f"{load}: {name}", []).append(speed)
                        counts = [c["threads"] for c in threads["changes"]]
                        if value == "auto":
                            changes.setdefault(load, []).append(counts)
                        seen = f" (threads set to {counts})" if value == "auto" else ""
                        print(f"{load:14} {name:11} {speed:7.1f} samples/s{seen}", flush=True)
                finally:
                    if rival is not None:
                        rival.kill()
                        rival.wait()
    median = {key: statistics.median(values) for key, values in speeds.items()}
    fixed = f"fixed {cores}"
    results = {
        "usable_cpus": cores,
        "steps": args.steps,
        "rounds": args.rounds,
        "samples_per_second": median,
        "runs": speeds,
        "auto_thread_changes": changes,
        "busy_auto_vs_one_thread": median["one CPU taken: auto"]
        / median["one CPU taken: one thread"],
        "quiet_auto_vs_fixed": median["quiet: auto"] / median[f"quiet: {fixed}"],
        # the same configuration's own spread: what a difference between medians is up against
        "quiet_fixed_spread": max(speeds[f"quiet: {fixed}"]) / min(speeds[f"quiet: {fixed}"]),
    }
    from dlkit.training.threads import CHECK_SECONDS  # noqa: PLC0415

    results["reading_seconds"] = reading_cost()
    results["quiet_overhead_of_readings"] = results["reading_seconds"] / CHECK_SECONDS
    results["targets_met"] = {
        "busy: auto >= 0.9 x one thread": results["busy_auto_vs_one_thread"] >= 0.9,
        "quiet: auto within 3% of fixed": results["quiet_auto_vs_fixed"] >= 0.97,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "threads.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [f"| {key} | {value:.1f} |" for key, value in median.items()]
    table = "\n".join(["| setting | samples/s (median) |", "|---|---|", *rows])
    ratios = (
        f"busy: auto / one thread = {results['busy_auto_vs_one_thread']:.2f} (target >= 0.9); "
        f"quiet: auto / fixed {cores} = {results['quiet_auto_vs_fixed']:.3f} (target >= 0.97; "
        f"fixed {cores}'s own runs spread {results['quiet_fixed_spread']:.2f}x; auto's thread "
        f"changes per run: {changes}; its readings cost "
        f"{results['reading_seconds'] * 1e6:.0f} us every {CHECK_SECONDS:g} s, "
        f"{results['quiet_overhead_of_readings']:.1e} of the time)"
    )
    (out / "threads.md").write_text(f"{table}\n\n{ratios}\n")
    print(f"{table}\n\n{ratios}")


if __name__ == "__main__":
    if os.environ.get("OMP_NUM_THREADS"):
        sys.exit("error: unset OMP_NUM_THREADS; this benchmark sets the threads itself.")
    main()
