"""Generated text for each input, as the run's generation config says (model/
generation_config.json): what `model.generate` gives whoever loads model/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dlkit.families.family import Predictor


def generator(model: Any, tokenizer: Any, info: dict) -> Predictor:
    import torch

    prefix = info.get("source_prefix", "")
    model.eval()

    @torch.no_grad()
    def generate(texts: list[list[str]]) -> Iterator[dict]:
        sources = [t[0] for t in texts]
        encoded = tokenizer(
            [prefix + s for s in sources],
            truncation=True,
            max_length=info["max_length"],
            padding=True,
            return_tensors="pt",
        )
        out = model.generate(**encoded)
        decoded = tokenizer.batch_decode(out, skip_special_tokens=True)
        for source, text in zip(sources, decoded, strict=True):
            yield {"source": source, "generated_text": text}

    return generate
