"""How many threads torch's CPU kernels use, and when to use fewer.

torch starts one OpenMP thread per core it sees, and each thread spins at every barrier
waiting for the others. When a core is taken by another process (a shared workstation, a CI
runner, two DDP processes on one machine) the spinning threads wait for a core that does not
come, and a 2-core run falls to half the speed of a single thread. So dlkit counts the CPUs
this process may really use (affinity, cgroup quota, SLURM, OMP_NUM_THREADS, processes per
machine), starts with that many threads, and under `hardware.threads=auto` watches how busy
its CPUs are with other processes' work (/proc/stat against its own CPU time), using only the
cores left free.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)

CGROUP = Path("/sys/fs/cgroup")
PROC_STAT = Path("/proc/stat")
CHECK_SECONDS = 2.0  # how often the load of the other processes is read


def usable_cpus(
    env: Mapping[str, str] = os.environ,
    affinity: set[int] | None = None,
    cgroup: Path = CGROUP,
    processes: int = 1,
) -> tuple[int, str]:
    """The CPUs one of `processes` processes on this machine may keep busy, and why."""
    cpus = affinity if affinity is not None else _affinity()
    limits = [(len(cpus), f"{len(cpus)} CPUs in this process's affinity")]
    quota = cgroup_quota(cgroup)
    if quota is not None:
        limits.append((quota, f"a cgroup CPU quota of {quota}"))
    for name in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        value = env.get(name, "")
        if value.isdigit() and int(value) > 0:
            limits.append((int(value), f"{name}={value}"))
    count, why = min(limits)
    if processes > 1:
        return max(1, count // processes), f"{why} shared by {processes} processes"
    return count, why


def _affinity() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def cgroup_quota(root: Path = CGROUP) -> int | None:
    """Whole CPUs the cgroup's quota allows (rounded up), None without a quota: cgroup v2's
    cpu.max ("max 100000" or "200000 100000"), else v1's cfs quota and period."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else max(1, math.ceil(quota / period))


def processes_per_machine(hardware: Mapping[str, Any], env: Mapping[str, str]) -> int:
    """Training processes sharing this machine's CPUs: torchrun and SLURM say so; a CPU DDP
    run started here has one per device."""
    for name in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        if env.get(name, "").isdigit():
            return max(1, int(env[name]))
    devices = hardware.get("devices", 1)
    if hardware.get("accelerator") == "cpu" and isinstance(devices, int) and devices > 1:
        return devices
    return 1


def fitting(usable: int, others: float) -> int:
    """Threads for the cores other processes leave free (`others`: cores' worth of their
    work), at least one."""
    return max(1, min(usable, round(usable - others)))


class CpuLoad:
    """Other processes' work on this process's CPUs since the last reading, in cores."""

    def __init__(self, cpus: set[int], stat: Path = PROC_STAT) -> None:
        self.cpus, self.stat = {f"cpu{i}" for i in cpus}, stat
        self.last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        try:
            lines = self.stat.read_text().splitlines()
        except OSError:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        busy = 0.0
        for line in lines:
            name, *fields = line.split()
            if name in self.cpus:
                user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
                busy += (user + nice + system + irq + softirq) / tick
        own = resource.getrusage(resource.RUSAGE_SELF)
        return time.monotonic(), busy, own.ru_utime + own.ru_stime

    def others(self) -> float | None:
        now = self._read()
        if now is None or self.last is None or now[0] - self.last[0] <= 0:
            self.last = now
            return None
        wall, busy, own = (b - a for a, b in zip(self.last, now, strict=True))
        self.last = now
        return max(0.0, (busy - own) / wall)


class ThreadPolicy(Callback):
    """Sets torch's threads; under `adapt`, moves them to the cores other processes leave
    free, after two readings agree (one reading at the start of training)."""

    def __init__(self, usable: int, why: str, setting: str, adapt: bool) -> None:
        self.usable, self.why, self.setting, self.adapt = usable, why, setting, adapt
        self.threads = usable
        self.changes: list[dict[str, Any]] = []
        self.load = CpuLoad(_affinity()) if adapt else None
        self.pending: int | None = None
        self.next_check = 0.0
        torch.set_num_threads(self.threads)

    def record(self) -> dict[str, Any]:
        """For run.json: what was chosen, why, and every change while training."""
        return {
            "setting": self.setting,
            "usable": self.usable,
            "why": self.why,
            "threads": self.threads,
            "changes": self.changes,
        }

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._check(at_start=True)

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if self.adapt and time.monotonic() >= self.next_check:
            self._check(at_start=False)

    def _check(self, at_start: bool) -> None:
        if self.load is None:
            return
        self.next_check = time.monotonic() + CHECK_SECONDS
        others = self.load.others()
        if others is None:
            return
        target = fitting(self.usable, others)
        if target == self.threads:
            self.pending = None
        elif at_start or target == self.pending:
            self._set(target, others)
        else:
            self.pending = target

    def _set(self, threads: int, others: float) -> None:
        log.info(
            "%d thread(s) from now: other processes keep %.1f of the %d usable CPUs busy",
            threads,
            others,
            self.usable,
        )
        self.changes.append({"at": time.time(), "threads": threads, "others": round(others, 2)})
        self.threads, self.pending = threads, None
        torch.set_num_threads(threads)


def configure(hardware: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> ThreadPolicy:
    """The policy `hardware.threads` asks for: auto (adapt from the usable CPUs) or a number."""
    setting = hardware.get("threads", "auto")
    processes = processes_per_machine(hardware, env)
    if setting == "auto":
        usable, why = usable_cpus(env, processes=processes)
        on_cpu = hardware.get("accelerator", "cpu") == "cpu"
        return ThreadPolicy(usable, why, "auto", adapt=on_cpu and processes == 1)
    return ThreadPolicy(int(setting), f"hardware.threads={setting}", str(setting), adapt=False)
