"""Build Lightning's Trainer from the composed config: hardware, trainer, logger, callbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf

from dlkit.errors import ConfigError
from dlkit.training.hooks import skip_unimplemented_hooks
from dlkit.training.precision import cpu_precision
from dlkit.training.threads import ThreadPolicy, configure


def _instantiate_all(group: Mapping[str, Any] | None) -> list:
    return [instantiate(node) for node in (group or {}).values() if node]


def build_trainer(
    cfg: DictConfig,
    run_dir: Path,
    extra_callbacks: Sequence[Callback] = (),
    evaluation: bool = False,
) -> L.Trainer:
    """`evaluation=True` gives a Trainer for the final metrics: no logger or checkpoints (only
    the progress and CPU-kernel callbacks), and `eval_precision` so the reported numbers match
    what the exported model computes."""
    skip_unimplemented_hooks()
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    options.update(OmegaConf.to_container(cfg.hardware, resolve=True))
    threads = configure(options)
    options.pop("threads", None)  # dlkit's setting, not Lightning's
    if evaluation:
        options["precision"] = cfg.eval_precision
        callbacks = _instantiate_all({k: cfg.callbacks.get(k) for k in ("progress", "cpu_linear")})
        logger: list | bool = False
    else:
        callbacks = _instantiate_all(cfg.callbacks)
        logger = _instantiate_all(cfg.logger) or False
    if options.get("accelerator") == "cpu":
        options["precision"] = cpu_precision(options.get("precision", "32-true"))
    if isinstance(options.get("strategy"), dict):  # a strategy object built by a factory (fsdp)
        options["strategy"] = instantiate(cfg.hardware.strategy)
    try:
        return L.Trainer(
            **options,
            # dlkit's datamodules shard data between processes themselves, without padding.
            use_distributed_sampler=False,
            callbacks=[threads, *callbacks, *extra_callbacks],
            logger=logger,
            default_root_dir=str(run_dir),
            enable_progress_bar=bool(cfg.callbacks.get("progress")),
        )
    except (MisconfigurationException, ValueError, RuntimeError) as err:
        raise ConfigError(
            f"The hardware profile cannot run here ({str(err).splitlines()[0]}). On a machine "
            "without GPUs use hardware=cpu or hardware=ddp_cpu."
        ) from err


def thread_policy(trainer: L.Trainer) -> ThreadPolicy | None:
    return next((c for c in trainer.callbacks if isinstance(c, ThreadPolicy)), None)
