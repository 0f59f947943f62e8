"""Language modelling: masked (BERT) or causal (GPT-2), on packed blocks of text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import MeanMetric

from dlkit.training.task import OptimizerFactory, SchedulerFactory, Task, accuracy


class LanguageModelingTask(Task):
    """Loss on every position with a label (the masked ones for MLM, all but the first for
    CLM). Validation adds masked-token accuracy (MLM) or perplexity (CLM), both averaged over
    tokens, not batches."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        objective: str = "mlm",
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
        samples: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, optimizer, scheduler, weight_decay)
        self.objective = objective
        self.samples = samples or {}
        self.token_loss = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.token_acc = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        output = self.model(**batch)
        self.log_train(
            output.loss, len(batch["input_ids"]), lambda: accuracy(*self._scored(output, batch))
        )
        return output.loss

    def _scored(self, output: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Logits and labels of the positions the loss scores."""
        labels, logits = batch["labels"], output.logits
        if self.objective == "clm":  # position t predicts token t + 1
            labels, logits = labels[:, 1:], logits[:, :-1]
        return logits, labels

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.model(**batch)
        logits, labels = self._scored(output, batch)
        count = int((labels != -100).sum())
        if not count:
            return
        self.token_loss[stage].update(output.loss.float(), weight=count)
        self.token_acc[stage].update(accuracy(logits, labels).float(), weight=count)

    def evaluation_epoch_end(self, stage: str) -> None:
        if self.token_loss[stage].update_count == 0:
            return
        loss = self.token_loss[stage].compute()
        values = {f"{stage}/loss": loss, f"{stage}/acc": self.token_acc[stage].compute()}
        if self.objective == "clm":
            values[f"{stage}/ppl"] = torch.exp(loss)
        self.log_dict(values, prog_bar=stage == "val")
        self.token_loss[stage].reset()
        self.token_acc[stage].reset()

    @torch.no_grad()
    def write_artifacts(self, run_dir: Path, tokenizer) -> None:
        """For causal LMs, text generated from the configured prompts, in samples.json."""
        prompts = list(self.samples.get("prompts") or [])
        if self.objective != "clm" or not prompts:
            return
        temperature = float(self.samples.get("temperature", 0.8))
        self.model.eval()
        out = []
        for prompt in prompts:
            encoded = tokenizer(prompt, return_tensors="pt").to(self.device)
            generated = self.model.generate(
                **encoded,
                max_new_tokens=int(self.samples.get("max_new_tokens", 40)),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_k=50,
                pad_token_id=tokenizer.pad_token_id,
            )
            out.append(
                {"prompt": prompt, "text": tokenizer.decode(generated[0], skip_special_tokens=True)}
            )
        (run_dir / "samples.json").write_text(json.dumps(out, indent=2) + "\n")
