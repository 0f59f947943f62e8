"""`dlkit predict run=<run or export folder> input=<file or -> [output=<file>]`: batch
inference, streamed, written as JSONL (one object per input row, in input order)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO

from omegaconf import DictConfig

from dlkit import families
from dlkit.commands import app, collector, trained
from dlkit.data.stream import TextStream
from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.folder import open_run, read_json, resolve
from dlkit.runs.trust import check_model_code


def describe_source(path: Path, cfg: DictConfig) -> tuple[Path, dict]:
    """The model folder to load and what predict needs to know of it (format, task family, text
    columns, maximum length): an export folder's export.json, or a run folder's config."""
    if (path / "export.json").is_file():
        from dlkit.export.runtime import read_manifest

        parity = path / "parity.json"
        if parity.is_file() and not read_json(parity, "re-export the folder.").get("passed"):
            raise RunFolderError(f"{path} failed verification (see parity.json); re-export it.")
        manifest = read_manifest(path)
        check_model_code(path, bool(cfg.trust_remote_code))
        if manifest["format"] == "torchscript" and not cfg.trust_remote_code:
            raise RunFolderError(
                f"{path} is a TorchScript export: loading it runs the program stored in model.pt, "
                "so it is code, not data. Add trust_remote_code=true if you trust whoever made "
                "it, or predict from an onnx or hf export (or the run folder) instead."
            )
        return path, manifest
    run = open_run(path)
    return run.model_dir, {"format": "hf", **trained.serving_info(trained.saved_config(run, cfg))}


def predict(cfg: DictConfig) -> int:
    if not cfg.get("run") or cfg.get("input") is None:
        raise ConfigError(
            "predict needs run=<run or export folder> and input=<file> (input=- reads stdin)."
        )
    _check_output(cfg)
    folder, info = describe_source(resolve(cfg.run), cfg)
    family = families.get(info["family"])
    settings = cfg.predict
    columns = [settings.text_column] if settings.text_column else info["text_columns"] or ["text"]
    stream = TextStream(str(cfg.input), columns, settings.input_format)

    from dlkit import console

    trained.quiet_libraries()
    tokenizer = trained.load_tokenizer(folder)
    predictor = family.predictor(folder, info, tokenizer, {**settings, "seed": cfg.seed})
    rows = iter(stream)
    count = 0
    collector.resume()
    with _output(cfg.output) as out, console.stream_progress(stream.size) as advance:
        while batch := list(islice(rows, settings.batch_size)):
            texts = [texts for _, texts in batch]
            for record in predictor(texts):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += len(batch)
            advance(stream.bytes_read, count)
    where = cfg.output or "stdout"
    skipped = f" ({stream.skipped} blank lines skipped)" if stream.skipped else ""
    console.errors.print(f"Wrote {count} predictions to {where}{skipped}.")
    return count


def _check_output(cfg: DictConfig) -> None:
    """Before any work: the output is a file that is not the input, in a folder that exists
    or can be made."""
    if not cfg.output:
        return
    target = Path(str(cfg.output)).expanduser()
    if target.is_dir():
        raise ConfigError(
            f"output={cfg.output} is a folder; name a file in it, e.g. "
            f"output={target / 'predictions.jsonl'}."
        )
    if str(cfg.input) != "-" and target.resolve() == Path(str(cfg.input)).expanduser().resolve():
        raise ConfigError(
            f"output={cfg.output} is the input file: predictions would replace it. Name "
            "another file, e.g. output=predictions.jsonl."
        )
    existing = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"output={cfg.output}: cannot write under {existing}; name a writable place."
        )


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written through a temporary name: a failed run leaves any earlier
    output of the same name intact."""
    if not path:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def main(argv: Sequence[str]) -> int:
    return app.run(predict, [*app.in_place(quiet=True), *argv])
