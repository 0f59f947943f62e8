"""The run folder contract: run.json (status and provenance), results.json, model/,
checkpoints/, metrics.csv, .hydra/ and eval/."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from dlkit.errors import RunFolderError

RUN_JSON = "run.json"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")  # one per writer
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: Path, fix: str) -> dict[str, Any]:
    """A JSON object a user's folder holds; damage is reported with `fix`, not a traceback."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path} is not valid JSON ({err}); {fix}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} holds no JSON object; {fix}")
    return data


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys (an empty mapping stays a value)."""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out |= flatten(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip("."): tree}


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    model_dir = property(lambda self: self.path / "model")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    config_file = property(lambda self: self.path / "config.yaml")  # resolved; .hydra/ has the rest
    best_checkpoint = property(lambda self: self.checkpoints_dir / "best.ckpt")
    last_checkpoint = property(lambda self: self.checkpoints_dir / "last.ckpt")  # resume from

    def read(self) -> dict[str, Any]:
        file = self.path / RUN_JSON
        return json.loads(file.read_text()) if file.is_file() else {}

    def update(self, **fields: Any) -> None:
        write_json(self.path / RUN_JSON, {**self.read(), **fields, "updated": _now()})

    def start(self, **fields: Any) -> None:
        self.update(status="running", started=_now(), **fields)

    def resume(self, step: int, command: list[str]) -> None:
        resumes = [
            *self.read().get("resumed", []),
            {"at": _now(), "step": step, "command": command},
        ]
        self.update(status="running", resumed=resumes, error=None)

    def finish(self, results: dict[str, Any]) -> None:
        write_json(self.path / "results.json", results)
        self.update(status="completed", finished=_now())

    def fail(self, reason: str) -> None:
        self.update(status="failed", finished=_now(), error=reason)

    def write_eval(self, name: str, metrics: dict[str, Any]) -> Path:
        file = self.path / "eval" / f"{name}.json"
        write_json(file, metrics)
        return file


ALIASES = ("latest", "best")


def resolve(path: str | Path) -> Path:
    """`<experiment>/latest` is the newest completed run of that experiment and
    `<experiment>/best` the one with the best monitored metric; either may go on inside the
    run (`runs/bert_cls/latest/exports/onnx`). The folder it resolved to is printed (stderr),
    so a smoke test's run is never used unnoticed."""
    path = Path(path).expanduser()
    if path.exists():
        return path
    parts = path.parts
    at = next((i for i, part in enumerate(parts) if part in ALIASES), None)
    if at is None:
        return path
    experiment = Path(*parts[:at]) if at else Path(".")
    run = latest_run(experiment) if parts[at] == "latest" else best_run(experiment)
    resolved = run.joinpath(*parts[at + 1 :])
    print(f"{path} -> {resolved}", file=sys.stderr)
    return resolved


def open_run(path: str | Path) -> RunFolder:
    """A finished run folder named on the command line, checked before anything heavy runs;
    `<experiment>/latest` and `<experiment>/best` as `resolve` says."""
    path = resolve(path)
    run = RunFolder(path)
    if not run.path.is_dir():
        raise RunFolderError(
            f"Run folder not found: {run.path}. Pass run=<an existing run folder>."
        )
    model_config = run.model_dir / "config.json"
    missing = [p.name for p in (run.config_file, run.model_dir, model_config) if not p.exists()]
    if missing:
        raise RunFolderError(
            f"{run.path} is not a complete dlkit run folder (missing {', '.join(missing)}). "
            "Pass the folder of a run that finished training."
        )
    read_json(model_config, "the model folder is damaged; copy the run folder again.")
    return run


def _completed(experiment_dir: Path, alias: str) -> list[Path]:
    done = [
        p.parent
        for p in sorted(experiment_dir.glob(f"*/{RUN_JSON}"))
        if RunFolder(p.parent).read().get("status") == "completed"
    ]
    if not done:
        raise RunFolderError(
            f"No completed run under {experiment_dir} (asked for {experiment_dir}/{alias}). "
            "Run that experiment first, or name a run folder."
        )
    return done


def latest_run(experiment_dir: Path) -> Path:
    """The newest completed run in an experiment's folder (`runs/bert_mlm/latest`)."""
    done = _completed(experiment_dir, "latest")
    return max(done, key=lambda p: RunFolder(p).read().get("finished", ""))


def best_run(experiment_dir: Path) -> Path:
    """The completed run with the best final validation value of its monitored metric
    (results.json), in the direction its config says (`task.monitor_mode`); ties go to the
    newer run."""

    def score(run: Path) -> tuple[float, str]:
        results = _results(run)
        split, _, name = str(results.get("monitor") or "val/loss").partition("/")
        value = results.get("validation", {}).get(name) if split == "val" else None
        if not isinstance(value, (int, float)):
            return (float("-inf"), "")
        sign = 1.0 if _monitor_mode(run) == "max" else -1.0
        return (sign * float(value), RunFolder(run).read().get("finished", ""))

    return max(_completed(experiment_dir, "best"), key=score)


def _monitor_mode(run: Path) -> str:
    try:
        config = yaml.safe_load((run / "config.yaml").read_text())
        return str(config["task"].get("monitor_mode", "min"))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return "min"


def _results(run: Path) -> dict[str, Any]:
    try:
        return json.loads((run / "results.json").read_text())
    except (OSError, ValueError):
        return {}


def model_source(init_from: str) -> str:
    """A dlkit run folder means its model/ (`<experiment>/latest`: the newest completed run);
    a local folder stays; anything else is a hub name."""
    path = resolve(init_from)
    if (path / RUN_JSON).is_file():
        return str(path / "model")
    if path.exists() or init_from.startswith((".", "/", "~")):
        if not path.exists():
            raise RunFolderError(
                f"model.init_from={init_from}: no such folder. Give an existing Hugging Face "
                "model folder, a dlkit run folder or a hub model name."
            )
        return str(path)
    return init_from


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
