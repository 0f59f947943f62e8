"""Read csv, tsv, json, jsonl or parquet files into `datasets` splits, with clear errors.

Text files are scanned before `datasets` reads them: its readers word bad content their own
way (pandas: "Error tokenizing data. C error ..."), count rows rather than lines, and pad short
rows without a word. The scan checks that every line is UTF-8 and every row has the header's
shape, and records the line each row starts on, so that every message points at a line."""

from __future__ import annotations

import csv
from pathlib import Path

import datasets

from dlkit.data.rows import TableFile
from dlkit.data.scan import Scan, cleaned_copy
from dlkit.errors import DataError

# Each extension maps to a `datasets` builder and the reader options that keep every row as
# written: no quote handling in TSV (SST-2 has bare quotes) and no "NA" -> missing conversion.
TABLES: dict[str, tuple[str, dict]] = {
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
    if path.is_dir():
        raise DataError(
            f"{what}={path} is a folder; it must name a data file in it (csv, tsv, json, "
            f"jsonl or parquet), e.g. {what}={path / 'train.csv'}."
        )
    if not path.is_file():
        hint = (
            "Point paths.data_dir (or $DLKIT_DATA_DIR) at the folder holding the data, "
            f"or set {what}=<path> to an existing file."
        )
        raise DataError(f"Data file not found: {path} (from {what}). {hint}")
    if path.suffix.lower() not in TABLES:
        known = ", ".join(sorted(TABLES))
        raise DataError(f"Cannot read {path} (from {what}): unknown extension; use one of {known}.")
    return path


def load_split(path: Path, cache_dir: Path, skip: bool = False) -> TableFile:
    """Scan, then load one file as a Dataset (`datasets` caches the Arrow conversion under
    cache_dir). With `skip`, bad rows are left out of a cleaned copy of the file, counted."""
    if path.suffix.lower() == ".parquet":
        return TableFile(str(path), _load(path, path, cache_dir, None))
    scan = Scan(path, skip)
    scan.run()
    readable = cleaned_copy(scan, cache_dir) if scan.drop else path
    features = None
    if scan.columns is not None:  # csv/tsv: every column is text, as written ("007" stays)
        features = datasets.Features({c: datasets.Value("string") for c in scan.columns})
    dataset = _load(readable, path, cache_dir, features)
    if scan.lines is not None and len(dataset) != len(scan.lines):
        raise DataError(
            f"{path}: dlkit's check found {len(scan.lines)} rows but the reader found "
            f"{len(dataset)}, so the file's layout is ambiguous. Re-save it with a standard "
            "writer (csv.writer, DataFrame.to_csv, one json.dumps per line)."
        )
    return TableFile(str(path), dataset, scan.lines, scan.skipped)


def _load(
    readable: Path, path: Path, cache_dir: Path, features: datasets.Features | None
) -> datasets.Dataset:
    """`readable` is `path` or its cleaned copy; messages name `path`."""
    builder, options = TABLES[path.suffix.lower()]
    try:
        dsd = datasets.load_dataset(
            builder,
            data_files={"data": str(readable)},
            cache_dir=str(cache_dir),
            features=features,
            **options,
        )
    except Exception as err:  # the builders raise many types; all mean "unreadable file"
        raise DataError(
            f"Cannot read {path}: {_root_cause(err)}. Check the file's format."
        ) from err
    return dsd["data"]


def _root_cause(err: BaseException) -> str:
    """`datasets` wraps the reader's error in "An error occurred while generating the
    dataset"; the one it wraps says what is wrong."""
    while err.__cause__:
        err = err.__cause__
    return str(err) or type(err).__name__


def write_table(table: datasets.Dataset, path: Path, setting: str) -> None:
    """The inverse of the readers above, by extension (`dlkit data get`): a .tsv unquoted,
    as it is read (SST-2's sentences hold bare quotes)."""
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        _write_tsv(table, path, setting)
    elif suffix == ".csv":
        table.to_csv(str(path), index=False)
    elif suffix in (".json", ".jsonl"):
        table.to_json(str(path), lines=True, force_ascii=False)
    elif suffix == ".parquet":
        table.to_parquet(str(path))
    else:
        raise DataError(f"{setting}={path}: cannot write a {suffix or 'suffix-less'} file.")


def _write_tsv(table: datasets.Dataset, path: Path, setting: str) -> None:
    columns = table.column_names
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(
            handle, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n"
        )
        writer.writerow(columns)
        try:
            for batch in table.iter(batch_size=10_000):
                writer.writerows(zip(*(batch[c] for c in columns), strict=True))
        except csv.Error:
            raise DataError(
                f"A value of the hub copy holds a tab or a line break, which a .tsv file cannot "
                f"hold; set {setting} to a .csv or .jsonl file."
            ) from None
