"""bf16 on a CPU only where the CPU has bf16 matrix kernels.

oneDNN's bf16 matrix products need AVX-512 (or AMX) on x86; elsewhere torch falls back to a
reference loop. On an AVX2-only AMD EPYC, one bert_mini training step (batch 32 x 32 tokens)
took 6.4 s under bf16-mixed autocast against 0.18 s in fp32, so a recipe's `bf16-mixed` would
make a run of minutes one of hours. Such a CPU trains in fp32 instead, and says so."""

from __future__ import annotations

import logging
import platform

import torch

log = logging.getLogger(__name__)


def native_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (oneDNN's own answer on x86)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True  # unmeasured elsewhere: keep what the config asks for
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else True


def cpu_precision(precision: str, warn: bool = True) -> str:
    """`precision` for a CPU run, as it will run: fp16 autocast becomes bf16 (Lightning's own
    rule: CPUs have no fp16 autocast), and bf16 becomes 32-true where bf16 is not native."""
    if str(precision) in ("16-mixed", "16"):
        precision = "bf16-mixed"
    if not str(precision).startswith("bf16") or native_bf16():
        return precision
    if not warn:
        return "32-true"
    log.warning(
        "trainer.precision=%s: this CPU has no bf16 matrix instructions (torch would run a "
        "reference loop, about 35x slower than fp32), so this run trains in 32-true.",
        precision,
    )
    return "32-true"
