"""AdamW runs fused wherever Lightning can clip gradients before it, and as the same update in
multi-tensor kernels where a gradient scaler is in the way."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.plugins.precision import MixedPrecision
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from dlkit.commands.app import config_dir
from dlkit.training.task import Task

STEPS = 4


class Regression(Task):
    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return 1000 * torch.nn.functional.mse_loss(self.model(batch[0]).float(), batch[1])


class StepGradNorm(L.Callback):
    """The gradient norm the optimizer steps with (after Lightning's clipping)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        step = optimizer.step

        def after_closure(closure):  # Lightning computes and clips the gradients in it
            loss = closure()
            grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
            self.norms.append(float(torch.stack([g.norm() for g in grads]).norm()))
            return loss

        def recorded(closure=None, **kwargs):  # a gradient scaler steps without a closure
            return step(partial(after_closure, closure) if closure else None, **kwargs)

        optimizer.step = recorded


def fit(optimizer: partial, **trainer_options) -> tuple[torch.optim.Optimizer, StepGradNorm, Task]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, 1))
    task = Regression(model, optimizer)
    norms = StepGradNorm()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=STEPS,
        gradient_clip_val=1.0,
        callbacks=[norms],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_options,
    )
    data = TensorDataset(torch.randn(16, 8), 10 * torch.randn(16, 1))
    trainer.fit(task, DataLoader(data, batch_size=4))
    return trainer.optimizers[0], norms, task


def adamw() -> partial:
    """The optimizer exactly as configs/optimizer/adamw.yaml builds it."""
    return instantiate(OmegaConf.load(config_dir() / "optimizer" / "adamw.yaml"))


def test_the_configured_adamw_is_fused() -> None:
    assert adamw().keywords["fused"] is True
    optimizer, norms, _ = fit(adamw(), precision="32-true")
    assert optimizer.defaults["fused"] is True
    assert len(norms.norms) == STEPS and max(norms.norms) <= 1.0 + 1e-5  # clipped


def test_bf16_mixed_steps_fused_and_clips_like_the_multi_tensor_kernels() -> None:
    fused, fused_norms, fused_task = fit(adamw(), precision="bf16-mixed")
    assert fused.defaults["fused"] is True
    assert max(fused_norms.norms) <= 1.0 + 1e-5  # Lightning clipped before the fused step
    multi, multi_norms, multi_task = fit(
        partial(adamw(), fused=False, foreach=True), precision="bf16-mixed"
    )
    assert not multi.defaults["fused"]
    assert fused_norms.norms == pytest.approx(multi_norms.norms, rel=1e-3)
    for a, b in zip(fused_task.parameters(), multi_task.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_with_a_gradient_scaler_the_same_update_runs_multi_tensor() -> None:
    scaled = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    optimizer, _, _ = fit(adamw(), plugins=[scaled])  # a fused AdamW: Lightning refuses
    assert not optimizer.defaults["fused"] and optimizer.defaults["foreach"] is True
