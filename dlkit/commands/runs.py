"""`dlkit runs`: list, show, compare and plot the run folders under the run root.

Plain argparse, not Hydra: the answer must come at once, so no config is composed and
neither torch nor Lightning is imported; the work is in dlkit.runs.index, select, table and
plots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlkit.errors import ConfigError, DlkitError, RunFolderError
from dlkit.runs import index, select, table

DESCRIPTION = """dlkit runs [list] [EXPERIMENT] [--status S[,S]] [--sort KEY] [--reverse] [--json]
dlkit runs show RUN [--json]
dlkit runs compare RUN RUN [RUN ...] [--json]
dlkit runs plot RUN [RUN ...] [--metric val/acc ...] [--out FILE]

The run root is --root DIR, else $DLKIT_RUN_ROOT, else ./runs (paths.run_root). A RUN is a
run folder, or its path under the run root (bert_cls/2026-12-03_15-20-19, bert_cls/latest,
bert_cls/best). Statuses: running, completed, failed, preempted, pruned (a tune trial
stopped early), stale (run.json says running but its process is gone), unreadable (a
damaged folder)."""
_SUBCOMMANDS = ("list", "show", "compare", "plot")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv or argv[0] not in (*_SUBCOMMANDS, "-h", "--help"):
        argv = ["list", *argv]
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or argparse's own usage message
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return {"list": listing, "show": show, "compare": compare, "plot": plot}[args.command](args)
    except DlkitError as err:
        from dlkit.commands.app import _report

        return _report(err)
    except BrokenPipeError:  # `dlkit runs list | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlkit runs",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", help="the run root (default: $DLKIT_RUN_ROOT, else ./runs)")
    sub = parser.add_subparsers(dest="command", required=True)
    listing_ = sub.add_parser("list", parents=[root], help="one row per run")
    listing_.add_argument("experiment", nargs="?", help="only this experiment's runs")
    listing_.add_argument("--status", help="only these statuses, comma-separated")
    listing_.add_argument(
        "--sort", default="started", help=f"{', '.join(select.COLUMNS)} or a metric (val/f1)"
    )
    listing_.add_argument("--reverse", action="store_true", help="reverse the order")
    listing_.add_argument("--json", action="store_true", help="JSON instead of a table")
    show_ = sub.add_parser("show", parents=[root], help="run.json and results.json")
    show_.add_argument("run")
    show_.add_argument("--json", action="store_true")
    compare_ = sub.add_parser("compare", parents=[root], help="differing config, metrics")
    compare_.add_argument("runs", nargs="+")
    compare_.add_argument("--json", action="store_true")
    plot_ = sub.add_parser("plot", parents=[root], help="curves of runs overlaid in a PNG")
    plot_.add_argument("runs", nargs="+")
    plot_.add_argument("--metric", action="append", help="a metrics.csv column (repeatable)")
    plot_.add_argument("--out", help="the PNG to write (default: <run root>/plots/...)")
    return parser


# -- list -------------------------------------------------------------------------------------
def listing(args: argparse.Namespace) -> int:
    root = _existing_root(args.root)
    rows = index.read_rows(root)
    statuses = [s.strip() for s in args.status.split(",") if s.strip()] if args.status else None
    rows = select.filter_rows(rows, args.experiment, statuses)
    rows = select.sort_rows(rows, args.sort, args.reverse)
    extra = args.sort if args.sort not in select.COLUMNS else None
    if not rows and not args.json and sys.stdout.isatty():
        filtered = " match those filters" if args.status else ""
        print(f"No runs under {root}{filtered}.")
        return 0
    table.list_table(rows, extra, args.json, sys.stdout)
    return 0


# -- show -------------------------------------------------------------------------------------
def show(args: argparse.Namespace) -> int:
    root = index.run_root(args.root)
    path = locate(args.run, root)
    row = index.read_row(path, root)
    record = _json_or_empty(path / "run.json")
    results = _json_or_empty(path / "results.json")
    if args.json:
        data = {"row": row.as_json(), "run.json": record, "results.json": results}
        print(json.dumps(data, indent=2, default=str))
    else:
        table.print_lines(table.show_text(row, record, results), sys.stdout)
    return 0


# -- compare ----------------------------------------------------------------------------------
_ABSENT = object()  # a key one run's config does not have at all


def compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ConfigError("dlkit runs compare needs two runs or more: compare RUN RUN [RUN ...].")
    root = index.run_root(args.root)
    paths = [locate(run, root) for run in args.runs]
    rows = [index.read_row(path, root) for path in paths]
    configs = [_flat_config(path) for path in paths]
    differing: dict[str, list[Any]] = {}
    for key in sorted({k for config in configs for k in config}):
        values = [config.get(key, _ABSENT) for config in configs]
        if any(v != values[0] for v in values[1:]):
            differing[key] = values
    metrics: dict[str, list[Any]] = {
        "status": [row.status for row in rows],
        "steps": [row.steps for row in rows],
        "duration": [table.duration_text(row.duration) or None for row in rows],
        "monitor": [row.monitor for row in rows],
        "value": [row.value for row in rows],
    }
    names = sorted({k for row in rows for k in row.metrics}, key=lambda k: (k[:4] != "val/", k))
    metrics.update({name: [row.metrics.get(name, _ABSENT) for row in rows] for name in names})
    runs = [row.run for row in rows]
    if args.json:
        data = {
            "runs": runs,
            "metrics": _by_run(runs, metrics),
            "config": _by_run(runs, differing),  # a run without the key is left out
        }
        print(json.dumps(data, indent=2, default=str))
    else:
        sections = [("metrics", metrics), ("config (differing keys)", differing)]
        shown = [(title, {k: [_shown(v) for v in vs] for k, vs in keys.items()})
                 for title, keys in sections]  # fmt: skip
        table.compare_table(runs, shown, sys.stdout)
    return 0


def _by_run(runs: Sequence[str], keys: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    return {
        key: {run: v for run, v in zip(runs, values, strict=True) if v is not _ABSENT}
        for key, values in keys.items()
    }


def _shown(value: Any) -> Any:
    return "-" if value is _ABSENT else "null" if value is None else value


# -- plot -------------------------------------------------------------------------------------
def plot(args: argparse.Namespace) -> int:
    from dlkit.runs import curves, plots

    root = index.run_root(args.root)
    paths = [locate(run, root) for run in args.runs]
    rows = [index.read_row(path, root) for path in paths]
    series = [curves.read_curves(path / "metrics.csv") for path in paths]
    for row, found in zip(rows, series, strict=True):
        if not found:
            raise RunFolderError(
                f"{row.path} has no metrics in metrics.csv (the run logged no step yet, or "
                "the file is missing). Plot runs that have trained for a few steps."
            )
    metrics = args.metric or [next((r.monitor for r in rows if r.monitor), None) or "train/loss"]
    for metric in metrics:
        lacking = [row.run for row, found in zip(rows, series, strict=True) if metric not in found]
        if lacking:
            available = sorted({k for found in series for k in found})
            raise ConfigError(
                f"--metric {metric}: not in metrics.csv of {', '.join(lacking)}. Pass one of "
                f"the logged metrics: {', '.join(available)}."
            )
    modes = {row.monitor: row.mode for row in rows if row.monitor and row.mode}
    out = Path(args.out) if args.out else _default_plot_path(root, metrics)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {out}: the plot is a PNG; give a file name ending in .png.")
    labelled = [(row.run, found) for row, found in zip(rows, series, strict=True)]
    try:
        plots.overlay(labelled, metrics, out, modes)
    except OSError as err:
        raise ConfigError(f"Cannot write {out} ({err.strerror}); pass --out FILE.png.") from err
    print(out)
    return 0


def _default_plot_path(root: Path, metrics: Sequence[str]) -> Path:
    slug = "+".join(m.replace("/", "_") for m in metrics)
    return root / "plots" / f"{slug}_{time.strftime('%Y-%m-%d_%H-%M-%S')}.png"


# -- finding runs -------------------------------------------------------------------------------
def locate(name: str, root: Path) -> Path:
    """A run folder as given, or under the run root; `<experiment>/latest` and `/best` too."""
    from dlkit.runs.folder import resolve

    for candidate in (Path(name).expanduser(), root / name):
        if candidate.is_dir() or (
            candidate.name in ("latest", "best") and candidate.parent.is_dir()
        ):
            path = resolve(candidate)
            if any((path / marker).exists() for marker in ("run.json", "config.yaml", ".hydra")):
                return path
            raise RunFolderError(
                f"{path} is not a dlkit run folder (no run.json, config.yaml or .hydra/). "
                f"Name a run that `dlkit runs list --root {root}` lists."
            )
    raise RunFolderError(
        f"Run not found: {name} (neither a folder nor one under the run root {root}). Name "
        f"a run as `dlkit runs list` shows it, or pass --root DIR."
    )


def _existing_root(option: str | None) -> Path:
    root = index.run_root(option)
    if not root.is_dir():
        source = "--root" if option else "$DLKIT_RUN_ROOT"
        if not option and not os.environ.get("DLKIT_RUN_ROOT"):
            source = "the default ./runs"
        raise RunFolderError(
            f"No run root at {root} ({source}). Train a run first (dlkit train "
            "+experiment=NAME), or point --root DIR or $DLKIT_RUN_ROOT at your run folders."
        )
    return root


def _flat_config(path: Path) -> dict[str, Any]:
    """config.yaml as dotted keys (lists stay whole values), the run's own folder written
    <run> so that paths inside each run do not count as differences."""
    import yaml

    file = path / "config.yaml"
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError:
        raise RunFolderError(
            f"{file} is missing, so its settings cannot be compared. Compare runs whose "
            "folder has config.yaml (every run that got past its start has one)."
        ) from None
    except yaml.YAMLError as err:
        raise RunFolderError(
            f"{file} is not valid YAML ({' '.join(str(err).split())[:200]}); compare other runs."
        ) from None
    flat: dict[str, Any] = {}
    here = str(path.resolve())

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, str) and here in node:  # the run's own folder: same in each
            flat[prefix] = node.replace(here, "<run>")
        else:
            flat[prefix] = node

    walk(config if isinstance(config, dict) else {}, "")
    return flat


def _json_or_empty(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
