"""Run every `dlkit` line of the README exactly as printed, after the README's set-up.

    python scripts/readme_commands.py --data-dir ../shared/data [--workdir DIR] [--list]

A line is a command if it starts with `dlkit ` in a ```bash block or is an inline
`dlkit ...` span; those holding `<` (or spans holding `...`) are syntax (`dlkit predict
run=<run folder> ...`), not commands; plain blocks show output. A line printed as
`$ dlkit ...` followed by `error: ...` must fail with exit 2 and that message. The commands
run in a fresh working folder, trainers first (train, then pretrain, then finetune: later
lines read their runs), then the rest in README order. The data root is a small copy of
--data-dir in the same layout (the first rows of each file), so every command runs as
printed in minutes; the user's own files the README names (`my/train.csv`, `reviews.txt`,
`questions.jsonl`, ...) are written first. Exit 1 if any line fails. CI runs it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("train", "pretrain", "finetune")  # each may read the runs of the ones before


@dataclass
class Line:
    text: str
    expect_error: str | None = None  # the message of a `$ dlkit ...` example that fails

    @property
    def command(self) -> str:
        words = self.text.split()
        return words[1] if len(words) > 1 else ""


def readme_lines(readme: Path) -> list[Line]:
    lines: list[Line] = []
    block, pending = None, ""  # the open fence's language ("" for a plain block)
    rows = readme.read_text(encoding="utf-8").splitlines()
    for i, row in enumerate(rows):
        if row.startswith("```"):
            block = row[3:].strip() if block is None else None
            continue
        if block is not None:
            text = (pending + row.strip()) if pending else row.strip()
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            if text.startswith("$ dlkit "):  # an example with its output: an error
                message = rows[i + 1].removeprefix("error: ") if i + 1 < len(rows) else ""
                lines.append(Line(text[2:], expect_error=message))
            elif block == "bash" and text.startswith("dlkit "):  # plain blocks show output
                command = _without_comment(text)
                if "<" not in command:
                    lines.append(Line(command))
            continue
        for span in re.findall(r"`(dlkit [^`]*)`", row):
            if "<" not in span and "..." not in span:
                lines.append(Line(span.strip()))
    unique: dict[str, Line] = {}
    for line in lines:
        unique.setdefault(line.text, line)
    return list(unique.values())


def _without_comment(text: str) -> str:
    return re.split(r"\s+#\s", text, maxsplit=1)[0].strip()


def run_order(lines: list[Line]) -> list[Line]:
    def key(item: tuple[int, Line]) -> tuple[int, int]:
        index, line = item
        rank = ORDER.index(line.command) if line.command in ORDER else len(ORDER)
        return rank, index

    return [line for _, line in sorted(enumerate(lines), key=key)]


# -- the set-up: a small data root and the user's own files ------------------------------
_FIRST_ROWS = {  # file under the data root: rows kept (after a header where there is one)
    "sst2/train.tsv": 3000,
    "sst2/dev.tsv": 872,
    "sst2/test.tsv": 300,
    "wikitext-2-raw/wiki.valid.raw": 600,
    "wikitext-2-raw/wiki.test.raw": 600,
    "tiny_shakespeare/input.txt": 3000,
    "multi30k/train.en": 3000,
    "multi30k/train.de": 3000,
    "multi30k/val.en": 200,
    "multi30k/val.de": 200,
    "multi30k/test_2016_flickr.en": 200,
    "multi30k/test_2016_flickr.de": 200,
    "dialogsum/dialogsum.train.jsonl": 300,
    "dialogsum/dialogsum.dev.jsonl": 40,
    "dialogsum/dialogsum.test.jsonl": 40,
}
_SQUAD = "squad_v1.1/dev-v1.1.json"  # every article, its first paragraph only
_CONLL_SENTENCES = {
    "conll2003/train.txt": 1500,
    "conll2003/dev.txt": 300,
    "conll2003/test.txt": 300,
}


def small_data_root(source: Path, target: Path) -> None:
    for name, count in _FIRST_ROWS.items():
        header = 1 if name.endswith(".tsv") else 0
        rows = (source / name).read_text(encoding="utf-8").splitlines(keepends=True)
        _write(target / name, "".join(rows[: header + count]))
    for name, count in _CONLL_SENTENCES.items():
        text = (source / name).read_text(encoding="utf-8")
        sentences = [s for s in text.split("\n\n") if s.strip()]
        _write(target / name, "\n\n".join(sentences[:count]) + "\n")
    squad = json.loads((source / _SQUAD).read_text(encoding="utf-8"))
    for article in squad["data"]:
        article["paragraphs"] = article["paragraphs"][:1]
    _write(target / _SQUAD, json.dumps(squad))


def user_files(workdir: Path, data_root: Path) -> None:
    """The files the README's examples name as the user's own."""
    for split, name in (("train", "train"), ("dev", "dev"), ("dev", "test")):
        with open(data_root / "sst2" / f"{split}.tsv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[:400]
        path = workdir / "my" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["review", "sentiment"])
            writer.writerows((r["sentence"], "good" if r["label"] == "1" else "bad") for r in rows)
    _write(workdir / "reviews.txt", "a gorgeous , witty film .\nthe plot is a mess .\n")
    _write(
        workdir / "sentences.txt",
        "EU rejects German call to boycott British lamb .\nPeter Blackburn lives in Paris .\n",
    )
    question = {
        "question": "Where does Peter Blackburn live?",
        "context": "Peter Blackburn lives in Paris. He works for the EU in Brussels.",
    }
    _write(workdir / "questions.jsonl", json.dumps(question) + "\n")
    _write(workdir / "german.txt", "Ein Hund rennt durch den Park.\nZwei Kinder spielen im Sand.\n")
    _write(
        workdir / "my_configs" / "experiment" / "my_experiment.yaml",
        "# @package _global_\ndefaults:\n  - override /model: bert_tiny\n"
        "experiment_name: my_experiment\ntrainer:\n  max_steps: 20\n",
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- running ---------------------------------------------------------------------------------
def run(line: Line, workdir: Path, env: dict[str, str], log: Path) -> tuple[bool, float, str]:
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run(
            shlex.split(line.text),
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=1800,
        )
        out.write(done.stderr)
    seconds = time.perf_counter() - started
    if line.expect_error is not None:
        ok = done.returncode == 2 and line.expect_error.split(".")[0] in done.stderr
        return ok, seconds, f"exit {done.returncode}"
    ok = done.returncode == 0 and "Traceback" not in done.stderr
    return ok, seconds, f"exit {done.returncode}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--list", action="store_true", help="print the lines, in run order")
    args = parser.parse_args()
    lines = run_order(readme_lines(ROOT / "README.md"))
    if args.list:
        print("\n".join(line.text for line in lines))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dlkit-readme-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_root = workdir / "data"
    small_data_root(args.data_dir, data_root)
    user_files(workdir, data_root)
    bin_dir = str(Path(sys.executable).parent)  # the README's set-up: the activated .venv
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["DLKIT_DATA_DIR"] = str(data_root)
    failed = 0
    for number, line in enumerate(lines, 1):
        log = workdir / "logs" / f"{number:02d}.log"
        log.parent.mkdir(exist_ok=True)
        ok, seconds, detail = run(line, workdir, env, log)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {seconds:6.1f}s  {line.text}  ({detail})", flush=True)
        if not ok:
            print("      " + "\n      ".join(log.read_text().splitlines()[-15:]), flush=True)
    print(f"{len(lines) - failed} of {len(lines)} README lines ran as printed; logs in {workdir}")
    if not failed and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
