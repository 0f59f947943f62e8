"""What a person sees: the resolved config at start, the final metrics and the run folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

console = Console()
errors = Console(stderr=True)


def config_tree(cfg: DictConfig) -> None:
    """One branch per group with its settings on one line each: collapsed, not a YAML dump."""
    tree = Tree("[bold]config[/bold]", guide_style="dim")
    container = OmegaConf.to_container(cfg, resolve=True)
    for key, value in container.items():
        if isinstance(value, dict):
            branch = tree.add(f"[bold cyan]{key}[/bold cyan]")
            for sub, item in value.items():
                branch.add(f"{sub}: [green]{_short(item)}[/green]")
        else:
            tree.add(f"[bold cyan]{key}[/bold cyan]: [green]{_short(value)}[/green]")
    console.print(tree)


def _short(value: object, limit: int = 100) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
