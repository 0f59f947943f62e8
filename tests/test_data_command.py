"""Data that comes by itself: a data config's absent files come from its hub source (here a
folder written by `datasets`' save_to_disk, never the network), offline without data is one
paragraph before any run folder exists, and `dlkit data` lists and fetches the data configs."""

from __future__ import annotations

import http.server
import json
import os
import random
import socket
import subprocess
import sys
import threading
from pathlib import Path

import datasets
import pytest

from dlkit import cli
from dlkit.commands import data as data_command
from dlkit.commands.app import config_dir
from dlkit.data import hub
from dlkit.errors import DataError
from tests.conftest import FILLER, NEGATIVE, POSITIVE, TINY_MODEL, compose_root

HEAVY = ("torch", "lightning", "transformers", "datasets")
GLUE = datasets.Features(
    {
        "sentence": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["negative", "positive"]),
        "idx": datasets.Value("int32"),
    }
)
NER = datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"])
CONLL = datasets.Features(
    {
        "id": datasets.Value("string"),
        "tokens": datasets.List(datasets.Value("string")),
        "pos_tags": datasets.List(datasets.ClassLabel(names=["NNP", "VBZ", "NN", "."])),
        "ner_tags": datasets.List(NER),
    }
)


def _glue_rows(rows: int, seed: int) -> datasets.Dataset:
    """GLUE's SST-2 columns: a sentence (with the bare quotes and trailing space SST-2 has)
    whose label is decided by one sentiment word."""
    rng = random.Random(seed)
    sentences, labels = [], []
    for _ in range(rows):
        label = rng.randrange(2)
        words = rng.choices(FILLER, k=rng.randint(3, 7))
        words.insert(rng.randrange(len(words) + 1), rng.choice([NEGATIVE, POSITIVE][label]))
        sentences.append(" ".join(words) + (' "really" ' if rng.random() < 0.2 else " "))
        labels.append(label)
    return datasets.Dataset.from_dict(
        {"sentence": sentences, "label": labels, "idx": list(range(rows))}, features=GLUE
    )


@pytest.fixture(scope="module")
def glue(tmp_path_factory) -> Path:
    """A stand-in for nyu-mll/glue's sst2: a saved DatasetDict of train and validation."""
    folder = tmp_path_factory.mktemp("hub") / "glue_sst2"
    splits = {"train": _glue_rows(96, seed=1), "validation": _glue_rows(32, seed=2)}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


@pytest.fixture(scope="module")
def conll(tmp_path_factory) -> Path:
    """A stand-in for a CoNLL-2003 hub copy: ClassLabel ids, a POS column, a -DOCSTART- row."""
    rows = {
        "id": ["0", "1", "2"],
        "tokens": [["-DOCSTART-"], ["Acme", "hires", "Maria", "."], ["Paris", "wins"]],
        "pos_tags": [[0], [0, 1, 0, 3], [0, 1]],
        "ner_tags": [[0], [3, 0, 1, 0], [5, 0]],
    }
    folder = tmp_path_factory.mktemp("hub") / "conll"
    split = datasets.Dataset.from_dict(rows, features=CONLL)
    datasets.DatasetDict({"train": split, "validation": split}).save_to_disk(str(folder))
    return folder


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Online mode as configured (no offline variables), a hub that never answers, and a
    record of every probe; any other connection fails the test."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    probes: list[str] = []
    hub._answers.cache_clear()
    monkeypatch.setattr(hub, "_probe", lambda url, repo: probes.append(repo) or False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield probes
    hub._answers.cache_clear()


def _dlkit(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "DLKIT_CACHE_DIR": str(cwd / "cache"), **(env or {})},
        timeout=600,
    )


def _tiny_run(work: Path) -> list[str]:
    """`make train`'s experiment, shrunk to seconds."""
    return [
        "+experiment=bert_cls",
        *TINY_MODEL,
        "trainer.max_steps=2",
        "trainer.precision=32-true",
        "trainer.enable_model_summary=false",
        "data.max_length=32",
        "data.batch_size=16",
        "callbacks.progress.rich=false",
        f"paths.run_root={work / 'runs'}",
    ]


# -- the main job with no data root -------------------------------------------------------
def test_make_train_trains_from_the_hub_source_when_the_data_root_is_empty(glue, tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    result = _dlkit(
        "train", *_tiny_run(tmp_path), f"paths.data_dir={empty}", f"data.hub.path={glue}",
        cwd=tmp_path, env={"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    announced = [line for line in output.splitlines() if "not found; loading" in line]
    assert len(announced) == 1, output[-3000:]
    assert f"{empty}/sst2/train.tsv, {empty}/sst2/dev.tsv not found" in announced[0]
    assert f"{glue} (sst2) [train, validation]" in announced[0]
    (record,) = (tmp_path / "runs" / "bert_cls").glob("*/run.json")
    state = json.loads(record.read_text())
    assert state["status"] == "completed"
    assert state["data"] == {
        "train": {"source": f"{glue} (sst2) train", "rows": 96},
        "validation": {"source": f"{glue} (sst2) validation", "rows": 32},
    }  # run.json says where hub-loaded splits came from
    assert not list(empty.iterdir())  # loading never writes the data root


def test_offline_without_data_is_one_paragraph_before_any_run_folder(
    no_network, tmp_path, monkeypatch, capsys
):
    loads: list[bool] = []
    real = datasets.load_dataset

    def recorded(*args, **kwargs):
        loads.append(datasets.config.HF_HUB_OFFLINE)  # the cache only: offline mode is on
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", recorded)
    monkeypatch.setenv("DLKIT_COMMAND", "")  # cli.main sets it; restored afterwards
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "data"
    code = cli.main(
        ["train", *_tiny_run(tmp_path), f"paths.data_dir={empty}", f"paths.cache_dir={tmp_path}"]
    )
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    for words in (
        f"put {empty}/sst2/train.tsv and {empty}/sst2/dev.tsv in place",
        "`dlkit data get sst2`",
        "run with internet, and dlkit loads nyu-mll/glue (sst2)",
        "paths.data_dir (or $DLKIT_DATA_DIR)",
        "does not answer",
    ):
        assert words in err, err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert no_network == ["nyu-mll/glue"]  # asked once, for both splits
    assert loads and all(loads)
    assert not (tmp_path / "runs").exists()


def test_offline_mode_fails_the_same_way_without_asking_the_hub(tmp_path):
    result = _dlkit(
        "train", "+experiment=bert_cls", f"paths.data_dir={tmp_path / 'data'}",
        cwd=tmp_path, env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://10.255.255.1"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "offline mode is on (HF_HUB_OFFLINE" in result.stderr
    assert "dlkit data get sst2" in result.stderr and "Traceback" not in result.stderr
    assert [line.startswith("error:") for line in result.stderr.splitlines()] == [True]
    assert not (tmp_path / "runs").exists()


def test_local_files_win_over_the_hub_source(glue, tmp_path, no_network):
    from dlkit.families.classification.data import TextClassificationData

    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\na fine film\t1\na dull film\t0\n")
    data = TextClassificationData(
        "sst2",
        {"train": str(train), "validation": str(tmp_path / "absent.tsv")},
        text_column="sentence",
        label_column="label",
        hub={"path": str(glue), "name": "sst2", "splits": {"train": "train"}},
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(DataError, match="absent.tsv"):  # no hub split: still an error
        data.load(("validation",))
    data.load(("train",))
    assert data.sources["train"] == str(train) and len(data.raw["train"]) == 2
    assert no_network == []


# -- hub copies of the other families -----------------------------------------------------
def test_tagged_hub_copy_reads_as_its_written_conll_file(conll, tmp_path, no_network):
    from dlkit.families.token_classification.data import TokenClassificationData

    root = tmp_path / "root"
    assert data_command.main(["get", "conll2003", f"paths.data_dir={root}",
                              f"data.hub.path={conll}", "data.hub.splits.test=null",
                              f"paths.cache_dir={tmp_path}"]) == 0  # fmt: skip
    written = (root / "conll2003" / "train.txt").read_text()
    assert "Acme NNP B-ORG\nhires VBZ O\nMaria NNP B-PER\n. . O\n\n" in written

    def sentences(files: dict, hub_path: str | None) -> list:
        data = TokenClassificationData(
            "conll2003",
            files,
            hub={"path": hub_path, "splits": {"train": "train"}, "tags_column": "ner_tags"},
            cache_dir=str(tmp_path / "cache"),
        )
        data.load(("train",))
        return data.raw["train"].to_list()

    from_hub = sentences({"train": str(tmp_path / "absent.txt")}, str(conll))
    assert from_hub == [
        {"tokens": ["Acme", "hires", "Maria", "."], "tags": ["B-ORG", "O", "B-PER", "O"]},
        {"tokens": ["Paris", "wins"], "tags": ["B-LOC", "O"]},
    ]
    assert sentences({"train": str(root / "conll2003" / "train.txt")}, None) == from_hub


def test_corpus_source_comes_from_its_hub_split_when_absent(tmp_path, no_network):
    from dlkit.families.language_modeling.data import CorpusData

    folder = tmp_path / "wikitext"
    text = datasets.Dataset.from_dict({"text": ["", " = Title = \n", " Some words here . \n"]})
    datasets.DatasetDict({"validation": text}).save_to_disk(str(folder))
    source = {"path": str(tmp_path / "wiki.valid.raw"), "hub": {"path": str(folder),
              "split": "validation"}}  # fmt: skip
    data = CorpusData("corpus", [source], validation_fraction=0.5, cache_dir=str(tmp_path))
    data.load()
    assert data.lines == {"train": ["= Title ="], "validation": ["Some words here ."]}


# -- dlkit data -----------------------------------------------------------------------------
def test_data_lists_every_config_with_its_files_without_heavy_imports(tmp_path):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text("sentence\tlabel\n")
    code = (
        "import sys\nfrom dlkit.cli import main\n"
        f"code = main(['data', 'paths.data_dir={tmp_path}'])\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == "HEAVY= 0", out.stdout + out.stderr
    lines = [" ".join(line.split()) for line in out.stdout.splitlines()]
    assert f"Data root: {tmp_path} (paths.data_dir=..., or $DLKIT_DATA_DIR)" in lines
    assert "sst2 sst2/train.tsv present hub nyu-mll/glue (sst2) train" in lines
    assert "sst2/dev.tsv missing hub nyu-mll/glue (sst2) validation" in lines
    assert "conll2003 conll2003/train.txt missing hub lhoestq/conll2003 train" in lines
    assert "tiny_shakespeare/input.txt missing local only" in lines
    listed = {line.split()[0] for line in lines[2:] if line and not line.startswith(" ")}
    names = {path.stem for path in (config_dir() / "data").glob("*.yaml")}
    assert names <= listed


def test_data_get_writes_the_layout_that_train_then_reads(glue, tmp_path, no_network, capsys):
    from dlkit.commands.train import train

    root = tmp_path / "root"
    argv = ["get", "sst2", f"paths.data_dir={root}", f"data.hub.path={glue}"]
    assert data_command.main([*argv, f"paths.cache_dir={tmp_path}"]) == 0
    assert f"sst2: wrote {root}/sst2/dev.tsv (32 rows of {glue} (sst2) validation)" in (
        capsys.readouterr().out
    )
    lines = (root / "sst2" / "train.tsv").read_text().splitlines()
    assert lines[0] == "sentence\tlabel" and len(lines) == 97
    assert any('"really" \t' in line for line in lines)  # bare quotes, as GLUE's files
    assert sorted(p.name for p in (root / "sst2").iterdir()) == ["dev.tsv", "train.tsv"]
    cfg = compose_root(
        [*_tiny_run(tmp_path)[1:], "data=sst2", f"paths.data_dir={root}", "data.hub.path=null",
         f"paths.cache_dir={tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'run'}"]
    )  # fmt: skip
    train(cfg)
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(state["data_files"]) == {"train", "validation"}
    assert state["data"]["train"]["rows"] == 96
    assert no_network == []


def test_data_get_never_replaces_a_file(glue, tmp_path, capsys):
    mine = tmp_path / "sst2" / "train.tsv"
    mine.parent.mkdir()
    mine.write_text("sentence\tlabel\nmine\t1\n")
    code = data_command.main(["get", "sst2", f"paths.data_dir={tmp_path}", f"data.hub.path={glue}"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"{mine} already exist" in err and "never replaces a file" in err
    assert mine.read_text() == "sentence\tlabel\nmine\t1\n"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["train.tsv"]  # nor half the set


def test_data_get_of_an_unknown_or_sourceless_config_is_a_usage_error(capsys):
    assert data_command.main(["get", "sst3"]) == 2
    err = capsys.readouterr().err
    assert "no data config 'sst3'" in err
    assert "conll2003, conll2003_text, corpus, dialogsum, multi30k, squad, sst2" in err
    assert data_command.main(["get", "text_classification", "data.files.train=x.csv"]) == 2
    assert "names no public source" in capsys.readouterr().err


# -- the probe ------------------------------------------------------------------------------
class _Server(http.server.BaseHTTPRequestHandler):
    headers_sent: dict[str, str] = {}

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(404)
        for name, value in self.headers_sent.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("headers", "answered"),
    [({}, False), ({"X-Error-Code": "RepoNotFound"}, True), ({"X-Repo-Commit": "abc"}, True)],
)
def test_only_the_hubs_own_answer_counts_as_reachable(headers, answered, monkeypatch):
    """A proxy or captive portal that answers every request is not the hub."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    handler = type("Handler", (_Server,), {"headers_sent": headers})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert hub._probe(url, "nyu-mll/glue") is answered
    finally:
        server.shutdown()
