"""The thread policy: the CPUs a process may use, and fewer threads while others take cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dlkit.training import threads
from dlkit.training.threads import (
    CpuLoad,
    ThreadPolicy,
    cgroup_quota,
    configure,
    fitting,
    processes_per_machine,
    usable_cpus,
)

FOUR = {0, 1, 2, 3}


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _cgroup(tmp_path: Path, v2: str | None = None, v1: tuple[int, int] | None = None) -> Path:
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2 + "\n")
    if v1 is not None:
        (tmp_path / "cpu").mkdir()
        (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(f"{v1[0]}\n")
        (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(f"{v1[1]}\n")
    return tmp_path


def test_affinity_alone(tmp_path) -> None:
    assert usable_cpus({}, FOUR, tmp_path) == (4, "4 CPUs in this process's affinity")


def test_cgroup_quota_v2_rounds_up_and_max_means_none(tmp_path) -> None:
    assert cgroup_quota(_cgroup(tmp_path, v2="150000 100000")) == 2
    assert usable_cpus({}, FOUR, tmp_path) == (2, "a cgroup CPU quota of 2")
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None


def test_cgroup_quota_v1(tmp_path) -> None:
    assert cgroup_quota(_cgroup(tmp_path, v1=(300000, 100000))) == 3
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_quota(tmp_path) is None


def test_slurm_omp_num_threads_and_processes_per_machine(tmp_path) -> None:
    assert usable_cpus({"SLURM_CPUS_PER_TASK": "3"}, FOUR, tmp_path)[0] == 3
    assert usable_cpus({"OMP_NUM_THREADS": "1"}, FOUR, tmp_path) == (1, "OMP_NUM_THREADS=1")
    assert usable_cpus({}, FOUR, tmp_path, processes=2) == (
        2,
        "4 CPUs in this process's affinity shared by 2 processes",
    )
    assert usable_cpus({}, {0}, tmp_path, processes=2)[0] == 1  # never zero


def test_processes_per_machine() -> None:
    assert processes_per_machine({"accelerator": "cpu", "devices": 1}, {}) == 1
    assert processes_per_machine({"accelerator": "cpu", "devices": 2}, {}) == 2
    assert processes_per_machine({"accelerator": "gpu", "devices": 4}, {}) == 1
    assert processes_per_machine({}, {"LOCAL_WORLD_SIZE": "4"}) == 4
    assert processes_per_machine({}, {"SLURM_NTASKS_PER_NODE": "8"}) == 8


def test_threads_fit_the_cores_other_processes_leave() -> None:
    assert fitting(2, 0.05) == 2
    assert fitting(2, 0.9) == 1
    assert fitting(2, 2.0) == 1  # at least one
    assert fitting(16, 3.8) == 12


def test_cpu_load_counts_other_processes_work_only(tmp_path, monkeypatch) -> None:
    stat = tmp_path / "stat"
    tick = threads.os.sysconf("SC_CLK_TCK")

    def write(busy_ticks: int) -> None:
        line = "cpu{} {} 0 0 1000 0 0 0 0 0 0"
        other = "cpu7 999999 0 0 0 0 0 0 0 0 0"  # not one of this process's CPUs
        stat.write_text("\n".join([line.format(0, busy_ticks), line.format(1, 0), other]))

    clock = iter([0.0, 10.0])
    own = iter([1.0, 6.0])  # this process: 5 s of CPU in the 10 s
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(
        threads.resource,
        "getrusage",
        lambda _: type("U", (), {"ru_utime": next(own), "ru_stime": 0.0})(),
    )
    write(0)
    load = CpuLoad({0, 1}, stat)
    write(15 * tick)  # 15 s busy on cpu0 and cpu1: 5 ours, 10 another's
    assert load.others() == pytest.approx(1.0)


class _Load:
    def __init__(self, readings: list[float]) -> None:
        self.readings = iter(readings)

    def others(self) -> float:
        return next(self.readings)


def test_policy_moves_after_two_agreeing_readings(monkeypatch) -> None:
    policy = ThreadPolicy(2, "test", "auto", adapt=True)
    policy.load = _Load([0.0, 1.0, 0.0, 1.0, 1.0, 0.1, 0.0])
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    policy.on_train_start(None, None)
    assert torch.get_num_threads() == 2
    for expected in (2, 2, 2, 1, 1, 2):  # 1.0 once, back, then twice: one thread; then back
        policy.on_train_batch_end(None)
        assert (policy.threads, torch.get_num_threads()) == (expected, expected)
    record = policy.record()
    assert [c["threads"] for c in record["changes"]] == [1, 2]
    assert record["usable"] == 2 and record["setting"] == "auto"


def test_policy_acts_on_the_first_reading_at_the_start() -> None:
    policy = ThreadPolicy(2, "test", "auto", adapt=True)
    policy.load = _Load([1.2])
    policy.on_train_start(None, None)
    assert policy.threads == torch.get_num_threads() == 1


def test_a_fixed_number_never_moves() -> None:
    policy = configure({"accelerator": "cpu", "devices": 1, "threads": 1})
    assert (policy.threads, policy.adapt, torch.get_num_threads()) == (1, False, 1)
    assert policy.record()["why"] == "hardware.threads=1"


def test_cpu_ddp_shares_the_cpus_and_does_not_adapt() -> None:
    policy = configure({"accelerator": "cpu", "devices": 2, "threads": "auto"}, env={})
    assert not policy.adapt
    assert policy.usable == max(1, usable_cpus({})[0] // 2)
    assert policy.why.endswith("shared by 2 processes")
