"""fp32 linear layers on CPU run through oneDNN during a CPU fit: same results as torch's
linear, and the model is plain nn.Linear again once the Trainer is done."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlkit.training import cpu_linear
from dlkit.training.cpu_linear import CpuLinear, OneDNNLinear, swap
from tests.conftest import compose_root


@pytest.fixture
def onednn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    calls: list[tuple[int, ...]] = []
    real = cpu_linear._times_transposed

    def spy(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        calls.append(tuple(a.shape))
        return real(a, b, bias)

    monkeypatch.setattr(cpu_linear, "_times_transposed", spy)
    return calls


def pair(inputs: int, outputs: int, bias: bool = True) -> tuple[nn.Linear, nn.Linear]:
    torch.manual_seed(0)
    reference = nn.Linear(inputs, outputs, bias=bias)
    swapped = nn.Linear(inputs, outputs, bias=bias)
    swapped.load_state_dict(reference.state_dict())
    assert swap(swapped) == 1 and type(swapped) is OneDNNLinear
    return reference, swapped


@pytest.mark.parametrize(
    ("make_input", "inputs", "outputs", "bias"),
    [
        (lambda: torch.randn(4, 7, 48), 48, 96, True),  # widening: the weight grad's other path
        (lambda: torch.randn(5, 96), 96, 48, True),
        (lambda: torch.randn(6, 9, 48)[:, 0], 48, 48, True),  # a strided slice, as BERT's pooler
        (lambda: torch.randn(48), 48, 16, False),
    ],
)
def test_same_outputs_and_gradients_as_torch_linear(
    onednn_calls, make_input, inputs: int, outputs: int, bias: bool
) -> None:
    reference, swapped = pair(inputs, outputs, bias)
    x = make_input().requires_grad_()
    x_copy = x.detach().clone().requires_grad_()
    expected, got = reference(x), swapped(x_copy)
    grad = torch.randn_like(expected)
    expected.backward(grad)
    got.backward(grad)

    assert len(onednn_calls) == 3  # forward, input gradient, weight gradient
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_copy.grad, x.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(swapped.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-5)
    if bias:
        torch.testing.assert_close(swapped.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-5)
    assert swapped.state_dict().keys() == reference.state_dict().keys()


def test_anything_but_fp32_without_autocast_goes_through_torch_linear(onednn_calls) -> None:
    reference, swapped = pair(32, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert swapped(torch.randn(3, 32)).dtype == torch.bfloat16
    doubles = torch.randn(3, 32, dtype=torch.float64)
    torch.testing.assert_close(swapped.double()(doubles), reference.double()(doubles))
    assert onednn_calls == []


class TwoLayers(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 1))

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return nn.functional.mse_loss(self.net(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class LayerTypes(Callback):
    def __init__(self) -> None:
        self.seen: set[type] = set()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen |= {type(m) for m in pl_module.net if isinstance(m, nn.Linear)}


def fit(tmp_path, precision: str, callbacks: list[Callback]) -> TwoLayers:
    torch.manual_seed(1)
    data = TensorDataset(torch.randn(64, 16), torch.randn(64, 1))
    module = TwoLayers()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=6,
        precision=precision,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, DataLoader(data, batch_size=16))
    return module


def test_a_cpu_fp32_fit_trains_through_onednn_and_ends_with_plain_linear(tmp_path) -> None:
    layers = LayerTypes()
    swapped = fit(tmp_path, "32-true", [CpuLinear(), layers])
    reference = fit(tmp_path, "32-true", [])

    assert layers.seen == {OneDNNLinear}
    assert {type(m) for m in swapped.net if isinstance(m, nn.Linear)} == {nn.Linear}
    for got, expected in zip(swapped.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_mixed_precision_keeps_torch_linear(tmp_path) -> None:
    layers = LayerTypes()
    fit(tmp_path, "bf16-mixed", [CpuLinear(), layers])
    assert layers.seen == {nn.Linear}


def test_not_switched_on_other_architectures(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_linear.platform, "machine", lambda: "arm64")
    layers = LayerTypes()
    fit(tmp_path, "32-true", [CpuLinear(), layers])
    assert layers.seen == {nn.Linear}


def test_the_default_callbacks_include_it() -> None:
    cfg = compose_root([])
    assert isinstance(instantiate(cfg.callbacks.cpu_linear), CpuLinear)
