"""Run folders under the run root, read into one row each for `dlkit runs`.

Only small files are read (run.json, results.json, config.yaml's task block, .hydra's
overrides, and metrics.csv of unfinished runs) with json and string scanning, no YAML library:
a hundred runs list in a blink. Reading never raises: a damaged folder is a row whose status
is "unreadable" and whose note says what is wrong."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dlkit.runs import curves, liveness

# A folder holding any of these is a run (a tracker's store beside them is not).
_MARKERS = ("run.json", "config.yaml", ".hydra")
_TIME = "%Y-%m-%dT%H:%M:%S%z"  # dlkit.runs.folder._now
STATUSES = ("running", "completed", "failed", "preempted", "pruned", "stale", "unreadable")
# Overrides that say where or how a run was started, not what it is.
_BOOKKEEPING = ("hydra.", "hydra/", "+hydra", "~hydra", "resume=", "experiment=", "+experiment=")


@dataclass
class Row:
    """One run as `dlkit runs list` shows it; `metrics` holds results.json's val/ and test/."""

    path: Path
    run: str
    experiment: str
    status: str = "unreadable"
    started: datetime | None = None
    duration: float | None = None
    steps: int | None = None
    monitor: str | None = None
    mode: str | None = None
    value: float | None = None
    overrides: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def metric(self, name: str) -> float | None:
        """A metric by name (val/acc, test/f1); the monitored one also while running."""
        if name == self.monitor and self.value is not None:
            return self.value
        return self.metrics.get(name)

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "path": str(self.path),
            "experiment": self.experiment,
            "status": self.status,
            "started": self.started.isoformat() if self.started else None,
            "duration_seconds": None if self.duration is None else round(self.duration, 1),
            "steps": self.steps,
            "monitor": self.monitor,
            "monitor_mode": self.mode,
            "value": self.value,
            "overrides": self.overrides,
            "metrics": self.metrics,
            "note": self.note or None,
        }


def run_root(option: str | None = None) -> Path:
    """paths.run_root's rule without composing the config: --root, else $DLKIT_RUN_ROOT,
    else ./runs."""
    return Path(option or os.environ.get("DLKIT_RUN_ROOT") or "runs").expanduser()


def find_runs(root: Path) -> list[Path]:
    """<experiment>/<stamp>/ folders, and the runs one level inside a sweep folder
    (<experiment>/multirun_<stamp>/<n>/ of `-m`, <experiment>/tune_<stamp>/trial_<n>/ of
    `dlkit tune`), in name order."""
    runs: list[Path] = []
    for experiment in _subdirs(root):
        for child in _subdirs(experiment):
            if _is_run(child):
                runs.append(child)
            else:
                runs.extend(job for job in _subdirs(child) if _is_run(job))
    return runs


def read_rows(root: Path) -> list[Row]:
    return [read_row(path, root) for path in find_runs(root)]


def read_row(path: Path, root: Path) -> Row:
    """The row of one run folder; whatever is damaged goes into `note`, never an exception."""
    row = Row(path=path, run=_relative(path, root), experiment=_experiment(path, root))
    notes: list[str] = []
    record = _json_object(path / "run.json", notes)
    config = _read_text(path / "config.yaml")
    task = task_settings(config or "")
    row.overrides = overrides(path, record or {})
    if record is None:
        row.note = "; ".join(notes)
        return row
    row.experiment = str(record.get("experiment") or row.experiment)
    status = record.get("status")
    row.started = parse_time(record.get("started") or record.get("created"))
    results: dict[str, Any] = {}
    if status == "completed":
        results = _json_object(path / "results.json", notes) or {}
    row.monitor = str(results.get("monitor") or task.get("monitor") or "") or None
    row.mode = task.get("monitor_mode") or guess_mode(row.monitor)
    row.metrics = flat_metrics(results)
    if status == "completed":
        row.value = monitored_value(results, row.monitor)
        row.steps = _int(results.get("global_step"))
    else:
        curve = curves.column(path / "metrics.csv", row.monitor) if row.monitor else []
        best = curves.best_point(curve, row.mode or "min")
        row.value = best[1] if best else None
        row.steps = _int(record.get("preempted")) or curves.last_step(path / "metrics.csv")
    if status == "running" and liveness.process_gone(record):
        status = "stale"
        notes.append(
            f"run.json says running, but process {record.get('pid')} is gone; "
            f"resume={path} continues it"
        )
    if status == "failed" and record.get("error"):
        notes.append(str(record["error"]).splitlines()[0][:200])
    if not isinstance(status, str) or status not in STATUSES:
        notes.insert(0, f"run.json has status {status!r}")
        status = "unreadable"
    if notes and status == "completed":  # results.json damaged: the run's figures are lost
        status = "unreadable"
    row.status = status
    row.duration = _duration(row.started, record, status, path / "metrics.csv")
    row.note = "; ".join(notes)
    return row


# -- what the files say ---------------------------------------------------------------------
def task_settings(config_text: str) -> dict[str, str]:
    """task.monitor and task.monitor_mode from config.yaml as OmegaConf writes it (a top-level
    `task:` block, keys indented by two), without a YAML parser."""
    found: dict[str, str] = {}
    inside = False
    for line in config_text.splitlines():
        if line and not line[0].isspace():
            if inside:  # the block is over
                break
            inside = line.rstrip() == "task:"
        elif inside and line.startswith("  ") and not line.startswith("   "):
            key, _, value = line.strip().partition(":")
            if key in ("monitor", "monitor_mode"):
                found[key] = value.strip().strip("'\"")
    return found


def guess_mode(metric: str | None) -> str | None:
    """The direction of a metric whose config is gone: losses and perplexities go down."""
    if not metric:
        return None
    name = metric.rsplit("/", 1)[-1].lower()
    return "min" if any(word in name for word in ("loss", "perplexity", "ppl", "error")) else "max"


def monitored_value(results: dict[str, Any], monitor: str | None) -> float | None:
    """The monitored metric's final value (the evaluated weights, as results.json has it),
    else the best value seen during training."""
    split, _, name = (monitor or "").partition("/")
    section = results.get("validation") if split == "val" else results.get(split)
    value = section.get(name) if isinstance(section, dict) else None
    if not _is_number(value):
        during = results.get("best_during_training")
        value = during.get("value") if isinstance(during, dict) else results.get("best_score")
    return float(value) if _is_number(value) else None


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """results.json's validation and test sections as val/<name> and test/<name>."""
    flat: dict[str, float] = {}
    for section, prefix in (("validation", "val"), ("test", "test")):
        values = results.get(section)
        if isinstance(values, dict):
            flat.update({f"{prefix}/{k}": float(v) for k, v in values.items() if _is_number(v)})
    return flat


def overrides(path: Path, record: dict[str, Any]) -> list[str]:
    """The command-line overrides that make this run what it is: .hydra/overrides.yaml (the
    first start's, kept on resume), else run.json's command; bookkeeping left out."""
    listed = _overrides_yaml(path / ".hydra" / "overrides.yaml")
    if listed is None:
        command = record.get("command")
        listed = [str(a) for a in command[2:]] if isinstance(command, list) else []
    return [a for a in listed if not a.startswith(("-", *_BOOKKEEPING))]


def _overrides_yaml(path: Path) -> list[str] | None:
    """Hydra writes a flat YAML list; plain `- item` lines are read directly, anything fancier
    (quoted or folded items) by the YAML library."""
    text = _read_text(path)
    if text is None:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    if all(line.startswith("- ") and line[2:3] not in ("'", '"', "") for line in lines):
        return [line[2:].strip() for line in lines]
    try:
        import yaml

        items = yaml.safe_load(text)
    except Exception:  # a damaged file: no overrides, not a failed listing
        return None
    return [str(item) for item in items] if isinstance(items, list) else None


def parse_time(text: Any) -> datetime | None:
    """run.json's times (2026-12-03T15:20:19+0000); sliced by hand, as strptime costs more
    than the rest of a row."""
    if not text:
        return None
    text = str(text)
    try:
        if len(text) == 24 and text[10] == "T" and text[19] in "+-":
            sign = 1 if text[19] == "+" else -1
            offset = timedelta(hours=int(text[20:22]), minutes=int(text[22:24]))
            numbers = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
            return datetime(*map(int, numbers), tzinfo=timezone(sign * offset))
        return datetime.strptime(text, _TIME)
    except ValueError:
        return None


def _duration(
    started: datetime | None, record: dict[str, Any], status: str, metrics: Path
) -> float | None:
    """Start to finish; to the last update for a run that stopped; to now while running; to
    metrics.csv's last write for a run killed without a word."""
    if started is None:
        return None
    end = parse_time(record.get("finished") or record.get("updated"))
    if status == "running":
        end = datetime.now(timezone.utc)
    elif status == "stale" and os.path.exists(metrics):
        written = datetime.fromtimestamp(os.path.getmtime(metrics), timezone.utc)
        end = max(end, written) if end else written
    return max(0.0, (end - started).total_seconds()) if end else None


# -- helpers ----------------------------------------------------------------------------------
def _json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    text = _read_text(path)
    if text is None:
        notes.append(f"no {path.name}")
        return None
    try:
        data = json.loads(text)
    except ValueError:
        notes.append(f"{path.name} is not valid JSON")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path.name} holds no JSON object")
        return None
    return data


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            found = [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []
    return sorted(found)


def _is_run(path: Path) -> bool:
    return any(os.path.exists(os.path.join(path, marker)) for marker in _MARKERS)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _experiment(path: Path, root: Path) -> str:
    return _relative(path, root).split("/", 1)[0]


def _int(value: Any) -> int | None:
    return int(value) if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
