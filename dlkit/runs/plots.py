"""PNG plots from metrics.csv: a finished run's own (plots/ in its folder: training loss,
validation metrics, learning rate) and `dlkit runs plot`'s overlay of several runs.

matplotlib is imported inside the functions, and only its Figure API is used (no pyplot, no
backend switch), so a training process or a headless node draws without a display and
`dlkit runs list` never pays for the import."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlkit.runs import curves, index

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger("dlkit")
PLOTS = "plots"


def write_run_plots(run_dir: Path) -> list[Path]:
    """plots/train_loss.png, plots/validation.png and plots/lr.png from the run's metrics.csv
    (each only where its columns exist); the monitored metric's best point is marked."""
    run_dir = Path(run_dir)
    series = curves.read_curves(run_dir / "metrics.csv")
    monitor, mode = _monitor(run_dir)
    name = run_name(run_dir)
    out = run_dir / PLOTS
    written: list[Path] = []
    losses = {k: series[k] for k in ("train/loss", "val/loss") if k in series}
    if "train/loss" in losses:
        written.append(
            _draw(out / "train_loss.png", f"{name}: loss", [("loss", losses)], monitor, mode)
        )
    validation = sorted((k for k in series if k.startswith("val/")), key=lambda k: k != monitor)
    if validation:
        panels = [(k, {k: series[k]}) for k in validation]
        written.append(_draw(out / "validation.png", f"{name}: validation", panels, monitor, mode))
    rates = {k: v for k, v in series.items() if k.endswith("/lr") or k.startswith("lr-")}
    if rates:
        written.append(_draw(out / "lr.png", f"{name}: learning rate", [("lr", rates)], None, ""))
    return written


def write_run_plots_safely(run_dir: Path) -> list[Path]:
    """For the end of a run: a plot that cannot be drawn is a warning, never a failed run."""
    try:
        return write_run_plots(run_dir)
    except Exception as err:  # matplotlib missing, a damaged metrics.csv, a full disk
        log.warning("plots/ not written for %s (%s: %s)", run_dir, type(err).__name__, err)
        return []


def overlay(
    runs: Sequence[tuple[str, Mapping[str, curves.Curve]]],
    metrics: Sequence[str],
    out: Path,
    modes: Mapping[str, str],
) -> Path:
    """One panel per metric, one line per run (labelled with its name), best points marked."""
    panels = [(metric, {label: series[metric] for label, series in runs if metric in series})
              for metric in metrics]  # fmt: skip
    title = ", ".join(metrics) if len(runs) == 1 else f"{len(runs)} runs: {', '.join(metrics)}"
    return _draw(out, title, panels, "*", "", modes=modes)


def run_name(run_dir: Path) -> str:
    """<experiment>/<folder> (or <experiment>/<sweep>/<n>): what `dlkit runs` lists."""
    parts = Path(run_dir).resolve().parts
    depth = 3 if len(parts) > 1 and parts[-2].startswith(("multirun_", "tune_")) else 2
    return "/".join(parts[-depth:])


def _monitor(run_dir: Path) -> tuple[str | None, str]:
    record: dict = {}
    try:
        import json

        record = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        pass
    task = index.task_settings(_text(run_dir / "config.yaml"))
    monitor = (record.get("monitor") if isinstance(record, dict) else None) or task.get("monitor")
    return monitor, task.get("monitor_mode") or index.guess_mode(monitor) or "min"


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _draw(
    path: Path,
    title: str,
    panels: Sequence[tuple[str, Mapping[str, curves.Curve]]],
    monitor: str | None,
    mode: str,
    modes: Mapping[str, str] | None = None,
) -> Path:
    """Panels side by side (three a row) on one figure, written as a PNG. The best point is
    marked on the panel of `monitor` ("*": on every panel but training's noisy curves, in
    `modes`' direction)."""
    from matplotlib.figure import Figure

    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(5.2 * columns, 3.6 * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (label, lines) in zip(axes, panels, strict=False):
        marked = label == monitor or (monitor == "*" and not label.startswith("train/"))
        panel_mode = (modes or {}).get(label) or mode or index.guess_mode(label) or "min"
        _panel(ax, label, lines, panel_mode if marked else None)
        if len(panels) > 1:
            ax.set_title(label, fontsize=10)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    figure.suptitle(title)
    _save(figure, path)
    return path


def _panel(ax: Axes, label: str, lines: Mapping[str, curves.Curve], best: str | None) -> None:
    for name, curve in lines.items():
        if not curve:
            continue
        steps, values = zip(*curve, strict=True)
        marker = "o" if len(curve) < 30 else None  # a few validations: show each one
        (line,) = ax.plot(steps, values, label=name, marker=marker, markersize=3)
        point = curves.best_point(curve, best) if best else None
        if point:
            ax.plot(*point, marker="*", markersize=14, color=line.get_color(), zorder=5)
            right_half = point[0] > (steps[0] + steps[-1]) / 2  # keep the label inside
            ax.annotate(
                f"best {point[1]:.4g} @ {point[0]}",
                point,
                textcoords="offset points",
                xytext=(-8 if right_half else 8, 8),
                ha="right" if right_half else "left",
                fontsize=8,
            )
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate" if label == "lr" else label)
    ax.grid(alpha=0.3)
    if label == "lr":
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    if len(lines) > 1:
        ax.legend(fontsize=8)


def _save(figure: Figure, path: Path) -> None:
    """Through a temporary name, so a reader never opens half a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        figure.savefig(partial, format="png", dpi=100)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
