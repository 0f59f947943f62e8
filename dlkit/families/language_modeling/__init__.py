"""Language modelling from raw text: masked (BERT) and causal (GPT-2) pretraining."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlkit.families.family import Family, Predictor

_CORPUS = ("dlkit.families.language_modeling.data.CorpusData",)


class MaskedLM(Family):
    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.language_modeling.predictor import mask_filler

        return mask_filler(self.runtime(folder, tokenizer), tokenizer, info, settings)

    def usage(self) -> str:
        return 'print(outputs["logits"].argmax(-1))  # the most likely token at each position'


class CausalLM(Family):
    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.errors import ConfigError
        from dlkit.families.language_modeling.predictor import generator

        if info["format"] != "hf":
            raise ConfigError(
                f"Generation runs on the Hugging Face model, not a {info['format']} graph: "
                "pass the run folder or its exports/hf."
            )
        return generator(self.load_model(folder), tokenizer, info, settings)

    def usage(self) -> str:
        return 'print(outputs["logits"][:, -1].argmax(-1))  # the next token after each text'


MASKED_LM = MaskedLM(
    name="masked_lm",
    auto_class="AutoModelForMaskedLM",
    pipeline_task="fill-mask",
    data_targets=_CORPUS,
    pretrains=True,
)
CAUSAL_LM = CausalLM(
    name="causal_lm",
    auto_class="AutoModelForCausalLM",
    pipeline_task="text-generation",
    data_targets=_CORPUS,
    pretrains=True,
)
