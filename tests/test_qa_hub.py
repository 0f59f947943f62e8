"""SQuAD from the hub (a folder written by `datasets`' save_to_disk stands in for
rajpurkar/squad, never the network): an absent file's split comes from it, `dlkit data get
squad` writes SQuAD v1.1 JSON that the bert_qa experiment then reads, the dev file alone is
still split by article without asking the hub, and offline without data is one paragraph."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dlkit.commands import data as data_command
from dlkit.commands.data_check import check
from dlkit.errors import DataError
from dlkit.families.question_answering import FAMILY
from dlkit.families.question_answering.writer import articles
from tests.conftest import compose_root
from tests.test_data_command import no_network  # noqa: F401 (a fixture)
from tests.test_qa import _paragraph, write_squad

SQUAD = datasets.Features(  # rajpurkar/squad's columns
    {
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": datasets.Sequence(
            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
        ),
    }
)


def _hub_rows(articles_: int, seed: int, prefix: str) -> datasets.Dataset:
    """Rows as the hub keeps them: one per question, its article's title and its context."""
    rng = random.Random(seed)
    rows = []
    for a in range(articles_):
        for p in range(2):
            paragraph = _paragraph(rng, a, p)
            for qa in paragraph["qas"]:
                (answer,) = qa["answers"]
                rows.append(
                    {
                        "id": f"{prefix}{qa['id']}",
                        "title": f"{prefix}Article_{a}",
                        "context": paragraph["context"],
                        "question": qa["question"],
                        "answers": {
                            "text": [answer["text"]],
                            "answer_start": [answer["answer_start"]],
                        },
                    }
                )
    return datasets.Dataset.from_list(rows, features=SQUAD)


@pytest.fixture(scope="module")
def hub_copy(tmp_path_factory) -> Path:
    """A stand-in for rajpurkar/squad: a saved DatasetDict of train and validation."""
    folder = tmp_path_factory.mktemp("hub") / "squad"
    splits = {"train": _hub_rows(4, seed=1, prefix="t"), "validation": _hub_rows(2, 2, "v")}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def _config(root: Path, tmp_path: Path, *overrides: str):
    return compose_root(
        [
            "+experiment=bert_qa",
            f"paths.data_dir={root}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            *overrides,
        ]
    )


def _load(cfg, splits=("train", "validation")):
    data = instantiate(cfg.data)
    data.load(splits)
    return data


def _questions(dataset: datasets.Dataset) -> list[tuple]:
    return [(r["id"], r["question"], r["context"], r["answers"]) for r in dataset]


def test_absent_files_come_from_the_hub_split_by_split(hub_copy, tmp_path, no_network) -> None:  # noqa: F811
    root = tmp_path / "data"
    cfg = _config(root, tmp_path, f"data.hub.path={hub_copy}")
    check(cfg)  # the command line's check: a folder source answers without any network
    data = _load(cfg)
    assert data.by_article is None  # the hub's train trains, its validation validates
    assert data.sources == {"train": f"{hub_copy} train", "validation": f"{hub_copy} validation"}
    saved = datasets.load_from_disk(str(hub_copy))
    for split in ("train", "validation"):
        assert _questions(data.raw[split]) == _questions(saved[split])
    assert data.raw["train"][0]["title"] == "tArticle_0"
    assert not root.exists()  # loading never writes the data root
    assert no_network == []


def test_data_get_squad_writes_the_json_the_experiment_reads(
    hub_copy,
    tmp_path,
    no_network,  # noqa: F811
    capsys,
) -> None:
    root = tmp_path / "root"
    argv = ["get", "squad", f"paths.data_dir={root}", f"data.hub.path={hub_copy}"]
    assert data_command.main([*argv, f"paths.cache_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert f"squad: wrote {root}/squad_v1.1/train-v1.1.json (24 rows of {hub_copy} train)" in out
    assert sorted(p.name for p in (root / "squad_v1.1").iterdir()) == [
        "dev-v1.1.json",
        "train-v1.1.json",
    ]
    dev = json.loads((root / "squad_v1.1" / "dev-v1.1.json").read_text())
    assert dev["version"] == "1.1" and [a["title"] for a in dev["data"]] == [
        "vArticle_0",
        "vArticle_1",
    ]
    paragraph = dev["data"][1]["paragraphs"][0]
    assert set(paragraph) == {"context", "qas"} and len(paragraph["qas"]) == 3
    qa = paragraph["qas"][0]
    assert set(qa) == {"id", "question", "answers"}
    (answer,) = qa["answers"]
    assert paragraph["context"][answer["answer_start"] :].startswith(answer["text"])

    cfg = _config(root, tmp_path, "data.hub.path=null")  # local files only from now on
    check(cfg)
    data = _load(cfg)
    assert data.by_article is None
    assert data.sources == {
        "train": str(root / "squad_v1.1" / "train-v1.1.json"),
        "validation": str(root / "squad_v1.1" / "dev-v1.1.json"),
    }
    saved = datasets.load_from_disk(str(hub_copy))
    for split in ("train", "validation"):
        assert _questions(data.raw[split]) == _questions(saved[split])
    assert no_network == []


def test_the_dev_file_alone_is_split_by_article_without_the_hub(tmp_path, no_network) -> None:  # noqa: F811
    root = tmp_path / "data"
    (root / "squad_v1.1").mkdir(parents=True)
    write_squad(root / "squad_v1.1" / "dev-v1.1.json", 12, seed=3)
    cfg = _config(root, tmp_path)  # the hub source stays rajpurkar/squad
    check(cfg)
    data = _load(cfg)
    assert data.by_article == "validation"
    titles = {split: sorted(set(data.raw[split]["title"])) for split in data.raw}
    assert len(titles["train"]) == 2 and len(titles["validation"]) == 10
    assert not set(titles["train"]) & set(titles["validation"])
    assert len(data.raw["train"]) + len(data.raw["validation"]) == 12 * 4 * 3
    only = _load(cfg, ("validation",))  # what `dlkit evaluate` asks for: the same side
    assert only.raw["validation"]["id"] == data.raw["validation"]["id"]
    assert no_network == []  # nothing asked of the hub
    resolved = OmegaConf.to_container(cfg.data, resolve=True)
    assert [e.key for e in FAMILY.layout(resolved)] == ["validation"]
    resolved["validation_articles"] = None  # the split turned off: train from the hub
    assert [(e.key, e.from_hub) for e in FAMILY.layout(resolved)] == [
        ("train", True),
        ("validation", False),
    ]


def test_a_file_of_ones_own_with_no_validation_file_is_split_not_fetched(tmp_path) -> None:
    own = write_squad(tmp_path / "own.json", 12, seed=4)
    cfg = _config(tmp_path, tmp_path, f"data.files.train={own}", "data.files.validation=null")
    resolved = OmegaConf.to_container(cfg.data, resolve=True)
    # No validation split from the hub: it comes from the file's last articles.
    assert [(e.key, e.present) for e in FAMILY.layout(resolved)] == [("train", True)]
    data = _load(cfg)
    assert data.by_article == "train" and data.sources["validation"] == str(own)


def test_offline_without_squad_is_one_paragraph(tmp_path, no_network) -> None:  # noqa: F811
    root = tmp_path / "data"
    with pytest.raises(DataError) as caught:
        check(_config(root, tmp_path))
    message = " ".join(str(caught.value).split())
    for words in (
        f"put {root}/squad_v1.1/train-v1.1.json and {root}/squad_v1.1/dev-v1.1.json in place",
        "`dlkit data get squad`",
        "dlkit loads rajpurkar/squad from the Hugging Face hub",
        "does not answer",
    ):
        assert words in message, message
    assert no_network == ["rajpurkar/squad"]


def test_articles_group_rows_by_title_then_context_in_order() -> None:
    answer = {"text": ["x"], "answer_start": [0]}
    rows = [
        ("B", "1", "q1", "x one", answer),
        ("A", "2", "q2", "x two", answer),
        ("B", "3", "q3", "x three", answer),
        ("B", "4", "q4", "x one", answer),
    ]
    grouped = articles(rows)
    assert [a["title"] for a in grouped] == ["B", "A"]
    assert [p["context"] for p in grouped[0]["paragraphs"]] == ["x one", "x three"]
    assert [q["id"] for q in grouped[0]["paragraphs"][0]["qas"]] == ["1", "4"]
    assert grouped[1]["paragraphs"][0]["qas"][0]["answers"] == [{"text": "x", "answer_start": 0}]
