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


def in_place(quiet: bool = False) -> list[str]:
    """Hydra overrides for commands that work on an existing run (evaluate, export, predict):
    no run folder and no .hydra/ of their own; `quiet` keeps stdout free for their output."""
    logs = (
        ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]
        if quiet
        else ["hydra/job_logging=stdout"]
    )
    return ["hydra.output_subdir=null", "hydra.run.dir=.", *logs]


def run(
    fn: Callable[[DictConfig], object],
    argv: Sequence[str],
    prepare: Callable[[Sequence[str], DictConfig | None], list[str]] | None = None,
) -> int:
    """Run `fn(cfg)` under `@hydra.main`, which gives overrides, --cfg, -m and run folders.
    The command line is checked first, so a config mistake is one message and exit code 2
    before torch is imported or a run folder made; `prepare` (run_dir.prepare) then rewrites
    argv for Hydra, given the config the check composed."""
    from dlkit.commands import collector

    collector.pause()  # until the command's real work starts (runner.fit, predict's loop, ...)
    try:
        import hydra
        from hydra.errors import InstantiationException

        from dlkit.commands.overrides import check

        try:
            composed = check(argv)
            argv = prepare(argv, composed) if prepare else argv
        except DlkitError as err:
            return _report(err)

        @hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
        def _main(cfg: DictConfig) -> None:
            try:
                fn(cfg)
            except DlkitError as err:
                sys.exit(_report(err))
            except InstantiationException as err:  # a constructor refused its settings
                if not isinstance(err.__cause__, DlkitError):
                    raise
                sys.exit(_report(err.__cause__))

        if _rank() > 0:  # one set of logs and configs per run: rank zero's
            argv = [*argv, "hydra.output_subdir=null", "hydra/job_logging=stdout"]
        sys.argv = [sys.argv[0], *argv]
        _main()
        return 0
    finally:
        collector.resume()


def _report(err: DlkitError) -> int:
    """One paragraph on stderr and the error's exit code; the traceback with DLKIT_DEBUG=1."""
    if os.environ.get("DLKIT_DEBUG") == "1":
        raise err
    from dlkit.console import error

    error(str(err))
    return err.exit_code


def _rank() -> int:
    """This process's rank as torchrun, srun or Lightning's own launcher set it."""
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0
