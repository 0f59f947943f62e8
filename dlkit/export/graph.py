"""Turn a transformers model into a graph: ONNX (dynamic batch and sequence axes) or
TorchScript, optionally with int8 dynamic quantization of its Linear layers."""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import PreTrainedModel

from dlkit.errors import ExportError

# Above this many bytes of weights, ONNX keeps them in a side file (protobuf's 2 GB limit).
_EXTERNAL_DATA_BYTES = 1_500_000_000


class NamedOutputs(torch.nn.Module):
    """Positional tensors in, the family's outputs out as a tuple: the plain signature graph
    formats need."""

    def __init__(
        self, model: PreTrainedModel, input_names: list[str], output_names: list[str]
    ) -> None:
        super().__init__()
        self.model = model.eval()
        self.input_names = input_names
        self.output_names = output_names
        self.eval()  # exporters restore the wrapper's mode onto the model afterwards
        # Generation caches are outputs a graph does not need.
        params = inspect.signature(model.forward).parameters
        self.extra = {"use_cache": False} if "use_cache" in params else {}

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(**dict(zip(self.input_names, inputs, strict=True)), **self.extra)
        return tuple(getattr(out, name) for name in self.output_names)


def graph_inputs(model: PreTrainedModel, tokenizer_inputs: list[str]) -> list[str]:
    """The tokenizer's outputs the model's forward takes (input_ids, attention_mask, ...)."""
    params = inspect.signature(model.forward).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return [n for n in tokenizer_inputs if n in params or (accepts_any and n == "input_ids")]


def export_onnx(
    model: PreTrainedModel,
    input_names: list[str],
    output_names: list[str],
    example: tuple,
    path: Path,
    opset: int,
) -> str:
    """torch.export-based exporter first; the TorchScript-based one for models it cannot
    trace (packed LSTMs). Returns the exporter that succeeded."""
    wrapper = NamedOutputs(model, input_names, output_names)
    external = sum(p.numel() * p.element_size() for p in model.parameters()) > _EXTERNAL_DATA_BYTES
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    errors = []
    for dynamo in (True, False):
        options = (
            {"dynamic_shapes": (({0: batch, 1: sequence},) * len(input_names),)}
            if dynamo
            else {"dynamic_axes": _dynamic_axes(wrapper, example)}
        )
        try:
            with _quiet():
                torch.onnx.export(
                    wrapper,
                    example,
                    str(path),
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamo=dynamo,
                    external_data=external,
                    verbose=False,
                    **options,
                )
            return "torch.export" if dynamo else "torchscript-based"
        except Exception as err:  # exporters raise many types; each means "cannot export"
            errors.append(f"{'dynamo' if dynamo else 'legacy'}: {str(err).splitlines()[0]}")
    raise ExportError(
        f"Cannot export {type(model).__name__} to ONNX ({'; '.join(errors)}). Try "
        "format=torchscript, or format=hf for the Hugging Face folder."
    )


def onnx_opset(path: Path) -> int:
    """The opset the graph was written with (the exporter may raise what it was asked for)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _dynamic_axes(wrapper: NamedOutputs, example: tuple) -> dict[str, dict[int, str]]:
    """The TorchScript-based exporter's axes: inputs by batch and sequence, and outputs by
    batch, with a sequence axis too where an output has one value per token."""
    length = example[0].shape[1]
    axes = {n: {0: "batch", 1: "sequence"} for n in wrapper.input_names}
    with torch.no_grad():
        for name, out in zip(wrapper.output_names, wrapper(*example), strict=True):
            per_token = out.shape[1:2] == (length,)
            axes[name] = {0: "batch", 1: "sequence"} if per_token else {0: "batch"}
    return axes


def quantize_onnx(source: Path, target: Path) -> None:
    """Weights of MatMul/Gemm to int8, activations quantized on the fly at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def export_torchscript(
    model: PreTrainedModel,
    input_names: list[str],
    output_names: list[str],
    example: tuple,
    path: Path,
    int8: bool,
) -> None:
    wrapper = NamedOutputs(model, input_names, output_names)
    if int8:
        with _quiet():
            wrapper = torch.ao.quantization.quantize_dynamic(
                wrapper, {torch.nn.Linear}, dtype=torch.qint8
            )
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(wrapper, example, strict=False, check_trace=False)
    traced.save(str(path))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters warn at length about things parity then checks; keep the console readable."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxruntime", "")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
