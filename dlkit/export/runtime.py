"""One way to call a model of any format: numpy inputs in, numpy logits out. Parity checks,
benchmarks and `dlkit predict` all go through it, so they measure the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from transformers import PreTrainedModel

MANIFEST = "export.json"  # format, task head and graph inputs of an export folder
FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}


class Runtime(Protocol):
    input_names: list[str]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray: ...


class Eager:
    """The PyTorch model itself: the reference every export is compared with."""

    def __init__(self, model: PreTrainedModel, input_names: list[str]) -> None:
        self.model = model.eval()
        self.input_names = input_names

    @torch.no_grad()
    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        tensors = {n: torch.from_numpy(inputs[n]) for n in self.input_names}
        return self.model(**tensors).logits.float().numpy()


class Onnx:
    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {n: inputs[n].astype(np.int64) for n in self.input_names}
        return self.session.run(None, feed)[0]


class TorchScript:
    def __init__(self, path: Path, input_names: list[str]) -> None:
        self.module = torch.jit.load(str(path), map_location="cpu").eval()
        self.input_names = input_names

    @torch.no_grad()
    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.module(*(torch.from_numpy(inputs[n]) for n in self.input_names)).numpy()


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def load(folder: Path, model_loader=None) -> Runtime:
    """An export folder's runtime. hf exports need `model_loader(folder)` (the task's Auto
    class), which the command supplies."""
    manifest = read_manifest(folder)
    fmt, names = manifest["format"], manifest["input_names"]
    if fmt == "onnx":
        return Onnx(folder / FILES["onnx"])
    if fmt == "torchscript":
        return TorchScript(folder / FILES["torchscript"], names)
    return Eager(model_loader(folder), names)
