"""Masked LMs fill in [MASK]s; causal LMs continue prompts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlkit.export.runtime import Runtime, encode, softmax
from dlkit.families.family import Predictor


def mask_filler(runtime: Runtime, tokenizer: Any, info: dict, settings: Any) -> Predictor:
    """The `top_k` likeliest tokens, with probabilities, for every [MASK] of each text."""
    top_k = settings["top_k"]

    def fill_masks(texts: list[list[str]]) -> Iterator[dict]:
        encoded = encode(tokenizer, texts, info["max_length"])
        logits = runtime(encoded)["logits"]
        for row, (text,) in enumerate(texts):
            masks = []
            for position in np.flatnonzero(encoded["input_ids"][row] == tokenizer.mask_token_id):
                probs = softmax(logits[row, position])
                best = np.argsort(-probs)[:top_k]
                tokens = tokenizer.convert_ids_to_tokens(best.tolist())
                masks.append(
                    [
                        {"token": t, "score": round(float(probs[i]), 6)}
                        for t, i in zip(tokens, best, strict=True)
                    ]
                )
            yield {"text": text, "masks": masks}

    return fill_masks


def generator(model: Any, tokenizer: Any, info: dict, settings: Any) -> Predictor:
    """Sampled (temperature > 0, seeded) or greedy continuations of each prompt."""
    import torch

    temperature = float(settings["temperature"])
    tokenizer.padding_side = "left"  # prompts end where generation starts
    torch.manual_seed(settings["seed"])

    @torch.no_grad()
    def generate(texts: list[list[str]]) -> Iterator[dict]:
        prompts = [t[0] for t in texts]
        encoded = tokenizer(
            prompts,
            truncation=True,
            max_length=info["max_length"],
            padding=True,
            return_tensors="pt",
        )
        out = model.eval().generate(
            **encoded,
            max_new_tokens=int(settings["max_new_tokens"]),
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None,
            top_k=50,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[:, encoded["input_ids"].shape[1] :]
        for prompt, ids in zip(prompts, new, strict=True):
            yield {"prompt": prompt, "generation": tokenizer.decode(ids, skip_special_tokens=True)}

    return generate
