"""A corpus config's sources: files or globs, each with the hub split it comes from when it
is absent (`hub: {path, name, split}`), and a whole hub corpus of its own (`data.hub`).
Standard library only: the command line reads them before torch is imported."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected, hub_split
from dlkit.errors import DataError

_FORMATS = (None, "conll")  # by extension, or a CoNLL file whose words are the text


def as_sources(sources: list[dict[str, Any] | str] | str | None) -> list[dict[str, Any]]:
    """Plain paths and {path: ...} entries alike, as {path: ...} entries."""
    items = [sources] if isinstance(sources, str) else list(sources or [])
    out = []
    for item in items:
        entry = {"path": str(item)} if isinstance(item, (str, Path)) else dict(item)
        if not entry.get("path"):
            raise DataError(
                f"data.sources has an entry without a path ({item!r}): give a file or glob, "
                "or {path: <file>, text_column: <column>} for tables."
            )
        if entry.get("format") not in _FORMATS:
            raise DataError(
                f"data.sources entry {entry['path']} has format={entry['format']!r}, which dlkit "
                "does not read as text: leave format out (plain text, tables and jsonl go by "
                "their extension) or set format: conll for a CoNLL tagging file."
            )
        out.append(entry)
    return out


def corpus_files(sources: Any, hub: Mapping[str, Any] | None) -> list[Expected]:
    """Each source (key `sources[i]`), then the hub corpus (key `hub`), which has no file."""
    expected = [
        Expected(
            f"sources[{i}]", f"data.sources[{i}]", source["path"], hub_split(source.get("hub"))
        )
        for i, source in enumerate(as_sources(sources))
    ]
    whole = hub_split(hub)
    if whole is not None:
        expected.append(Expected("hub", "data.hub", None, whole))
    return expected


def entry_of(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The source (`sources[i]`) or the hub corpus (`hub`) that an expected file's key names."""
    if key == "hub":
        return data.get("hub") or {}
    return as_sources(data.get("sources"))[int(key.removeprefix("sources[").removesuffix("]"))]


def text_column(entry: Mapping[str, Any]) -> str:
    """The text column of a source's hub copy (else of the source), or of the hub corpus."""
    hub = entry.get("hub") if isinstance(entry.get("hub"), Mapping) else {}
    return str(hub.get("text_column") or entry.get("text_column") or "text")
