"""transformers' Trainer on the same model, data order and hyperparameters."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from shared import Recorder, arguments, encode, epoch_order, read_rows, warmup_steps
from torch.utils.data import Sampler
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)


class EpochOrder(Sampler[int]):
    """dlkit's order (Trainer would otherwise draw its own)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, -1

    def __iter__(self) -> Iterator[int]:
        self.epoch += 1
        return iter(epoch_order(self.size, self.seed, self.epoch))

    def __len__(self) -> int:
        return self.size


class RecordingTrainer(Trainer):
    def __init__(self, *args, recorder: Recorder, seed: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recorder, self.order_seed = recorder, seed

    def _get_train_sampler(self, train_dataset=None) -> Sampler:
        return EpochOrder(len(train_dataset or self.train_dataset), self.order_seed)

    def training_step(self, *args, **kwargs) -> torch.Tensor:
        loss = super().training_step(*args, **kwargs)
        self.recorder.loss(loss)
        return loss


class StepTimes(TrainerCallback):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self.recorder.tick()


def accuracy(prediction) -> dict[str, float]:
    return {"acc": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}


def main() -> None:
    args = arguments(__doc__)
    tokenizer = AutoTokenizer.from_pretrained(args.init)
    model = AutoModelForSequenceClassification.from_pretrained(args.init)
    recorder = Recorder()
    options = TrainingArguments(
        output_dir=f"{args.workdir}/trainer",
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=128,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        max_grad_norm=1.0,
        max_steps=args.steps,
        warmup_steps=warmup_steps(args.steps, args.warmup_ratio),
        lr_scheduler_type="linear",
        seed=args.seed,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        dataloader_pin_memory=False,
        optim="adamw_torch_fused",  # Trainer's default, and dlkit's: one fused AdamW kernel
    )
    trainer = RecordingTrainer(
        model=model,
        args=options,
        data_collator=DataCollatorWithPadding(tokenizer, return_tensors="pt"),
        train_dataset=encode(tokenizer, read_rows(args.train), args.max_length),
        eval_dataset=encode(tokenizer, read_rows(args.validation), args.max_length),
        processing_class=tokenizer,
        compute_metrics=accuracy,
        callbacks=[StepTimes(recorder)],
        recorder=recorder,
        seed=args.seed,
    )
    trainer.train()
    metrics = trainer.evaluate()
    trainer.save_model(f"{args.workdir}/model")
    recorder.save(args.out, val_acc=metrics["eval_acc"])


if __name__ == "__main__":
    main()
