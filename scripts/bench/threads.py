"""`make bench`, shared CPUs: bert_cls training speed with hardware.threads=auto against a fixed
thread count (every usable CPU: torch's own default, dlkit's before the thread policy) and one
thread, on the quiet machine and with one CPU taken by a competing CPU-bound process.

Targets: with a CPU taken, auto at least 0.9 times the one-thread speed; quiet, auto within 3%
of the fixed count. Settings are interleaved, each round in a fresh process; medians reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUSY_LOOP = "while True: pass"


def usable() -> int:
    sys.path.insert(0, str(ROOT))
    from dlkit.training.threads import usable_cpus  # noqa: PLC0415 (torch loads only here)

    return usable_cpus()[0]


def train(threads: str, steps: int, run: Path) -> float:
    command = [
        sys.executable, "-m", "dlkit", "train", "+experiment=bert_cls",
        f"trainer.max_steps={steps}", f"hardware.threads={threads}", f"paths.output_dir={run}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads((run / "results.json").read_text())["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    cores = usable()
    settings = {"auto": "auto", f"fixed {cores}": str(cores), "one thread": "1"}
    speeds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as work:
        for round_ in range(args.rounds):
            for load in ("quiet", "one CPU taken"):
                rival = None
                if load != "quiet":
                    rival = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                try:
                    for name, value in settings.items():
                        run = Path(work) / f"{round_}-{load}-{name}".replace(" ", "_")
                        speed = train(value, args.steps, run)
                        speeds.setdefault(f"{load}: {name}", []).append(speed)
                        print(f"{load:14} {name:11} {speed:7.1f} samples/s", flush=True)
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
        "busy_auto_vs_one_thread": median["one CPU taken: auto"]
        / median["one CPU taken: one thread"],
        "quiet_auto_vs_fixed": median["quiet: auto"] / median[f"quiet: {fixed}"],
    }
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
        f"quiet: auto / fixed {cores} = {results['quiet_auto_vs_fixed']:.3f} (target >= 0.97)"
    )
    (out / "threads.md").write_text(f"{table}\n\n{ratios}\n")
    print(f"{table}\n\n{ratios}")


if __name__ == "__main__":
    if os.environ.get("OMP_NUM_THREADS"):
        sys.exit("error: unset OMP_NUM_THREADS; this benchmark sets the threads itself.")
    main()
