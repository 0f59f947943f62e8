"""Every bad row of a labelled file is a DataError naming its file and line, or under
on_bad_row=skip is dropped and counted; no file content makes the reader crash."""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlkit.errors import ConfigError, DataError
from dlkit.families.classification.data import TextClassificationData

GOOD = b"text,label\ngreat film,pos\nawful plot,neg\n"


def _data(tmp_path: Path, skip: bool = False, **files: Path) -> TextClassificationData:
    return TextClassificationData(
        name="t",
        files={split: str(path) for split, path in files.items()},
        text_column="text",
        label_column="label",
        on_bad_row="skip" if skip else "error",
        cache_dir=str(tmp_path / "cache"),
    )


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _error(tmp_path: Path, name: str, content: bytes, split: str = "train", **files: Path) -> str:
    """The message of the DataError that loading `content` as `split` raises."""
    files[split] = _write(tmp_path, name, content)
    with pytest.raises(DataError) as caught:
        _data(tmp_path, **files).load(("train", "validation"))
    return str(caught.value)


# -- one error per kind of bad row ---------------------------------------------------------
def test_invalid_utf8_names_file_line_and_fix(tmp_path: Path) -> None:
    message = _error(tmp_path, "train.csv", b"text,label\ngood,pos\ncaf\xe9 latte,neg\n")
    assert f"{tmp_path / 'train.csv'}, line 3: invalid UTF-8" in message
    assert "column 4" in message and "Re-save the file as UTF-8" in message


def test_invalid_utf8_in_jsonl(tmp_path: Path) -> None:
    content = b'{"text": "ok", "label": "pos"}\n\n{"text": "\xff", "label": "neg"}\n'
    assert "train.jsonl, line 3: invalid UTF-8" in _error(tmp_path, "train.jsonl", content)


@pytest.mark.parametrize(
    ("name", "content", "hint"),
    [
        ("train.csv", b"text,label\ngood,pos\nfine,neg\nbad, really,neg\n", "Quote a text"),
        ("train.csv", b"text,label\ngood,pos\nfine,neg\nno label here\n", "Quote a text"),
        ("train.tsv", b"text\tlabel\ngood\tpos\nfine\tneg\nbad\there\tneg\n", "TSV has no quoting"),
    ],
)
def test_row_with_wrong_field_count(tmp_path: Path, name: str, content: bytes, hint: str) -> None:
    message = _error(tmp_path, name, content)
    assert f"{tmp_path / name}, line 4: malformed row" in message
    assert "where the header has 2" in message and hint in message
    assert "C error" not in message and "tokenizing" not in message


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path: Path) -> None:
    content = b'text,label\n"two\nlines",pos\n\n"x,y",neg\n,pos\n'
    message = _error(tmp_path, "train.csv", content)
    assert "train.csv, line 6: empty text ('text' is '')" in message


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (b'{"text": "b", label: 1}', "not valid JSON: Expecting property name"),
        (b'["b", 1]', "a JSON array, not an object"),
    ],
)
def test_jsonl_line_that_is_not_an_object(tmp_path: Path, line: bytes, detail: str) -> None:
    content = b'{"text": "a", "label": 0}\n' + line + b"\n"
    message = _error(tmp_path, "train.jsonl", content)
    assert f"train.jsonl, line 2: malformed row ({detail}" in message
    assert "one JSON object per line" in message


def test_quote_that_never_closes(tmp_path: Path) -> None:
    message = _error(tmp_path, "train.csv", b'text,label\ngood,pos\n"open,neg\nmore,pos\n')
    assert "train.csv, line 3: a quoted field starts here and never closes" in message


def test_empty_text_and_missing_label_name_the_line(tmp_path: Path) -> None:
    assert "line 3: empty text ('text' is '   ')" in _error(
        tmp_path, "train.csv", b"text,label\ngood,pos\n   ,neg\n"
    )
    assert "line 2: missing label ('label' is None)" in _error(
        tmp_path, "train.jsonl", b'{"text": "b", "label": "pos"}\n{"text": "a"}\n'
    )


def test_label_outside_the_training_set_names_the_validation_line(tmp_path: Path) -> None:
    train = _write(tmp_path, "train.csv", GOOD)
    message = _error(
        tmp_path, "dev.csv", b"text,label\nok,pos\nhm,maybe\n", "validation", train=train
    )
    assert f"{tmp_path / 'dev.csv'}, line 3: unknown label ('maybe' is not in the label set" in (
        message
    )
    assert "['neg', 'pos'] read from the training data" in message


def test_whatever_the_reader_raises_is_a_data_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "train.parquet", b"PAR1 not really parquet")
    assert message.startswith(f"Cannot read {tmp_path / 'train.parquet'}: ")


def test_a_file_without_rows_is_an_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "train.csv", b"text,label\n\n")
    assert "train.csv has no data rows (only a header)" in message


def test_texts_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "train.csv", b"text,label\n007,1\n1e5,10\nTrue,2\n")
    data = _data(tmp_path, train=path)
    data.load(("train",))
    assert data.raw["train"]["text"] == ["007", "1e5", "True"]
    assert data.label_names == ["1", "2", "10"]  # numeric labels in numeric order


def test_unknown_policy_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data.on_bad_row=drop is not one of error, skip"):
        TextClassificationData("t", {}, "text", "label", on_bad_row="drop")


# -- the skip policy -----------------------------------------------------------------------
def test_skip_drops_counts_and_reports_bad_rows(tmp_path: Path, caplog) -> None:
    train = _write(
        tmp_path,
        "train.csv",
        b"text,label\ngreat,pos\n,neg\nawful,neg\nfine,pos,extra\nnice,pos\ncaf\xe9,neg\n",
    )
    dev = _write(tmp_path, "dev.tsv", b'text\tlabel\nsuperb "film"\tpos\nodd\tmaybe\n')
    data = _data(tmp_path, skip=True, train=train, validation=dev)
    with caplog.at_level(logging.WARNING, logger="dlkit"):
        data.load(("train", "validation"))

    assert data.raw["train"]["text"] == ["great", "awful", "nice"]
    assert data.raw["validation"]["text"] == ['superb "film"']
    report = data.describe()
    assert report["train"] == {
        "source": str(train),
        "rows": 3,
        "skipped": 3,
        "skipped_examples": [
            {"line": 3, "reason": "empty text: 'text' is ''"},
            {"line": 5, "reason": "malformed row: 3 fields where the header has 2"},
            {
                "line": 7,
                "reason": "invalid UTF-8: byte 0xe9 at column 4: invalid continuation byte",
            },
        ],
    }
    assert report["validation"]["skipped"] == 1
    assert report["validation"]["skipped_examples"][0]["line"] == 3
    warning = next(r.getMessage() for r in caplog.records if str(train) in r.getMessage())
    assert "Skipped 3 of 6 rows" in warning
    assert all(f"1 {kind}" in warning for kind in ("empty text", "malformed row", "invalid UTF-8"))
    # The cleaned copy `datasets` read lives in the cache, named by the file's content.
    assert len(list((tmp_path / "cache" / "datasets" / "cleaned").glob("*.csv"))) == 1


def test_skip_in_jsonl_reports_lines(tmp_path: Path) -> None:
    lines = [
        b'{"text": "a", "label": 1}',
        b"{oops",
        b"",
        b'"b"',
        b'{"text": "c"}',
        b'{"text": "d", "label": 0}',
    ]
    path = _write(tmp_path, "train.jsonl", b"\n".join(lines) + b"\n")
    data = _data(tmp_path, skip=True, train=path)
    data.load(("train",))
    assert data.raw["train"]["text"] == ["a", "d"] and data.label_names == ["0", "1"]
    assert [row["line"] for row in data.describe()["train"]["skipped_examples"]] == [2, 4, 5]


def test_blank_line_ended_by_a_lone_cr_does_not_shift_fields(tmp_path: Path) -> None:
    """pandas drops the delimiter that starts a row after such a line; dlkit reads around it."""
    path = _write(tmp_path, "train.csv", b"id,text,label\r1,a,pos\r\r,b,neg\r")
    data = _data(tmp_path, train=path)
    data.load(("train",))
    assert data.raw["train"]["text"] == ["a", "b"] and data.raw["train"]["label"] == ["pos", "neg"]


def test_skip_still_fails_when_no_row_is_left(tmp_path: Path) -> None:
    path = _write(tmp_path, "train.csv", b"text,label\n,pos\n\xff,neg\n")
    with pytest.raises(DataError, match="all 2 data rows are bad, the first at line 2: empty text"):
        _data(tmp_path, skip=True, train=path).load(("train",))


# -- no content crashes the reader ---------------------------------------------------------
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "\t", '"', '"quoted"', "a,b", "x\ny", "cr\r", "\r\n", "\u2028", "é"]),
)
LABELS = st.sampled_from(["pos", "neg", "pos", "neg", "pos", "neg", None, "", " ", "maybe"])
ROWS = st.lists(st.tuples(TEXTS, LABELS), max_size=6)
BREAK = re.compile(r"\r\n|\r|\n")


def _good(text: str, label: str | None) -> bool:
    return bool(text.strip()) and bool((label or "").strip())


def _csv(rows: list[tuple[str, str | None]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue().encode()


def _tsv(rows: list[tuple[str, str | None]]) -> bytes:
    lines = ["text\tlabel", *(f"{text}\t{label or ''}" for text, label in rows)]
    return ("\n".join(lines) + "\n").encode()


def _records(content: bytes, tsv: bool) -> int:
    """Data rows pandas sees in a TSV (lines not blank) or in a csv.writer file (rows)."""
    if not tsv:
        return sum(1 for _ in csv.reader(io.StringIO(content.decode(), newline=""))) - 1
    return sum(1 for line in BREAK.split(content.decode())[1:] if line.strip(" "))


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(train=ROWS, dev=ROWS, tsv=st.booleans(), skip=st.booleans())
def test_any_rows_load_cleanly_or_raise_a_data_error(
    tmp_path: Path, train: list, dev: list, tsv: bool, skip: bool
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    write, suffix = (_tsv, ".tsv") if tsv else (_csv, ".csv")
    files = {"train": folder / f"train{suffix}", "validation": folder / f"dev{suffix}"}
    files["train"].write_bytes(write(train))
    files["validation"].write_bytes(write(dev))
    # Rows whose text holds no tab or line break survive raw TSV writing intact.
    intact = (lambda text: not re.search(r"[\t\r\n]", text)) if tsv else (lambda text: True)
    sound = all(intact(text) for text, _ in train + dev)
    good_train = [(t, lab) for t, lab in train if _good(t, lab) and intact(t)]
    known = {lab for _, lab in good_train}
    good_dev = [(t, lab) for t, lab in dev if _good(t, lab) and intact(t) and lab in known]

    data = _data(folder, skip=skip, **files)
    try:
        data.load(("train", "validation"))
    except DataError:
        if sound:  # then exactly the files with a bad row (or none left) fail
            all_good = len(good_train) == len(train) and len(good_dev) == len(dev)
            assert not (good_dev if skip else all_good and train and dev)
        elif skip:
            assert not good_train or not good_dev
        return

    for split, good in (("train", good_train), ("validation", good_dev)):
        kept = list(zip(data.raw[split]["text"], data.raw[split]["label"], strict=True))
        assert all(text.strip() and label.strip() for text, label in kept)
        if sound:
            assert kept == good
        else:  # every intact good row is kept
            assert all(row in kept for row in good)
        info = data.describe()[split]
        assert info["rows"] == len(kept)
        if skip:  # nothing is dropped silently
            assert info["rows"] + info["skipped"] == _records(files[split].read_bytes(), tsv)
