"""Linear layers on CPU through oneDNN instead of the BLAS library.

PyTorch's CPU wheels send fp32 matrix products to MKL, which takes its AVX-512 code only on
Intel processors; oneDNN, in the same wheel, chooses its code by instruction set. On this
project's AMD EPYC machines oneDNN computes the same fp32 products about twice as fast (a
1280x256 by 256x1024 product: 3.0 ms against 1.5 ms, the two gradients alike), and linear
layers are 80% of a small transformer's training step on CPU. Only the kernel changes: fp32
in, fp32 accumulated, equal to MKL's results to rounding. Anything else (autocast, other
dtypes, GPUs, tracing for export, compiling) goes through torch's own linear. The price is
memory: its temporaries, sized by each padded length, leave the C allocator holding more (a
4-layer/256 model: 1.34 GiB peak against 0.89 with MKL); `callbacks.cpu_linear=null` opts out."""

from __future__ import annotations

import platform
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F


def _times_transposed(
    a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """a @ b.T (+ bias) by oneDNN; `b` may be a transposed view."""
    return torch.ops.mkldnn._linear_pointwise(a, b, bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        # Strided operands (a slice such as BERT's first token) send oneDNN to its reference
        # code, 100x slower: give it rows it can read contiguously.
        rows = x.reshape(-1, x.shape[-1]).contiguous()
        ctx.save_for_backward(rows, weight)
        ctx.input_shape = x.shape
        return _times_transposed(rows, weight, bias).view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, weight = ctx.saved_tensors
        grad = grad.reshape(-1, grad.shape[-1]).contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _times_transposed(grad, weight.t()).view(ctx.input_shape)
        if ctx.needs_input_grad[1]:
            # oneDNN copies its first operand to contiguous: transpose the narrower matrix.
            if weight.shape[0] <= weight.shape[1]:
                grad_weight = _times_transposed(grad.t(), rows.t())
            else:
                grad_weight = _times_transposed(rows.t(), grad.t()).t().contiguous()
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0)
        return grad_x, grad_weight, grad_bias


def _usable(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and x.numel() > 0
        and weight.is_contiguous()
        and torch.backends.mkldnn.enabled
        and not torch.is_autocast_enabled("cpu")
        and not torch.jit.is_tracing()
        and not torch.jit.is_scripting()
        and not torch.compiler.is_compiling()
    )


class OneDNNLinear(nn.Linear):
    """nn.Linear with the same parameters and state dict; only the kernel differs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _usable(x, self.weight):
            return _OneDNNLinear.apply(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias)


def available() -> bool:
    """x86-64 only, where it was measured; on ARM torch's BLAS is another library (Accelerate,
    OpenBLAS) and the comparison is unmeasured."""
    return (
        platform.machine().lower() in ("x86_64", "amd64")
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


def swap(module: nn.Module, to_onednn: bool = True) -> int:
    """Switch every plain nn.Linear (subclasses, such as quantized or adapter layers, are left
    alone) to OneDNNLinear, or back; returns how many changed."""
    old, new = (nn.Linear, OneDNNLinear) if to_onednn else (OneDNNLinear, nn.Linear)
    changed = [m for m in module.modules() if type(m) is old]
    for layer in changed:
        layer.__class__ = new
    return len(changed)


class CpuLinear(Callback):
    """Uses OneDNNLinear while a CPU fp32 Trainer runs (fit, validate, test), and restores
    nn.Linear afterwards, so saved and exported models are plain transformers models."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        on_cpu = trainer.strategy.root_device.type == "cpu"
        if on_cpu and trainer.precision == "32-true" and available():
            swap(pl_module)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        swap(pl_module, to_onednn=False)
