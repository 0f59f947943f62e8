"""`dlkit tune +experiment=NAME [overrides]`: hyperparameter search with Optuna.

Optuna's own API, not Hydra's sweeper plugin: hydra-optuna-sweeper 1.3 requires optuna < 3.
Each trial composes the command line plus its sampled values with Hydra's compose API and
trains with `dlkit train`'s runner into <sweep folder>/trial_<n>/, a normal run folder. The
search space is the `tune` config group (configs/tune/), read by this command only."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from dlkit.errors import ConfigError, DlkitError

HELP = """usage: dlkit tune +experiment=NAME [overrides ...] [tune=SPACE] [tune.KEY=VALUE ...]

Searches the settings in tune.space (configs/tune/NAME.yaml when the experiment has one,
else configs/tune/default.yaml) with Optuna: tune.trials trials, each a run folder under
<run_root>/<experiment>/tune_<time>/trial_<n>/, pruned early when its validation lags.
tune.dir=<sweep folder> continues a stopped or killed search (or joins a running one).
At the end: the table of trials, best.yaml (the best settings) and plots/*.png."""


def main(argv: Sequence[str]) -> int:
    from dlkit.commands import app, collector

    collector.pause()  # the runner resumes it when a trial's work starts
    try:
        return tune(list(argv))
    except DlkitError as err:
        return app._report(err)
    except KeyboardInterrupt:  # the trial is failed and queued again: tune.dir= continues
        from dlkit import console

        console.error("Stopped. The same command with tune.dir=<its sweep folder> continues it.")
        return 130
    finally:
        collector.resume()


def split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the tune group's overrides, the trials' overrides)."""
    mine = [a for a in argv if a.lstrip("+~").split("=", 1)[0].split(".")[0] == "tune"]
    return mine, [a for a in argv if a not in mine]


def space_name(mine: Sequence[str], base: Sequence[str]) -> tuple[str, list[str]]:
    """The tune config (tune=NAME, else the experiment's own, else default) and the other
    tune overrides."""
    from dlkit.commands.app import config_dir

    chosen = [a for a in mine if a.lstrip("+").startswith("tune=")]
    rest = [a for a in mine if a not in chosen]
    if chosen:
        return chosen[-1].split("=", 1)[1], rest
    experiment = next(
        (a.split("=", 1)[1] for a in base if a.lstrip("+").startswith("experiment=")), None
    )
    own = experiment and (config_dir() / "tune" / f"{experiment}.yaml").is_file()
    return (str(experiment) if own else "default"), rest


def tune(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    flags = [a for a in argv if a.startswith("-")]
    if flags:
        raise ConfigError(
            f"dlkit tune takes overrides only, not {flags[0]}: it runs its own trials (no -m; "
            "Hydra's sweeps are `dlkit train -m`). See dlkit tune --help."
        )
    from dlkit.commands import data_check, overrides, run_dir, signatures
    from dlkit.tune import space

    mine, base = split(argv)
    name, rest = space_name(mine, base)
    cfg = overrides.check([*base, f"tune={name}", *rest])
    assert cfg is not None  # overrides only: never Hydra's alone
    source = f"configs/tune/{name}.yaml"
    spec = space.read(cfg, source)
    _check_hardware(cfg)
    _check_values(base, spec, source)
    run_dir._check_name(cfg)
    data_check.check(cfg)
    signatures.check(cfg)

    from dlkit import console
    from dlkit.tune import report, study

    folder = _sweep_folder(spec.dir, cfg)
    console.console.print(
        f"Sweep folder: [bold]{folder}[/bold] (continue a stopped search, or join it from "
        f"another process, with tune.dir={folder})"
    )
    meta = {"experiment": str(cfg.experiment_name), "overrides": base, "monitor": spec.monitor}
    optuna_study = study.open_study(spec, folder, meta)
    study.run(optuna_study, spec, folder, base)
    groups = {str(k) for k in cfg.hydra.runtime.choices}
    report.write(optuna_study, spec, folder, base, groups)
    return 0


def _check_hardware(cfg) -> None:
    """Trials run one after another inside this process: one device, one node, no launcher
    that starts processes of its own."""
    hardware = cfg.hardware
    devices, nodes = str(hardware.get("devices", 1)), str(hardware.get("num_nodes", 1))
    strategy = hardware.get("strategy", "auto")
    if devices != "1" or nodes != "1" or not isinstance(strategy, str) or "ddp" in strategy:
        raise ConfigError(
            f"dlkit tune runs its trials one after another in its own process, on one device "
            f"(this hardware has devices={devices}, num_nodes={nodes}). Use hardware=cpu or "
            "hardware=gpu; to use several GPUs, start one dlkit tune per GPU "
            "(CUDA_VISIBLE_DEVICES=N) with the same tune.dir: they share the study."
        )


def _check_values(base: Sequence[str], spec, source: str) -> None:
    """Every value the space can give passes the same type and range checks as a command
    line (a float for an int setting, a learning rate of 0), before any trial runs."""
    from dlkit.commands import overrides
    from dlkit.tune import space

    rounds = max([2, *(len(p.choices) for p in spec.params)])
    for i in range(rounds):
        values = {p.key: p.candidate(i) for p in spec.params}
        try:
            overrides.check([*base, *space.overrides(values)])
        except ConfigError as err:
            named = [p.key for p in spec.params if f"{p.key}=" in str(err)]
            where = f"tune.space.{named[0]}" if named else "tune.space"
            raise ConfigError(
                f"{where} can give a value the config refuses: {err} Narrow that distribution "
                f"({source}, or {where}.<field>=... on the command line)."
            ) from None


def _sweep_folder(given: str | None, cfg) -> Path:
    """tune.dir as given (created if new), else a new tune_<time> folder of the experiment."""
    if given:
        folder = Path(given).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"tune.dir={given}: cannot create it ({err.strerror}).") from None
        return folder
    parent = Path(str(cfg.paths.run_root)).expanduser() / str(cfg.experiment_name)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    for n in range(1000):
        folder = parent / (f"tune_{stamp}" if n == 0 else f"tune_{stamp}_{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as err:
            raise ConfigError(
                f"Cannot create the sweep folder {folder}: {err.strerror}. Point paths.run_root "
                "or tune.dir at a writable folder."
            ) from None
    raise ConfigError(f"No free sweep folder name under {parent}.")
