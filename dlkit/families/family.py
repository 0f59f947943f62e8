"""What commands, the runner and export ask of a task family: they never branch on its name.

Importing this module (and a family package's `__init__`) imports the standard library only,
so the command-line check can refuse a task and data pairing before torch is loaded; a
family's heavy parts (data, LightningModule, predictor) are imported when first used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected, split_files

# A batch of input rows (each the texts of one row) to one JSON-ready record per row.
Predictor = Callable[[list[list[Any]]], Iterator[dict]]
Outputs = dict[str, Any]  # output name -> numpy array


@dataclass(frozen=True)
class Family:
    """One task family. `data_targets` are the datamodule classes (a data config's
    `_target_`) its LightningModule trains on; `outputs` are the model outputs an export keeps;
    `quality` names the metric an int8 export is judged by (None: no int8 export), which
    `score` computes from the batch entries `score_keys` names."""

    name: str
    auto_class: str  # the transformers Auto class that loads its model/ folder
    pipeline_task: str | None  # the transformers.pipeline task its model/ folder serves
    data_targets: tuple[str, ...]
    outputs: tuple[str, ...] = ("logits",)
    formats: tuple[str, ...] = ("hf", "onnx", "torchscript")
    quality: str | None = None
    score_keys: tuple[str, ...] = ("labels",)  # what `score` reads of a validation batch
    pretrains: bool = False  # `dlkit pretrain` trains it (from raw text)
    models_module: str | None = None  # importing it registers dlkit's own architectures

    # -- models --------------------------------------------------------------------------
    def auto(self) -> Any:
        import transformers

        if self.models_module:
            importlib.import_module(self.models_module)
        return getattr(transformers, self.auto_class)

    def prepare_model(self, model: Any, tokenizer: Any) -> Any:
        """A freshly built model's last step before training; the tokenizer is known now."""
        return model

    def load_model(self, folder: Path) -> Any:
        from dlkit.errors import RunFolderError

        try:
            return self.auto().from_pretrained(folder)
        except Exception as err:  # a damaged file of a user's folder: truncated, not weights
            raise RunFolderError(
                f"Cannot load the model in {folder}: {' '.join(str(err).split())[:400]}. Its "
                "files are damaged or not a model; copy the folder again, or re-run training "
                "or export to rebuild it."
            ) from err

    # -- data ----------------------------------------------------------------------------
    def layout(self, data: Mapping[str, Any]) -> list[Expected]:
        """The files a (resolved) data config expects and where each comes from when it is
        absent: `files.<split>`, else split `hub.splits.<split>` of `hub.path`."""
        return split_files(data.get("files"), data.get("hub"))

    def write_local(
        self, data: Mapping[str, Any], item: Expected, dataset: Any, path: Path
    ) -> None:
        """`dlkit data get`: a hub split (a `datasets.Dataset`) written to `path` as the
        local file `item` that this family's reader takes."""
        raise NotImplementedError(f"{self.name} cannot write hub data as local files")

    # -- exports -------------------------------------------------------------------------
    def exports(self) -> list[str]:
        """Export names it supports: a format, or `<format>-int8` where quality can judge it."""
        int8 = [f"{f}-int8" for f in self.formats if f != "hf"] if self.quality else []
        return [*self.formats, *int8]

    def score(
        self, batches: Sequence[Mapping[str, Any]], outputs: Sequence[Outputs], labels: list[str]
    ) -> float:
        """The quality metric (0 to 1) on labelled batches (their `score_keys`: `labels`, ids
        into `labels`) from these outputs."""
        raise NotImplementedError(f"{self.name} has no quality metric for int8 exports")

    def readme_encodings(self, manifest: Mapping[str, Any]) -> str:
        """Python lines for an ONNX export's README that set `encodings` (a list of
        `tokenizers` Encodings, one per model row) for an example input."""
        texts = '["EU rejects German call", "a gripping, funny film"]'
        return f"encodings = tokenizer.encode_batch({texts})"

    def usage(self) -> str:
        """Python lines for an export's README that turn `outputs` (name -> array) and the
        `labels` of config.json into answers."""
        return "print({name: array.shape for name, array in outputs.items()})"

    # -- serving -------------------------------------------------------------------------
    def input_columns(self, data: Mapping[str, Any]) -> list[str]:
        """The input file's columns `dlkit predict` reads, from the run's data config."""
        return [c for c in (data.get("text_column"), data.get("text_pair_column")) if c]

    def serving(self, data: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
        """Settings of the run's data and task config its predictor needs beyond the model
        folder and max_length; recorded in an export's export.json."""
        return {}

    def model_inputs(self, model: Any, tokenizer: Any) -> list[str]:
        """The batch entries the model is called with: the tokenizer's outputs its forward
        takes (input_ids, attention_mask, ...)."""
        from dlkit.export.graph import graph_inputs

        return graph_inputs(model, list(tokenizer.model_input_names))

    def runtime(self, folder: Path, tokenizer: Any) -> Any:
        """The model of a run's model/ or of any export folder, called one way (numpy in,
        named numpy outputs out)."""
        from dlkit.export.runtime import Eager, load

        if (folder / "export.json").is_file():
            return load(folder, self.load_model)
        model = self.load_model(folder)
        return Eager(model, self.model_inputs(model, tokenizer), list(self.outputs))

    def predictor(self, folder: Path, info: dict, tokenizer: Any, settings: Any) -> Predictor:
        """Raw model outputs to user-facing records, for a model or export folder."""
        raise NotImplementedError
