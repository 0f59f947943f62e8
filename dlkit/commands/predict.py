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

from omegaconf import DictConfig, OmegaConf

from dlkit.commands import app, collector, trained
from dlkit.data.stream import TextStream
from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.folder import open_run


def describe_source(path: Path) -> tuple[Path, dict]:
    """The model folder to load and what predict needs to know of it (format, task head, text
    columns, maximum length): an export folder's export.json, or a run folder's config."""
    if (path / "export.json").is_file():
        from dlkit.export.runtime import read_manifest

        parity = path / "parity.json"
        if parity.is_file() and not json.loads(parity.read_text()).get("passed"):
            raise RunFolderError(f"{path} failed verification (see parity.json); re-export it.")
        return path, read_manifest(path)
    run = open_run(path)
    return run.model_dir, {"format": "hf", **trained.serving_info(OmegaConf.load(run.config_file))}


def predict(cfg: DictConfig) -> int:
    if not cfg.get("run") or cfg.get("input") is None:
        raise ConfigError(
            "predict needs run=<run or export folder> and input=<file> (input=- reads stdin)."
        )
    folder, info = describe_source(Path(cfg.run).expanduser())
    settings = cfg.predict
    columns = [settings.text_column] if settings.text_column else info["text_columns"] or ["text"]
    stream = TextStream(str(cfg.input), columns, settings.input_format)
    head = info["head"]
    if head == "causal_lm" and info["format"] != "hf":
        raise ConfigError(
            f"Generation runs on the Hugging Face model, not a {info['format']} graph: pass the "
            "run folder or its exports/hf."
        )

    from dlkit import console

    trained.quiet_libraries()
    tokenizer = trained.load_tokenizer(folder)
    predictor = _predictor(cfg, folder, info, tokenizer)
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


def _predictor(cfg: DictConfig, folder: Path, info: dict, tokenizer):
    """A function from a batch of texts to the output records, for the run's task head."""
    import numpy as np

    from dlkit.export.graph import graph_inputs
    from dlkit.export.hf import label_names
    from dlkit.export.runtime import Eager, load

    head, max_length = info["head"], info["max_length"]
    if info["format"] == "hf":
        model = trained.load_model(folder, head)
        if head == "causal_lm":
            return _generator(cfg, model, tokenizer, max_length)
        runtime = Eager(model, graph_inputs(model, list(tokenizer.model_input_names)))
    else:
        runtime = load(folder)

    def encode(texts: list[list[str]]) -> dict:
        columns = list(zip(*texts, strict=True))
        encoded = tokenizer(
            *columns, truncation=True, max_length=max_length, padding=True, return_tensors="np"
        )
        return {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}

    if head == "masked_lm":
        top_k = cfg.predict.top_k

        def fill_masks(texts: list[list[str]]) -> Iterator[dict]:
            encoded = encode(texts)
            logits = runtime(encoded)
            for row, (text,) in enumerate(texts):
                masks = []
                for position in np.flatnonzero(
                    encoded["input_ids"][row] == tokenizer.mask_token_id
                ):
                    probs = _softmax(logits[row, position])
                    best = np.argsort(-probs)[:top_k]
                    tokens = tokenizer.convert_ids_to_tokens(best.tolist())
                    masks.append(
                        [
                            {"token": t, "score": round(float(probs[i]), 6)}
                            for t, i in zip(tokens, best, strict=True)
                        ]
                    )
                yield {"text": text, "masks": masks}

        return fill_masks

    labels = label_names(folder)

    def classify(texts: list[list[str]]) -> Iterator[dict]:
        probs = _softmax(runtime(encode(texts)))
        for row, pair in zip(probs, texts, strict=True):
            record = {"text": pair[0], **({"text_pair": pair[1]} if len(pair) > 1 else {})}
            record["label"] = labels[int(row.argmax())]
            record["scores"] = {
                name: round(float(p), 6) for name, p in zip(labels, row, strict=True)
            }
            yield record

    return classify


def _generator(cfg: DictConfig, model, tokenizer, max_length: int):
    import torch

    settings = cfg.predict
    temperature = float(settings.temperature)
    tokenizer.padding_side = "left"  # prompts end where generation starts
    torch.manual_seed(cfg.seed)

    @torch.no_grad()
    def generate(texts: list[list[str]]) -> Iterator[dict]:
        prompts = [t[0] for t in texts]
        encoded = tokenizer(
            prompts, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        out = model.eval().generate(
            **encoded,
            max_new_tokens=int(settings.max_new_tokens),
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None,
            top_k=50,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[:, encoded["input_ids"].shape[1] :]
        for prompt, ids in zip(prompts, new, strict=True):
            yield {"prompt": prompt, "generation": tokenizer.decode(ids, skip_special_tokens=True)}

    return generate


def _softmax(logits):
    import numpy as np

    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


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
