"""The baseline: the training loop a PyTorch user writes by hand around a transformers model."""

from __future__ import annotations

import torch
from shared import Recorder, arguments, encode, epoch_order, read_rows, warmup_steps
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_linear_schedule_with_warmup,
)

NO_DECAY = ("bias", "LayerNorm.weight")


def main() -> None:
    args = arguments(__doc__)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.init)
    model = AutoModelForSequenceClassification.from_pretrained(args.init)
    train = encode(tokenizer, read_rows(args.train), args.max_length)
    validation = encode(tokenizer, read_rows(args.validation), args.max_length)
    collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")

    named = list(model.named_parameters())
    decay = [p for n, p in named if not n.endswith(NO_DECAY)]
    groups = [
        {"params": decay, "weight_decay": args.weight_decay},
        {"params": [p for n, p in named if n.endswith(NO_DECAY)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, fused=True)  # as dlkit's config
    warmup = warmup_steps(args.steps, args.warmup_ratio)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, args.steps)

    recorder, step, epoch = Recorder(), 0, 0
    model.train()
    while step < args.steps:
        order = epoch_order(len(train), args.seed, epoch)
        for start in range(0, len(order), args.batch_size):
            batch = collate([train[i] for i in order[start : start + args.batch_size]])
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            recorder.loss(loss)
            recorder.tick()
            step += 1
            if step == args.steps:
                break
        epoch += 1

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(validation), 128):
            batch = collate(validation[start : start + 128])
            labels = batch.pop("labels")
            correct += int((model(**batch).logits.argmax(-1) == labels).sum())
    model.save_pretrained(f"{args.workdir}/model")
    tokenizer.save_pretrained(f"{args.workdir}/model")
    recorder.save(args.out, val_acc=correct / len(validation))


if __name__ == "__main__":
    main()
