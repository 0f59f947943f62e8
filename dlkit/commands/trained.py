"""A finished run as evaluate, export and predict use it: its own config (with this command's
paths and hardware), its model and its tokenizer."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict

from dlkit.runs.folder import RunFolder


def saved_config(run: RunFolder, cfg: DictConfig) -> DictConfig:
    """The run's config.yaml as data: only classes dlkit's config groups name, and code from
    the folder only if this command's line has trust_remote_code=true."""
    from dlkit.commands.app import config_dir
    from dlkit.runs.trust import check_model_code, known_targets, read_saved_config

    trusted = bool(cfg.get("trust_remote_code"))
    saved = read_saved_config(run.path, known_targets(config_dir()), trusted)
    check_model_code(run.model_dir, trusted)
    return saved


def run_config(run: RunFolder, cfg: DictConfig) -> DictConfig:
    saved = saved_config(run, cfg)
    with open_dict(saved):
        saved.trust_remote_code = bool(cfg.get("trust_remote_code"))
        saved.model.init_from = str(run.model_dir)
        saved.hardware = cfg.hardware
        saved.paths = cfg.paths
        saved.eval_precision = cfg.eval_precision
    return saved


def serving_info(saved: DictConfig) -> dict:
    """What inference needs beyond the model folder; export.json records it for exports."""
    from dlkit import families

    family = families.of_task(saved.task)
    data = saved.data
    return {
        "family": family.name,
        "text_columns": family.input_columns(data),
        "max_length": int(data.get("max_length") or data.get("block_size") or 512),
        **family.serving(data, saved.task),
    }


def load_tokenizer(folder: Path):
    from dlkit.models.tokenizer import load_pretrained

    return load_pretrained(str(folder))


def quiet_libraries() -> None:
    """No per-file progress bars from transformers and datasets around a command's own output."""
    import datasets
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    datasets.disable_progress_bars()
