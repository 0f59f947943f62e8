"""Text in, text out: teacher-forced cross-entropy (optionally label-smoothed) to train;
validation loss every epoch and, every `generate_every_n_epochs`, generated text scored with
sacreBLEU/chrF or ROUGE against each row's references."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric

from dlkit.families.seq2seq import generation, metrics
from dlkit.families.seq2seq.batches import REFERENCES
from dlkit.training.task import OptimizerFactory, SchedulerFactory, Task, accuracy

_SPLITS = {"val": "validation", "test": "test"}  # stage -> the split results.json names


class Seq2SeqTask(Task):
    """`generate` (task.generate) sets the model's generation config, which model/ saves.
    Generation is slow on CPU: `generate_every_n_epochs` (0: never while training) says how
    often validation generates; `dlkit evaluate` and the final evaluation always do. Under
    DDP each process generates for its share of a split and the texts are gathered before
    scoring (corpus BLEU needs them all)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        weight_decay: float = 0.01,
        metric: str = "bleu",
        multi_reference: str = "max",
        generate: dict[str, Any] | None = None,
        generate_every_n_epochs: int = 1,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(model, optimizer, scheduler, weight_decay)
        metrics.check_settings(metric, multi_reference)  # a wrong name fails here, not later
        generation.apply(self.model, generate)
        self.metric = metric
        self.multi_reference = multi_reference
        self.generate_every_n_epochs = generate_every_n_epochs
        self.label_smoothing = label_smoothing
        self.losses = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.texts: dict[str, list[tuple[str, list[str]]]] = {"val": [], "test": []}
        self.hypotheses: list[str] = []  # the last generating split's, in row order
        self.signatures: dict[str, str] = {}

    def forward(self, batch: dict[str, Any]) -> Any:
        return self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],  # shifted right into the decoder's inputs by the model
        )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        labels = batch["labels"]
        loss = out.loss
        if self.label_smoothing:
            logits = out.logits.float().flatten(0, 1)
            loss = F.cross_entropy(logits, labels.flatten(), label_smoothing=self.label_smoothing)
        self.log_train(loss, len(labels), lambda: accuracy(out.logits, labels))
        return loss

    def evaluation_step(self, batch: dict[str, Any], stage: str) -> None:
        out = self(batch)
        tokens = int((batch["labels"] != -100).sum())
        self.losses[stage].update(out.loss, weight=tokens)  # per target token, as in training
        if not self._generating() or REFERENCES not in batch:
            return
        generated = self.model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        )
        texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        self.texts[stage].extend(zip(texts, batch[REFERENCES], strict=True))

    def _generating(self) -> bool:
        trainer = self.trainer
        if trainer.sanity_checking:
            return False
        if not trainer.training and trainer.state.fn != "fit":
            return True  # final evaluation, dlkit evaluate
        every = self.generate_every_n_epochs
        return bool(every) and (self.current_epoch + 1) % every == 0

    def evaluation_epoch_end(self, stage: str) -> None:
        self.log(f"{stage}/loss", self.losses[stage].compute(), prog_bar=stage == "val")
        self.losses[stage].reset()
        pairs = _gathered(self.texts[stage])
        self.texts[stage] = []
        if not pairs:
            return
        hypotheses, references = [p[0] for p in pairs], [p[1] for p in pairs]
        scores = metrics.scores(self.metric, hypotheses, references, self.multi_reference)
        shown = next(iter(scores))  # bleu or rouge1
        self.log(f"{stage}/{shown}", scores.pop(shown), prog_bar=stage == "val", sync_dist=False)
        self.log_dict({f"{stage}/{k}": v for k, v in scores.items()}, sync_dist=False)
        self.hypotheses = hypotheses
        if self.metric == "bleu":
            self.signatures[_SPLITS[stage]] = metrics.bleu_signatures(references)

    def on_validation_epoch_start(self) -> None:
        self.texts["val"], self.hypotheses = [], []  # an interrupted pass leaves nothing

    def on_test_epoch_start(self) -> None:
        self.texts["test"], self.hypotheses = [], []

    def predictions(self) -> dict[str, Any] | None:
        """The generated text of the split evaluated last, in row order, beside how it was
        generated and scored."""
        if not self.hypotheses:
            return None
        config = self.model.generation_config
        settings = {k: getattr(config, k) for k in generation.SETTINGS}
        return {"generate": settings, **self.results_notes(), "hypotheses": self.hypotheses}

    def results_notes(self) -> dict[str, Any]:
        return {"sacrebleu": dict(self.signatures)} if self.signatures else {}


def _gathered(pairs: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """Every process's pairs, in the order the evaluation shards interleave them (each
    process takes every world-th row)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return pairs
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, pairs)
    longest = max(len(p) for p in parts)
    return [p[i] for i in range(longest) for p in parts if i < len(p)]
