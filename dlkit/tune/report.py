"""What a finished `dlkit tune` leaves: the table of trials (printed, and trials.csv), the best
trial's run folder, best.yaml (its settings, ready to train) and Optuna's plots as PNG."""

from __future__ import annotations

import csv
import shlex
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.table import Table

from dlkit import console
from dlkit.tune.space import Spec, overrides

PLOTS = ("optimization_history", "param_importances", "intermediate_values")


def write(
    study: optuna.Study, spec: Spec, folder: Path, base: Sequence[str], groups: set[str]
) -> dict[str, Any]:
    """`groups`: the config groups (model, data, ...), whose overrides best.yaml writes as
    defaults entries rather than values."""
    trials = study.get_trials(deepcopy=False)
    table(trials, spec, folder)
    write_csv(trials, spec, folder / "trials.csv")
    out: dict[str, Any] = {"trials_csv": folder / "trials.csv", "notes": []}
    best = _best(study)
    if best is None:
        out["notes"].append("no trial completed: no best settings yet")
    else:
        text, command = best_yaml(best, spec, folder, base, groups)
        (folder / "best.yaml").write_text(text)
        out.update(best=best.number, best_yaml=folder / "best.yaml", command=command)
        console.console.print(
            f"Best: trial {best.number}, {spec.monitor} = {best.value:.4f} "
            f"in [bold]{best.user_attrs.get('run_dir')}[/bold]\n"
            f"Its settings: {folder / 'best.yaml'}\nTrain with them: {escape(command)}",
            soft_wrap=True,  # one line to copy, however narrow the terminal
            highlight=False,
        )
    out["plots"], notes = plots(study, spec, folder / "plots")
    out["notes"] += notes
    for note in out["notes"]:
        console.console.print(f"[yellow]{note}[/yellow]")
    return out


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial
        return None


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(trials: Sequence[FrozenTrial], spec: Spec, folder: Path) -> None:
    keys = [p.key for p in spec.params]
    grid = Table(title=f"dlkit tune: {folder}")
    for name in ("trial", "state", spec.monitor, *keys, "run folder"):
        grid.add_column(name, justify="right" if name != "run folder" else "left")
    for t in trials:
        state = t.state.name.lower()
        if t.state == TrialState.PRUNED and t.user_attrs.get("pruned_at"):
            state += f" @{t.user_attrs['pruned_at'].get('step')}"
        run = t.user_attrs.get("run_dir", "")
        grid.add_row(
            str(t.number),
            state,
            "" if t.value is None else f"{t.value:.4f}",
            *[_shown(t.params.get(k, "")) for k in keys],
            str(Path(run).resolve().relative_to(folder.resolve())) if _inside(run, folder) else run,
        )
    # A pipe or a log gets every column whole; a terminal its own width.
    console.console.print(grid, width=None if console.console.is_terminal else 160)


def _inside(path: str, folder: Path) -> bool:
    return bool(path) and Path(path).resolve().is_relative_to(folder.resolve())


def write_csv(trials: Sequence[FrozenTrial], spec: Spec, path: Path) -> None:
    keys = [p.key for p in spec.params]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", *keys, "pruned_step", "run_dir"])
        for t in trials:
            at = t.user_attrs.get("pruned_at") or {}
            writer.writerow(
                [t.number, t.state.name.lower(), "" if t.value is None else t.value]
                + [t.params.get(k, "") for k in keys]
                + [at.get("step", ""), t.user_attrs.get("run_dir", "")]
            )


def best_yaml(
    best: FrozenTrial, spec: Spec, folder: Path, base: Sequence[str], groups: set[str]
) -> tuple[str, str]:
    """An experiment file (`# @package _global_`) that composes what the best trial ran: the
    experiment it started from, the command line's settings and the trial's values; and the
    same as a `dlkit train` command line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = {k: best.params[k] for k in (p.key for p in spec.params) if k in best.params}
    line = [*base, *overrides(params)]
    command = "dlkit train " + shlex.join(line)
    defaults: list[Any] = []
    values: dict[str, Any] = {}
    skipped: list[str] = []
    for override in OverridesParser.create().parse_overrides(line):
        key, value = override.key_or_group, _plain(override.value())
        if key == "experiment":
            defaults.insert(0, f"/experiment/{value}")
        elif key.startswith(("hydra.", "hydra/")) or override.is_delete():
            skipped.append(override.input_line)
        elif key in groups:
            defaults.append({f"override /{key}": value})
        else:
            node = values
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
    name = f"{best.user_attrs.get('experiment') or 'default'}_tuned"
    header = [
        "# @package _global_",
        f"# dlkit tune: the best of the trials in {folder}: trial {best.number}, "
        f"{spec.monitor} = {best.value:.6g} ({spec.direction}).",
        f"# Its run folder: {best.user_attrs.get('run_dir')}",
        "# Train with these settings, as overrides:",
        f"#   {command}",
        f"# or as an experiment: copy this file to configs/experiment/{name}.yaml, then",
        f"#   dlkit train +experiment={name}",
    ]
    if skipped:
        header.append(f"# (not in this file, give them on the command line: {' '.join(skipped)})")
    body = yaml.safe_dump({"defaults": [*defaults, "_self_"], **values}, sort_keys=False)
    return "\n".join(header) + "\n" + body, command


def _plain(value: Any) -> Any:
    """A parsed override value as YAML writes it (quoted strings are strings)."""
    from hydra.core.override_parser.types import QuotedString

    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def plots(study: optuna.Study, spec: Spec, folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Optuna's matplotlib plots as PNG; one that cannot be drawn yet is a note, not an
    error (importances need two searched settings and a few completed trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    completed = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    written: dict[str, Path] = {}
    notes: list[str] = []
    reasons = {
        "optimization_history": "no completed trial" if not completed else None,
        "param_importances": (
            "it needs at least two searched settings"
            if len(spec.params) < 2
            else "it needs at least two completed trials"
            if len(completed) < 2
            else None
        ),
        "intermediate_values": None,
    }
    draw = {
        "optimization_history": vis.plot_optimization_history,
        "param_importances": vis.plot_param_importances,
        "intermediate_values": vis.plot_intermediate_values,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        if reasons[name]:
            notes.append(f"plots/{name}.png skipped: {reasons[name]}")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning on every call
                axes = draw[name](study)
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.set_size_inches(8, 5)
            figure.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
            plt.close(figure)
            written[name] = folder / f"{name}.png"
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            notes.append(f"plots/{name}.png skipped: {err}")
    if written:
        console.console.print(f"Plots: {', '.join(str(p) for p in written.values())}")
    return written, notes
