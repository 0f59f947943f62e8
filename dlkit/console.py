"""What a person sees: a short summary at start, the final metrics and the run folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def run_summary(cfg: DictConfig, command: str, run_dir: str) -> None:
    """The few settings that decide a run, before it starts; the run folder's config.yaml
    holds every setting."""
    model, data, trainer = cfg.model, cfg.data, cfg.trainer
    files = data.get("files") or {}
    hub = data.get("hub") or {}
    train = files.get("train")
    if hub.get("path") and not (train and Path(train).expanduser().exists()):
        train = f"{hub.path}{f' ({hub.name})' if hub.get('name') else ''} (hub)"
    if train is None and data.get("sources"):
        train = f"{len(data.sources)} text sources"
    steps = [f"{trainer.max_steps} steps"] if (trainer.get("max_steps") or -1) > 0 else []
    if (trainer.get("max_epochs") or -1) > 0:
        epochs = f"{trainer.max_epochs} epoch{'s' if trainer.max_epochs > 1 else ''}"
        steps.append(f"(at most {epochs})" if steps else epochs)
    rows = {
        "model": f"{model.name} ({model.arch}), "
        + (f"from {model.init_from}" if model.get("init_from") else "from scratch"),
        "data": f"{data.name}: {train}, batch {data.batch_size}",
        "task": f"{cfg.task.name}, best by {cfg.task.monitor} ({cfg.task.monitor_mode})",
        "training": f"{' '.join(steps) or 'until stopped'}, "
        f"{cfg.optimizer._target_.rsplit('.', 1)[-1]} lr {cfg.optimizer.lr}, "
        f"{trainer.precision} on {cfg.hardware.accelerator}",
        "run folder": f"{run_dir} (config.yaml there holds every setting)",
    }
    console.print(f"[bold]dlkit {command}[/bold] {escape(cfg.experiment_name)}")
    width = max(map(len, rows))
    for name, value in rows.items():  # soft-wrapped: a log file gets whole lines
        console.print(
            f"[bold cyan]{name:<{width}}[/bold cyan]  {escape(str(value))}", soft_wrap=True
        )


def metrics_table(title: str, metrics: Mapping[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def error(message: str) -> None:
    """Messages hold [a,b] and [file://...]: text, not rich markup."""
    errors.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)


def benchmark_table(results: Mapping[str, Mapping[str, float]]) -> None:
    table = Table(title="export benchmark")
    for column in ("format", "ms @1 (p50)", "vs pytorch", "rows/s @32", "vs pytorch"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for name, row in results.items():
        table.add_row(
            name,
            f"{row['latency_ms_p50']:.2f}",
            f"{row['latency_vs_pytorch']:.2f}x",
            f"{row['throughput_samples_per_s']:.0f}",
            f"{row['throughput_vs_pytorch']:.2f}x",
        )
    console.print(table)


@contextmanager
def stream_progress(total_bytes: int | None) -> Iterator[Callable[[int, int], None]]:
    """Progress through an input of known size (bytes) or of unknown size (rows), on stderr
    so predictions can go to stdout."""
    columns = [TextColumn("{task.fields[rows]} rows"), TimeElapsedColumn()]
    if total_bytes:
        columns[1:1] = [BarColumn(), TaskProgressColumn()]
    with Progress(*columns, console=errors, disable=not errors.is_terminal) as progress:
        task = progress.add_task("predict", total=total_bytes, rows=0)
        yield lambda done, rows: progress.update(task, completed=done, rows=rows)
