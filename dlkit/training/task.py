"""What every task shares: the model it wraps, and the optimizer and schedule it builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import nn

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# Biases and norms are not decayed: the usual BERT recipe.
_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def accuracy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Share of the scored positions (labels other than `ignore_index`) predicted right."""
    scored = labels != ignore_index
    right = (logits.argmax(-1) == labels) & scored
    return right.sum() / scored.sum().clamp(min=1)


class Task(L.LightningModule):
    """`optimizer` and `scheduler` are Hydra partials (`_partial_: true`): the task supplies the
    parameters and the number of training steps, which only the Trainer knows."""

    # The root config's `compile` (set by components.build): the model's forward runs through
    # torch.compile while the Trainer fits, and eagerly again afterwards, so the final
    # evaluation, model/ and exports see the plain transformers model. Compiling the bound
    # forward keeps parameter names (a compiled module's would gain an `_orig_mod.` prefix).
    compile_forward: bool = False
    # The run's tokenizer (set by components.build), for tasks that turn ids back into text.
    tokenizer: Any = None

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__()
        # from_pretrained returns a model in eval mode and Lightning keeps submodule modes:
        # without this, a fine-tuned model would train with dropout off.
        self.model = model.train()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.weight_decay = weight_decay

    def log_train(
        self, loss: torch.Tensor, batch_size: int, accuracy: Callable[[], torch.Tensor]
    ) -> None:
        """Loss, batch accuracy and learning rate, only on the steps the logger writes (every
        trainer.log_every_n_steps): a `self.log` costs about 0.25 ms, a step's worth of
        overhead that a plain PyTorch loop does not pay, so `accuracy` is computed only then.
        `should_update_logs` is the logger connector's own rule (private in Lightning, which
        pyproject pins to 2.6.x)."""
        if self._trainer is not None and not self.trainer._logger_connector.should_update_logs:
            return
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        with torch.no_grad():
            self.log("train/acc", accuracy().float(), batch_size=batch_size)
        if self._trainer is not None and self.trainer.optimizers:
            self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])

    def on_fit_start(self) -> None:
        if self.compile_forward:
            self._eager_forward = vars(self.model).get("forward")  # a hook's, if any
            self.model.forward = torch.compile(self.model.forward)

    def on_fit_end(self) -> None:
        if self.compile_forward:
            del self.model.forward  # the class's own forward again, or the hook's
            if self._eager_forward is not None:
                self.model.forward = self._eager_forward

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        """Accumulate (or log) one batch's metrics for `stage`, "val" or "test"."""
        raise NotImplementedError

    def evaluation_epoch_end(self, stage: str) -> None:
        """Log what `evaluation_step` accumulated over the split; none by default."""

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluation_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.evaluation_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self.evaluation_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self.evaluation_epoch_end("test")

    def write_artifacts(self, run_dir: Path, tokenizer: Any) -> None:
        """Task-specific files for the run folder (generated samples, ...); none by default."""

    def predictions(self) -> dict[str, Any] | None:
        """The last evaluated split's predictions in the form its official scorer reads
        (SQuAD's {id: answer}), which `dlkit evaluate` writes beside the metrics; None for a
        family whose metrics need no such file."""
        return None

    def results_notes(self) -> dict[str, Any]:
        """What results.json (and an evaluation's file) should say about how the metrics were
        computed beyond their values (sacreBLEU's signature); nothing by default."""
        return {}

    def configure_optimizers(self) -> Any:
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for n, p in named if not n.endswith(_NO_DECAY)],
                "weight_decay": self.weight_decay,
            },
            {"params": [p for n, p in named if n.endswith(_NO_DECAY)], "weight_decay": 0.0},
        ]
        optimizer = self._optimizer(groups)
        if self.scheduler_factory is None:
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer, num_training_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _optimizer(self, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        """A fused AdamW is the fastest (a 2-layer BERT's step on CPU: 0.5 ms fused, 2.0 ms
        multi-tensor, 4.4 ms per tensor). A fused step can take a gradient scaler's unscaling
        into its kernel, so Lightning refuses to clip gradients before one under any mixed
        precision. Under 16-mixed (which has a scaler) the same update runs as multi-tensor
        kernels; bf16-mixed has no scaler, so the gradients it clips are the real ones and the
        fused step is a plain step: the optimizer is marked as doing no unscaling."""
        fused = bool(getattr(self.optimizer_factory, "keywords", {}).get("fused"))
        plugin = self.trainer.precision_plugin if fused and self._trainer else None
        if not (isinstance(plugin, MixedPrecision) and self.trainer.gradient_clip_val):
            return self.optimizer_factory(groups)
        if plugin.scaler is not None:
            return self.optimizer_factory(groups, fused=False, foreach=True)
        optimizer = self.optimizer_factory(groups)
        optimizer._step_supports_amp_scaling = False
        return optimizer
