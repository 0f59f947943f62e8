"""The reference for `bert_qa`: transformers' Trainer with the recipe of transformers'
examples/pytorch/question-answering (run_qa.py): question first, only the context truncated,
each batch padded to its longest window (run_qa.py's --pad_to_max_length False),
windows of 384 tokens sharing 128, answers placed by offset mapping (CLS when a window misses
it); n-best 20 start/end pairs per window, answers up to 30 tokens, best span over all windows.
Same data split, model, tokenizer and hyperparameters as the dlkit run it is compared with.

    python scripts/qa_reference/trainer_qa.py --data ../shared/data/squad_v1.1/dev-v1.1.json \
        --model runs/bert_qa/<run>/model --scratch --out /tmp/trainer_qa
    python scripts/qa_reference/trainer_qa.py ... --model runs/bert_mlm/<run>/model  # fine-tune
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from typing import Any

import numpy as np
from datasets import Dataset
from squad_split import read_split, scores
from transformers import (
    AutoConfig,
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="SQuAD v1.1 JSON (dev-v1.1.json)")
    parser.add_argument("--model", required=True, help="model/ folder: tokenizer, config, weights")
    parser.add_argument("--scratch", action="store_true", help="fresh weights from its config")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup-ratio", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--group-by-length", action="store_true", help="as data.group_by_length")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def windows(tokenizer: Any, examples: dict[str, list], max_length: int, stride: int) -> Any:
    """Question first, only the context truncated, long contexts in overlapping windows."""
    questions = [q.lstrip() for q in examples["question"]]
    return tokenizer(
        questions,
        examples["context"],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )


def train_features(rows: Dataset, tokenizer: Any, max_length: int, stride: int) -> Dataset:
    def prepare(examples: dict[str, list]) -> Any:
        enc = windows(tokenizer, examples, max_length, stride)
        sample_map = enc.pop("overflow_to_sample_mapping")
        enc["start_positions"], enc["end_positions"] = [], []
        for i, offsets in enumerate(enc.pop("offset_mapping")):
            cls = enc["input_ids"][i].index(tokenizer.cls_token_id)
            sequence_ids = enc.sequence_ids(i)
            answers = examples["answers"][sample_map[i]]
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            first = sequence_ids.index(1)
            last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
            if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
                enc["start_positions"].append(cls)
                enc["end_positions"].append(cls)
                continue
            start = first
            while start <= last and offsets[start][0] <= start_char:
                start += 1
            end = last
            while end >= first and offsets[end][1] >= end_char:
                end -= 1
            enc["start_positions"].append(start - 1)
            enc["end_positions"].append(end + 1)
        return enc

    return rows.map(prepare, batched=True, remove_columns=rows.column_names)


def eval_features(rows: Dataset, tokenizer: Any, max_length: int, stride: int) -> Dataset:
    def prepare(examples: dict[str, list]) -> Any:
        enc = windows(tokenizer, examples, max_length, stride)
        sample_map = enc.pop("overflow_to_sample_mapping")
        enc["example_id"] = []
        for i in range(len(enc["input_ids"])):
            sequence_ids = enc.sequence_ids(i)
            enc["example_id"].append(examples["id"][sample_map[i]])
            enc["offset_mapping"][i] = [
                o if sequence_ids[k] == 1 else None for k, o in enumerate(enc["offset_mapping"][i])
            ]
        return enc

    return rows.map(prepare, batched=True, remove_columns=rows.column_names)


def postprocess(
    rows: Dataset, features: Dataset, starts, ends, n_best: int = 20, max_answer: int = 30
) -> dict[str, str]:
    by_example = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"]):
        by_example[example_id].append(i)
    predictions = {}
    for row in rows:
        best_text, best_score = "", None
        for i in by_example[row["id"]]:
            offsets = features[i]["offset_mapping"]
            start_top = np.argsort(starts[i])[-1 : -n_best - 1 : -1]
            end_top = np.argsort(ends[i])[-1 : -n_best - 1 : -1]
            for s in start_top:
                for e in end_top:
                    if max(s, e) >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer:
                        continue
                    score = starts[i][s] + ends[i][e]
                    if best_score is None or score > best_score:
                        best_score = score
                        best_text = row["context"][offsets[s][0] : offsets[e][1]]
        predictions[row["id"]] = best_text
    return predictions


def main() -> None:
    args = arguments()
    set_seed(args.seed)
    train_rows, validation_rows = (Dataset.from_list(r) for r in read_split(args.data))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = AutoConfig.from_pretrained(
        args.model, hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout
    )
    if args.scratch:
        model = AutoModelForQuestionAnswering.from_config(config)
    else:
        model = AutoModelForQuestionAnswering.from_pretrained(args.model, config=config)
    train = train_features(train_rows, tokenizer, args.max_length, args.doc_stride)
    validation = eval_features(validation_rows, tokenizer, args.max_length, args.doc_stride)
    options = TrainingArguments(
        output_dir=args.out,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        num_train_epochs=args.epochs,
        warmup_steps=round(args.warmup_ratio * args.epochs * -(-len(train) // args.batch_size)),
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        seed=args.seed,
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
    )
    trainer = Trainer(
        model=model,
        args=options,
        train_dataset=train,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    began = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - began
    trainer.save_model(f"{args.out}/model")
    # Trainer's length grouping also reorders evaluation and predict batches (transformers 5's
    # _get_eval_sampler), which would pair each window's logits with another window's offsets.
    trainer.args.train_sampling_strategy = "random"
    output = trainer.predict(validation.remove_columns(["example_id", "offset_mapping"]))
    starts, ends = output.predictions
    answers = postprocess(validation_rows, validation, starts, ends)
    result = {
        "train_features": len(train),
        "validation_features": len(validation),
        "steps": trainer.state.global_step,
        "train_seconds": round(seconds, 1),
        **{k: round(v, 2) for k, v in scores(answers, list(validation_rows)).items()},
    }
    print(json.dumps(result))
    with open(f"{args.out}/result.json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
