"""Every YAML under configs/ composes with the root config (found by glob, not a list) and
passes the value-range and signature checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from dlkit.commands import ranges, signatures
from dlkit.commands.app import config_dir

CONFIGS = config_dir()
OPTIONS = sorted(p.relative_to(CONFIGS) for p in CONFIGS.glob("*/*.yaml"))


def _override(option: Path) -> str:
    group, name = option.parent.as_posix(), option.stem
    return f"+{group}={name}" if group == "experiment" else f"{group}={name}"


def test_glob_finds_every_group() -> None:
    groups = {p.parent.as_posix() for p in OPTIONS}
    assert {"model", "data", "task", "optimizer", "scheduler", "hardware", "trainer"} <= groups
    assert {"logger", "callbacks", "paths", "experiment"} <= groups


@pytest.mark.parametrize("option", OPTIONS, ids=[p.as_posix() for p in OPTIONS])
def test_every_config_composes_and_resolves(option: Path, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                _override(option),
                f"paths.output_dir={tmp_path}",
                # data/text_classification requires a training file
                f"++data.files.train={tmp_path / 'train.csv'}",
            ],
        )
    group = option.parent.as_posix()
    if group != "experiment":
        assert cfg[group] is not None
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert container["seed"] == 42
    if "sources" in cfg.data:  # a corpus has no files: the ++ above added one
        with open_dict(cfg):
            cfg.data.pop("files")
    ranges.check(cfg)  # dlkit's own configs are in range, and take only arguments their
    signatures.check(cfg)  # callables accept: the checks refuse users' mistakes, not ours


def test_root_config_composes_alone(tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=[f"paths.output_dir={tmp_path}"])
    assert cfg.model.name == "bert_tiny" and cfg.data.name == "sst2"


def test_experiment_sets_main_job(tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=bert_cls", f"paths.output_dir={tmp_path}"])
    assert cfg.experiment_name == "bert_cls"
    assert cfg.model.config.num_hidden_layers == 4 and cfg.model.config.hidden_size == 256
    assert cfg.model.tokenizer.vocab_size == 8000


def test_the_terminal_progress_bar_redraws_every_tenth_step() -> None:
    """Redrawing rich's bar on every step cost a small model 5 to 10% of its speed."""
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import RichProgressBar

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["callbacks.progress.rich=true"])
    bar = instantiate(cfg.callbacks.progress)
    assert isinstance(bar, RichProgressBar) and bar.refresh_rate == 10
