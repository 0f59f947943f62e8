"""One way to call a model of any format: numpy inputs in, named numpy outputs out. Parity
checks, benchmarks and `dlkit predict` all go through it, so they measure the same thing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from transformers import PreTrainedModel

from dlkit.errors import RunFolderError
from dlkit.runs.folder import read_json

MANIFEST = "export.json"  # format, task family, graph inputs and outputs of an export folder
FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}

Outputs = dict[str, np.ndarray]


class Runtime(Protocol):
    input_names: list[str]
    output_names: list[str]

    def __call__(self, inputs: dict[str, np.ndarray]) -> Outputs: ...


class Eager:
    """The PyTorch model itself: the reference every export is compared with."""

    def __init__(
        self, model: PreTrainedModel, input_names: list[str], output_names: list[str]
    ) -> None:
        self.model = model.eval()
        self.input_names = input_names
        self.output_names = output_names

    @torch.no_grad()
    def __call__(self, inputs: dict[str, np.ndarray]) -> Outputs:
        out = self.model(**{n: torch.from_numpy(inputs[n]) for n in self.input_names})
        return {n: getattr(out, n).float().numpy() for n in self.output_names}


class Onnx:
    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> Outputs:
        feed = {n: inputs[n].astype(np.int64) for n in self.input_names}
        return dict(zip(self.output_names, self.session.run(None, feed), strict=True))


class TorchScript:
    """Loading a TorchScript file runs the program it holds: callers load only exports this
    process wrote, or ones the user trusts (trust_remote_code=true)."""

    def __init__(self, path: Path, input_names: list[str], output_names: list[str]) -> None:
        self.module = torch.jit.load(str(path), map_location="cpu").eval()
        self.input_names = input_names
        self.output_names = output_names

    @torch.no_grad()
    def __call__(self, inputs: dict[str, np.ndarray]) -> Outputs:
        out = self.module(*(torch.from_numpy(inputs[n]) for n in self.input_names))
        return {n: t.numpy() for n, t in zip(self.output_names, out, strict=True)}


def read_manifest(folder: Path) -> dict:
    fix = "re-export the run (dlkit export run=<run folder> format=...)."
    manifest = read_json(folder / MANIFEST, fix)
    missing = [k for k in ("format", "input_names") if k not in manifest]
    if missing or manifest["format"] not in (*FILES, "hf"):
        raise RunFolderError(
            f"{folder / MANIFEST} is not a dlkit export manifest (missing or unknown: "
            f"{', '.join(missing) or 'format=' + str(manifest['format'])}); {fix}"
        )
    manifest.setdefault("family", manifest.get("head"))  # exports from before families
    manifest.setdefault("output_names", ["logits"])
    return manifest


def load(folder: Path, model_loader: Callable[[Path], Any] | None = None) -> Runtime:
    """An export folder's runtime. hf exports need `model_loader(folder)` (the family's Auto
    class), which the caller supplies."""
    manifest = read_manifest(folder)
    fmt, inputs, outputs = manifest["format"], manifest["input_names"], manifest["output_names"]
    if fmt == "onnx":
        return Onnx(folder / FILES["onnx"])
    if fmt == "torchscript":
        return TorchScript(folder / FILES["torchscript"], inputs, outputs)
    return Eager(model_loader(folder), inputs, outputs)


def encode(tokenizer: Any, texts: list[list[str]], max_length: int) -> dict[str, np.ndarray]:
    """A batch of rows (one text, or a text and its pair) as int64 arrays for a runtime."""
    columns = list(zip(*texts, strict=True))
    encoded = tokenizer(
        *columns, truncation=True, max_length=max_length, padding=True, return_tensors="np"
    )
    return {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)
