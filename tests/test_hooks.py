"""Callback hooks that no callback implements are skipped; every implemented one still runs."""

from __future__ import annotations

from collections import Counter

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.trainer import call
from torch.utils.data import DataLoader, TensorDataset

from dlkit.training.hooks import implements, skip_unimplemented_hooks


class Linear(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class AfterBackward(Callback):
    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.calls += 1


def test_implements_tells_overridden_hooks_from_inherited_no_ops() -> None:
    recorder = AfterBackward()
    assert implements(recorder, "on_after_backward")
    assert not implements(recorder, "on_before_zero_grad")
    assert implements(ModelCheckpoint(), "on_train_batch_end")
    assert not implements(ModelCheckpoint(), "on_after_backward")
    assert implements(LearningRateMonitor(), "on_train_batch_start")
    patched = Callback()
    patched.on_before_zero_grad = lambda *args: None  # type: ignore[method-assign]
    assert implements(patched, "on_before_zero_grad")


def test_only_hooks_some_callback_implements_are_dispatched(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    dispatched: Counter[str] = Counter()
    lightning_dispatch = call._call_callback_hooks

    def spy(trainer: L.Trainer, hook_name: str, *args, **kwargs) -> None:
        dispatched[hook_name] += 1
        lightning_dispatch(trainer, hook_name, *args, **kwargs)

    monkeypatch.setattr(call, "_call_callback_hooks", spy)
    skip_unimplemented_hooks()
    skip_unimplemented_hooks()  # installed once however often the Trainer is built
    recorder = AfterBackward()
    trainer = L.Trainer(
        max_steps=3,
        callbacks=[recorder, ModelCheckpoint(dirpath=tmp_path)],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    data = TensorDataset(torch.randn(12, 4), torch.randn(12, 1))
    trainer.fit(Linear(), DataLoader(data, batch_size=4))

    assert recorder.calls == 3
    assert dispatched["on_after_backward"] == 3
    assert dispatched["on_train_batch_end"] == 3  # ModelCheckpoint implements it
    for hook in ("on_before_backward", "on_before_optimizer_step", "on_before_zero_grad"):
        assert dispatched[hook] == 0, hook
    assert (tmp_path / "epoch=0-step=3.ckpt").is_file()  # the checkpoint callback still ran
    assert getattr(call._call_callback_hooks, "skips_unimplemented", False)
