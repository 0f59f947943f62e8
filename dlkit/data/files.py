"""Read csv, tsv, json, jsonl or parquet files into `datasets` splits, with clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import datasets

from dlkit.errors import DataError

# Each extension maps to a `datasets` builder and the reader options that keep every row as
# written: no quote handling in TSV (SST-2 has bare quotes) and no "NA" -> missing conversion.
_BUILDERS: dict[str, tuple[str, dict]] = {
    ".csv": ("csv", {"keep_default_na": False, "na_filter": False}),
    ".tsv": (
        "csv",
        {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False, "na_filter": False},
    ),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}


def check_file(path: str | Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        hint = (
            "Point paths.data_dir (or $DLKIT_DATA_DIR) at the folder holding the data, "
            f"or set {what}=<path> to an existing file."
        )
        raise DataError(f"Data file not found: {path} (from {what}). {hint}")
    if path.suffix.lower() not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS))
        raise DataError(f"Cannot read {path} (from {what}): unknown extension; use one of {known}.")
    return path


def load_split(path: Path, cache_dir: Path) -> datasets.Dataset:
    """Load one file as a Dataset; `datasets` caches the Arrow conversion under cache_dir."""
    builder, options = _BUILDERS[path.suffix.lower()]
    try:
        dsd = datasets.load_dataset(
            builder, data_files={"data": str(path)}, cache_dir=str(cache_dir), **options
        )
    except Exception as err:  # the builders raise many types; all mean "unreadable file"
        raise DataError(f"Cannot read {path}: {err}. Check the file's format.") from err
    return dsd["data"]


def load_hub(path: str, name: str | None, split: str, cache_dir: Path) -> datasets.Dataset:
    """The real hub loader for machines with internet (`data.hub.path=nyu-mll/glue`)."""
    try:
        return datasets.load_dataset(path, name, split=split, cache_dir=str(cache_dir))
    except Exception as err:
        raise DataError(
            f"Cannot load hub dataset {path}/{name} split {split}: {err}. Without internet, "
            "set data.hub.path=null and point data.files.* at local files."
        ) from err
