"""Hand a subcommand's arguments to Hydra and turn dlkit's errors into messages and exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig

from dlkit.errors import DlkitError


def config_dir() -> Path:
    """Inside an installed wheel the configs ship as dlkit/configs; in a source checkout they
    are the top-level configs/. Users add their own with hydra.searchpath=[file://DIR]."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "configs", here.parent / "configs"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"dlkit's configs/ folder is missing (looked beside {here}).")


def run(fn: Callable[[DictConfig], object], argv: Sequence[str]) -> int:
    """Run `fn(cfg)` under `@hydra.main`, which gives overrides, --cfg, -m and run folders."""
    import hydra

    @hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        try:
            fn(cfg)
        except DlkitError as err:
            if os.environ.get("DLKIT_DEBUG") == "1":
                raise
            from dlkit.console import error

            error(str(err))
            sys.exit(err.exit_code)

    sys.argv = [sys.argv[0], *argv]
    _main()
    return 0
