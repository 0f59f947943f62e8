"""The data a run needs, checked on the command line before a run folder is claimed and
before torch is imported: every file the data config expects is here or has a source that
can provide it now. Offline, data that is neither here nor in the `datasets` cache is one
paragraph naming both ways to provide it, within seconds, not a traceback after retries."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dlkit import families
from dlkit.data import hub


def check(cfg: DictConfig) -> None:
    data = cfg.get("data")
    if data is None or "_target_" not in data:
        return
    family = families.of_data(str(data._target_))
    if family is None:  # a datamodule of the user's: its own checks run with the job
        return
    try:
        resolved = OmegaConf.to_container(data, resolve=True)
        cache = Path(str(cfg.paths.cache_dir)) / "datasets"
    except OmegaConfBaseException:  # resolved only inside the job (${hydra:...}): checked there
        return
    name = str(resolved.get("name") or "data")
    hub.check_ready(name, family.layout(resolved), cache)
