"""A pretraining corpus is streamed from its files and packed into an on-disk token store: the
same blocks as the in-memory packing it replaced, a cache keyed by content, no lines held."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from dlkit.data import token_store
from dlkit.families.language_modeling import data as corpus_data
from dlkit.families.language_modeling.data import GROUP_LINES, CorpusData
from dlkit.models.tokenizer import train_tokenizer

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "tree", "king", "bird", "old"]
ROOT = Path(__file__).resolve().parents[1]


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) + " ."


def write_text(path: Path, lines: int, seed: int) -> None:
    """`lines` sentences, with blank and space-only lines between some (not lines at all)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            handle.write(rng.choice(["", "", "", "\n", "   \n"]) + "  " + sentence(rng) + "\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[dict], list[list[str]]]:
    """Two text files (a glob) and a jsonl table: more than GROUP_LINES training lines. Also
    each source's non-blank lines, as the old reader gave them."""
    folder = tmp_path_factory.mktemp("corpus")
    write_text(folder / "a.txt", 7000, 1)
    write_text(folder / "b.txt", 6500, 2)
    rng = random.Random(3)
    with open(folder / "c.jsonl", "w", encoding="utf-8") as handle:
        for _ in range(300):  # some rows hold two lines, and a blank one
            body = sentence(rng) + rng.choice(["", "\n\n" + sentence(rng)])
            handle.write(json.dumps({"body": body}) + "\n")
    per_source = [
        [line.strip() for line in (folder / name).read_text().splitlines() if line.strip()]
        for name in ("a.txt", "b.txt")
    ]
    rows = [json.loads(line)["body"] for line in (folder / "c.jsonl").read_text().splitlines()]
    per_source.append([t.strip() for row in rows for t in row.splitlines() if t.strip()])
    table = {"path": str(folder / "c.jsonl"), "text_column": "body"}
    sources = [{"path": str(folder / "*.txt")}, table]
    return sources, per_source


def held_out(per_source: list[list[str]], fraction: float) -> dict[str, list[str]]:
    """The last ceil(n * fraction) lines of every source are validation text."""
    out: dict[str, list[str]] = {"train": [], "validation": []}
    for lines in per_source:
        cut = len(lines) - math.ceil(len(lines) * fraction)
        out["train"] += lines[:cut]
        out["validation"] += lines[cut:]
    return out


def old_packing(lines: list[str], tokenizer, objective: str, block_size: int) -> tuple:
    """The packing the token store replaced (`datasets.map(_pack, batch_size=10_000)`): each
    10,000 lines' ids end to end, cut into blocks, the tail left out. Blocks and token count."""
    blocks, tokens = [], 0
    for start in range(0, len(lines), 10_000):
        group = lines[start : start + 10_000]
        if objective == "mlm":
            ids = tokenizer(group)["input_ids"]
        else:
            eos = tokenizer.eos_token_id
            ids = [x + [eos] for x in tokenizer(group, add_special_tokens=False)["input_ids"]]
        flat = [t for x in ids for t in x]
        tokens += len(flat)
        usable = len(flat) - len(flat) % block_size
        blocks += [flat[i : i + block_size] for i in range(0, usable, block_size)]
    return blocks, tokens


def old_unigram_perplexity(train: list[list[int]], held: list[list[int]], vocab: int) -> float:
    counts: dict[int, int] = {}
    for t in (t for block in train for t in block):
        counts[t] = counts.get(t, 0) + 1
    total = sum(counts.values())
    nll = -sum(math.log((counts.get(t, 0) + 1) / (total + vocab)) for b in held for t in b[1:])
    return math.exp(nll / sum(len(b) - 1 for b in held))


@pytest.mark.parametrize("objective, kind", [("mlm", "wordpiece"), ("clm", "bpe")])
def test_blocks_match_the_old_packing(corpus, objective, kind, tmp_path) -> None:
    sources, per_source = corpus
    data = CorpusData("c", sources, objective, block_size=16, validation_fraction=0.1,
                      cache_dir=str(tmp_path))  # fmt: skip
    data.load()
    expected = held_out(per_source, 0.1)
    assert len(expected["train"]) > GROUP_LINES  # the packing's group boundary is crossed
    assert list(data.train_texts()) == expected["train"]
    tokenizer = train_tokenizer(kind, data.train_texts(), 200, True, tmp_path)
    data.tokenize(tokenizer)
    old = {}
    for split, lines in expected.items():
        blocks, tokens = old_packing(lines, tokenizer, objective, 16)
        old[split] = blocks
        assert data.block_ids(split) == blocks
        stats = {k: v for k, v in data.describe()[split].items() if k != "unigram_perplexity"}
        assert stats == {
            "lines": len(lines),
            "tokens": tokens,
            "blocks": len(blocks),
            "tokens_left_out_of_blocks": tokens - 16 * len(blocks),
        }
    row = data.ready["train"][len(old["train"]) - 1]
    assert row["input_ids"].dtype == torch.int64 and row["input_ids"].tolist() == old["train"][-1]
    assert len(data.ready["validation"]) == len(old["validation"])
    if objective == "clm":
        reference = old_unigram_perplexity(old["train"], old["validation"], len(tokenizer))
        ppl = data.describe()["validation"]["unigram_perplexity"]
        assert ppl == pytest.approx(reference, rel=1e-9)


class Prepared:
    """Prepares one small corpus again and again, counting the tokenizer calls."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.file, self.cache = folder / "text.txt", folder / "cache"
        write_text(self.file, 600, 4)
        self.tokenizer = train_tokenizer(
            "wordpiece", self.file.read_text().splitlines(), 100, True, folder
        )
        self.calls = 0
        encode = corpus_data._encode

        def counted(*args, **kwargs):
            self.calls += 1
            return encode(*args, **kwargs)

        monkeypatch.setattr(corpus_data, "_encode", counted)

    def __call__(self) -> CorpusData:
        self.calls = 0
        data = CorpusData("c", [str(self.file)], block_size=16, cache_dir=str(self.cache))
        data.load()
        data.tokenize(self.tokenizer)
        return data


@pytest.fixture
def prepared(tmp_path, monkeypatch) -> Prepared:
    return Prepared(tmp_path, monkeypatch)


def test_a_second_preparation_maps_the_stored_blocks(prepared) -> None:
    first = prepared()
    assert prepared.calls == 2  # one group per split
    store = first.ready["train"].path
    stamp = store.stat().st_mtime_ns
    second = prepared()
    assert prepared.calls == 0, "nothing tokenized again"
    assert second.ready["train"].path == store and store.stat().st_mtime_ns == stamp
    assert second.block_ids("train") == first.block_ids("train")
    assert second.describe() == first.describe()
    blocks = second.ready["train"]
    blocks[0]  # maps the file
    copy = pickle.loads(pickle.dumps(blocks))  # what a DataLoader worker receives
    assert len(pickle.dumps(blocks)) < 1000 < store.stat().st_size
    assert torch.equal(copy[3]["input_ids"], blocks[3]["input_ids"])


def test_the_cache_key_follows_content_not_mtime(prepared) -> None:
    store = prepared().ready["train"].path
    (memo,) = (prepared.cache / "file-hashes").glob("*.json")
    before = json.loads(memo.read_text())
    later = prepared.file.stat().st_mtime_ns + 5 * 10**9
    os.utime(prepared.file, ns=(later, later))
    assert prepared().ready["train"].path == store and prepared.calls == 0
    after = json.loads(memo.read_text())
    assert after["mtime_ns"] == later != before["mtime_ns"], "the memo was hashed again"
    assert after["sha256"] == before["sha256"]
    text = prepared.file.read_text()
    prepared.file.write_text(text.replace("cat", "dog", 1))  # same size, new content
    assert prepared().ready["train"].path != store and prepared.calls == 2


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_preparation_is_not_used(prepared, monkeypatch) -> None:
    first = prepared()
    store, blocks = first.ready["train"].path, first.block_ids("train")
    meta = store.with_name(store.name + ".json")

    # killed while writing: a partial file, no store; the partial file is cleaned up (the
    # validation store is complete: one group to tokenize again)
    store.unlink()
    meta.unlink()
    partial = store.with_name(f"{store.name}.partial.{token_store._host()}.{dead_pid()}")
    partial.write_bytes(b"\0" * 64)
    assert prepared().block_ids("train") == blocks and prepared.calls == 1
    assert not partial.exists()

    # killed between the two renames: the data file without its metadata
    meta.unlink()
    assert prepared().block_ids("train") == blocks and prepared.calls == 1

    # a damaged data file: its size disagrees with its metadata
    with open(store, "r+b") as handle:
        handle.truncate(store.stat().st_size - 2)
    assert prepared().block_ids("train") == blocks and prepared.calls == 1

    # an error part-way leaves neither a store nor a partial file behind
    store.unlink()
    meta.unlink()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_data, "_encode", fail)
    with pytest.raises(KeyboardInterrupt):
        data = CorpusData("c", [str(prepared.file)], block_size=16, cache_dir=str(prepared.cache))
        data.load()
        data.tokenize(prepared.tokenizer)
    assert sorted(p.name for p in store.parent.iterdir()) == []


def test_loading_holds_no_lines(tmp_path) -> None:
    path = tmp_path / "big.txt"
    write_text(path, 60_000, 5)
    size = path.stat().st_size
    CorpusData("c", [str(path)], cache_dir=str(tmp_path / "cache")).load()  # hashes the file
    data = CorpusData("c", [str(path)], cache_dir=str(tmp_path / "cache"))
    tracemalloc.start()
    try:
        data.load()  # counts lines to cut off the held-out tail
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 1_500_000 and peak < size / 10, (size, peak)
    held = [v for o in (data, *data.texts) for v in vars(o).values()]
    collections = [v for v in held if isinstance(v, (list, tuple, dict))]
    assert not any(isinstance(x, str) and x.endswith(" .") for v in collections for x in v)
    assert isinstance(data.train_texts(), Iterator)  # streamed, not a list
    assert sum(text.lines for text in data.texts) == 60_000


def bench_script():
    spec = importlib.util.spec_from_file_location("data_prep", ROOT / "scripts/bench/data_prep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_data_dir(root: Path) -> Path:
    for name in bench_script().SOURCES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_text(root / name, 200, len(name))
    return root


def test_bench_data_prep_parts_on_a_tiny_corpus(tmp_path) -> None:
    bench = bench_script()
    corpus = bench.synthetic_corpus(tiny_data_dir(tmp_path / "data"), tmp_path, 0.05, 0)
    assert 50_000 <= corpus.stat().st_size < 50_200
    shared = {line for name in bench.SOURCES for line in bench.lines_of(tmp_path / "data" / name)}
    assert set(bench.lines_of(corpus)) == shared
    alone = bench.tokenizers_alone(corpus, tmp_path)
    assert alone["tokens"] > 10_000 and alone["prep_s"] > 0


@pytest.mark.slow
def test_bench_data_prep_runs_end_to_end(tmp_path) -> None:
    data_dir = tiny_data_dir(tmp_path / "data")
    command = [sys.executable, str(ROOT / "scripts/bench/data_prep.py"), "--sizes", "0.05"]
    command += ["--data-dir", str(data_dir), "--work", str(tmp_path / "work")]
    subprocess.run([*command, "--out", str(tmp_path / "out")], check=True, cwd=ROOT)
    report = json.loads((tmp_path / "out" / "data_prep.json").read_text())
    (row,) = report["rows"]
    assert row["dlkit"]["data"]["train"]["blocks"] > 0 and row["ratio"] > 0
    assert "| 0.05 MB |" in (tmp_path / "out" / "data_prep.md").read_text()
