"""Wire data, tokenizer, model and task together from the composed config."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hydra.utils import instantiate
from lightning import LightningDataModule, LightningModule
from omegaconf import DictConfig, OmegaConf
from transformers import PreTrainedTokenizerBase

from dlkit import families
from dlkit.errors import ConfigError
from dlkit.models.build import build_model
from dlkit.models.tokenizer import load_pretrained, train_tokenizer
from dlkit.runs.folder import model_source


@dataclass
class Components:
    data: LightningDataModule
    tokenizer: PreTrainedTokenizerBase
    task: LightningModule


def build(
    cfg: DictConfig,
    splits: tuple[str, ...] = ("train", "validation", "test"),
    label_names: list[str] | None = None,
) -> Components:
    """`label_names` fixes the label set, as when evaluating a trained model."""
    init_from = model_source(cfg.model.init_from) if cfg.model.init_from else None
    data = load_data(cfg, splits, label_names)
    tokenizer = tokenizer_for(cfg, data, init_from)
    data.tokenize(tokenizer)

    names = data.label_names  # empty for tasks without labels (language modelling)
    labels = (
        {
            "num_labels": len(names),
            "id2label": dict(enumerate(names)),
            "label2id": {name: i for i, name in enumerate(names)},
        }
        if names
        else {}
    )
    family = families.of_task(cfg.task)
    model = build_model(
        auto=family.auto(),
        arch=cfg.model.arch,
        architecture=OmegaConf.to_container(cfg.model.config, resolve=True),
        init_from=init_from,
        vocab_size=len(tokenizer),
        trust_remote_code=bool(cfg.get("trust_remote_code")),
        init_config=OmegaConf.to_container(cfg.model.init_config, resolve=True)
        if cfg.model.get("init_config")
        else {},
        special_ids={
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        **labels,
    )
    model = family.prepare_model(model, tokenizer)
    task = instantiate(
        cfg.task.module,
        model=model,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        **({"label_names": names} if names else {}),
    )
    task.compile_forward = bool(cfg.get("compile"))  # Task.on_fit_start applies it
    task.tokenizer = tokenizer
    return Components(data=data, tokenizer=tokenizer, task=task)


def load_data(
    cfg: DictConfig, splits: tuple[str, ...], label_names: list[str] | None = None
) -> LightningDataModule:
    """The data module with its raw splits read and checked; `tokenize` comes next."""
    data = instantiate(cfg.data, cache_dir=cfg.paths.cache_dir, _convert_="all")
    data.load(splits, label_names=label_names)
    return data


def check_positions(cfg: DictConfig) -> None:
    """Before training: a loaded model's position embeddings cover data.max_length (a scratch
    model's are checked with the command line)."""
    if not cfg.model.get("init_from"):
        return
    config_file = Path(model_source(cfg.model.init_from)) / "config.json"
    if not config_file.is_file():
        return  # a hub name: known once downloaded
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{config_file} is not valid JSON ({err}); the model folder is damaged."
        ) from None
    positions = config.get("max_position_embeddings") or config.get("n_positions")
    for key in ("max_length", "block_size"):
        length = cfg.data.get(key)
        if isinstance(positions, int) and isinstance(length, int) and length > positions:
            raise ConfigError(
                f"data.{key}={length} exceeds the {positions} positions of the model loaded "
                f"from {config_file.parent}: set data.{key}={positions} or lower."
            )


def tokenizer_for(cfg: DictConfig, data, init_from: str | None) -> PreTrainedTokenizerBase:
    """The run's tokenizer: the loaded model's, a named one, or one trained on `data`."""
    spec = cfg.model.tokenizer
    remote_code = bool(cfg.get("trust_remote_code"))
    if init_from:
        return load_pretrained(init_from, remote_code)
    if spec.name_or_path:
        return load_pretrained(spec.name_or_path, remote_code)
    return train_tokenizer(
        spec.get("kind", "wordpiece"),
        data.train_texts,  # read twice (key and alphabet, then training), never held
        vocab_size=spec.vocab_size,
        lowercase=spec.lowercase,
        cache_dir=Path(cfg.paths.cache_dir),
        max_length=spec.get("max_length", 512),
        texts_key=data.train_texts_key(),
    )
