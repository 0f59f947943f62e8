"""Latency at batch 1 and throughput at batch 32, for each format, on the same inputs."""

from __future__ import annotations

import statistics
import time

from dlkit.export.parity import Batch
from dlkit.export.runtime import Runtime


def measure(runtime: Runtime, singles: list[Batch], batches: list[Batch], warmup: int) -> dict:
    for batch in (singles[:warmup] + batches[:1]) if warmup else []:
        runtime(batch)
    latencies = []
    for single in singles:
        start = time.perf_counter()
        runtime(single)
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    for batch in batches:
        runtime(batch)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "latency_ms_p50": round(1000 * statistics.median(latencies), 3),
        "latency_ms_p90": round(1000 * latencies[int(0.9 * (len(latencies) - 1))], 3),
        "throughput_samples_per_s": round(sum(len(b["input_ids"]) for b in batches) / elapsed, 1),
    }
