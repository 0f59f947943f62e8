"""Question/context pairs into model inputs, as transformers' run_qa.py builds them: question
first, only the context truncated, and a long context split into windows that overlap by
`doc_stride` tokens, so that an answer near a window's edge is whole in some window.

Training features carry the answer's start and end token (the CLS token's index where a window
does not hold the whole answer); evaluation features carry their example's id and the offset
mapping with None outside the context, which is what post-processing maps spans back with.
No padding here: a collator pads each batch."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedTokenizerBase

from dlkit.errors import ConfigError, DataError

MAX_LENGTH = 384
DOC_STRIDE = 128
CONTEXT = 1  # the sequence id of the context: the second sequence of each pair


def prepare_train_features(
    examples: dict[str, list],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = MAX_LENGTH,
    doc_stride: int = DOC_STRIDE,
) -> dict[str, list]:
    """A batch of examples (columns question, context, answers) into one feature per window,
    with `start_positions` and `end_positions` from the first answer (SQuAD's training files
    have one). For `datasets.map(batched=True, remove_columns=...)`."""
    encoded = _windows(examples, tokenizer, max_length, doc_stride)
    windows_of = encoded.pop("overflow_to_sample_mapping")
    offsets_of = encoded.pop("offset_mapping")
    starts, ends = [], []
    for i, offsets in enumerate(offsets_of):
        cls = _cls_index(encoded["input_ids"][i], tokenizer)
        answers = examples["answers"][windows_of[i]]
        if not answers["answer_start"]:
            starts.append(cls)
            ends.append(cls)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        span = _token_span(offsets, encoded.sequence_ids(i), start_char, end_char)
        start, end = span if span is not None else (cls, cls)
        starts.append(start)
        ends.append(end)
    encoded["start_positions"] = starts
    encoded["end_positions"] = ends
    return encoded


def prepare_eval_features(
    examples: dict[str, list],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = MAX_LENGTH,
    doc_stride: int = DOC_STRIDE,
) -> dict[str, list]:
    """A batch of examples (columns id, question, context) into one feature per window, each
    with `example_id` and an `offset_mapping` that is None on question and special tokens, so
    that no predicted span can start or end outside the context."""
    encoded = _windows(examples, tokenizer, max_length, doc_stride)
    windows_of = encoded.pop("overflow_to_sample_mapping")
    encoded["example_id"] = [examples["id"][w] for w in windows_of]
    encoded["offset_mapping"] = [
        [o if s == CONTEXT else None for o, s in zip(offsets, ids, strict=True)]
        for offsets, ids in _with_sequence_ids(encoded)
    ]
    return encoded


def _windows(
    examples: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int
) -> Any:
    if not tokenizer.is_fast:
        raise ConfigError(
            "Question answering needs a fast tokenizer (offset mappings and overflowing "
            f"windows); {type(tokenizer).__name__} is not one. Use a tokenizer.json-based model."
        )
    if not 0 <= stride < max_length:
        raise ConfigError(
            f"data.doc_stride={stride} must be at least 0 and below data.max_length="
            f"{max_length}: it is the number of tokens consecutive windows share."
        )
    # Leading spaces make some tokenizers' questions longer for nothing (run_qa.py strips them).
    questions = [q.lstrip() for q in examples["question"]]
    try:
        return tokenizer(
            questions,
            examples["context"],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
    except Exception as err:  # the Rust tokenizer says only "Truncation error: ..."
        raise DataError(
            f"Cannot split a context into windows of data.max_length={max_length} tokens with "
            f"data.doc_stride={stride}: {err}. A question and the stride must leave room for "
            "context in each window: raise data.max_length or lower data.doc_stride."
        ) from err


def _with_sequence_ids(encoded: Any) -> list[tuple[list, list[int | None]]]:
    return [(o, encoded.sequence_ids(i)) for i, o in enumerate(encoded["offset_mapping"])]


def _cls_index(input_ids: list[int], tokenizer: PreTrainedTokenizerBase) -> int:
    """Where "no answer in this window" points: the CLS token (or BOS), else the first token."""
    for special in (tokenizer.cls_token_id, tokenizer.bos_token_id):
        if special is not None and special in input_ids:
            return input_ids.index(special)
    return 0


def _token_span(
    offsets: list[tuple[int, int]],
    sequence_ids: list[int | None],
    start_char: int,
    end_char: int,
) -> tuple[int, int] | None:
    """The first and last token of the answer's characters, or None where the window's
    context does not hold all of them."""
    first = sequence_ids.index(CONTEXT)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(CONTEXT)
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return None
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1
