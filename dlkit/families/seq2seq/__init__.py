"""Sequence to sequence (translation, summarization): an encoder-decoder model generates the
target text from the source text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected, split_files
from dlkit.families.family import Family, Predictor
from dlkit.families.seq2seq.sides import is_table, target_file


class Seq2Seq(Family):
    def layout(self, data: Mapping[str, Any]) -> list[Expected]:
        """Every split's file and, for parallel text, its target side too (local only)."""
        expected = []
        langs = (data.get("source_lang"), data.get("target_lang"))
        for item in split_files(data.get("files"), data.get("hub")):
            expected.append(item)
            parallel = item.path and not is_table(item.path) and all(langs)
            if parallel and item.present and str(item.path).endswith(f".{langs[0]}"):
                other = str(target_file(item.path, *langs))
                setting = f"{item.setting} (its .{langs[1]} side)"
                expected.append(Expected(f"{item.key} target", setting, other, None))
        return expected

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        from dlkit.families.seq2seq.writer import write

        write(data, dataset, path, Path(str(item.path)).expanduser(), item.setting)

    def prepare_model(self, model: Any, tokenizer: Any) -> Any:
        """A model built here from a config starts its decoder with </s> (BART's convention;
        mBART's training shift wraps a target's last token, its </s>, to the front) and stops
        at </s>; a loaded model keeps its own."""
        from transformers import GenerationConfig

        if getattr(model, "dlkit_init", None) is None:
            config = model.config
            config.decoder_start_token_id = tokenizer.eos_token_id
            config.pad_token_id = tokenizer.pad_token_id
            config.eos_token_id = tokenizer.eos_token_id
            config.bos_token_id = None
            if hasattr(config, "forced_eos_token_id"):
                config.forced_eos_token_id = tokenizer.eos_token_id
            model.generation_config = GenerationConfig.from_model_config(config)
        return model

    def model_inputs(self, model: Any, tokenizer: Any) -> list[str]:
        """The labels too: the model shifts them into the decoder's inputs, so parity
        compares the teacher-forced logits of every target position."""
        from dlkit.families.seq2seq.batches import MODEL_INPUTS

        return list(MODEL_INPUTS)

    def input_columns(self, data: Mapping[str, Any]) -> list[str]:
        return [str(data.get("source_column") or "source")]

    def serving(self, data: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
        return {"source_prefix": str(data.get("source_prefix") or "")}

    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        from dlkit.families.seq2seq.predictor import generator

        return generator(self.load_model(folder), tokenizer, info)


FAMILY = Seq2Seq(
    name="seq2seq",
    auto_class="AutoModelForSeq2SeqLM",
    # None: transformers 5 removed its translation, summarization and text2text-generation
    # pipelines; model.generate with the saved generation config gives dlkit predict's text.
    pipeline_task=None,
    data_targets=("dlkit.families.seq2seq.data.Seq2SeqData",),
    # Generation is a loop around the decoder, which one graph does not hold: hf only.
    formats=("hf",),
)
