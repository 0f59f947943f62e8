"""Language modelling from raw text: masked (BERT) and causal (GPT-2) pretraining."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected
from dlkit.families.family import Family, Predictor
from dlkit.families.language_modeling.sources import corpus_files

_CORPUS = ("dlkit.families.language_modeling.data.CorpusData",)


class _Corpus(Family):
    """What both language-modelling families read: a corpus of sources (data=corpus)."""

    def layout(self, data: Mapping[str, Any]) -> list[Expected]:
        return corpus_files(data.get("sources"), data.get("hub"))

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        from dlkit.families.language_modeling.writer import write

        write(data, item, dataset, path)


class MaskedLM(_Corpus):
    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.language_modeling.predictor import mask_filler

        return mask_filler(self.runtime(folder, tokenizer), tokenizer, info, settings)

    def usage(self) -> str:
        return 'print(outputs["logits"].argmax(-1))  # the most likely token at each position'


class CausalLM(_Corpus):
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
