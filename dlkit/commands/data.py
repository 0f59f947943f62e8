"""`dlkit data`: every data config dlkit knows, the files it expects under the data root,
where each comes from and whether it is here. `dlkit data get NAME` writes NAME's files into
the data root from their hub source, in the layout the config reads.

Configs are composed with Hydra, never instantiated: the listing imports neither torch nor
`datasets`. What a config expects and how a hub split becomes its local file is its task
family's to say."""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dlkit import families
from dlkit.commands.app import _report, config_dir
from dlkit.data import hub
from dlkit.data.layout import Expected
from dlkit.errors import ConfigError, DataError, DlkitError

USAGE = """usage: dlkit data [overrides ...]            the data configs, their files and sources
       dlkit data get NAME [overrides ...]   write NAME's files into the data root from the hub

Overrides: paths.data_dir=DIR (default $DLKIT_DATA_DIR or ./data), data.hub.path=<hub id or
a folder written by `datasets`' save_to_disk>, data.files.<split>=FILE."""
_APPEARED = "{} appeared while it was written; it was left as it is."


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if argv and argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    try:
        if argv and argv[0] == "get":
            return get(argv[1:])
        return listing(argv)
    except DlkitError as err:
        return _report(err)


# -- composing ----------------------------------------------------------------------------
def names() -> list[str]:
    return sorted(path.stem for path in (config_dir() / "data").glob("*.yaml"))


def compose(names_: Sequence[str], overrides: Sequence[str]) -> dict[str, DictConfig]:
    """The root config with data=<name>, for each name."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    from dlkit.commands.overrides import _one_paragraph

    configs = {}
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for name in names_:
            try:
                configs[name] = hydra_compose("config", overrides=[f"data={name}", *overrides])
            except (HydraException, OmegaConfBaseException) as err:
                line = " ".join([f"data={name}", *overrides])
                raise ConfigError(f"{line}: {_one_paragraph(err)}") from err
    return configs


def _data(cfg: DictConfig) -> dict[str, Any]:
    try:
        return OmegaConf.to_container(cfg.data, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"data={cfg.data.get('name')}: {' '.join(str(err).split())}") from err


def _layout(data: dict[str, Any]) -> list[Expected]:
    family = families.of_data(str(data.get("_target_")))
    return family.layout(data) if family else []


# -- dlkit data ----------------------------------------------------------------------------
def listing(overrides: Sequence[str]) -> int:
    configs = compose(names(), overrides)
    root = Path(str(next(iter(configs.values())).paths.data_dir)).expanduser().absolute()
    rows = [("data", "file", "status", "comes from")]
    for name, cfg in configs.items():
        expected = _layout(_data(cfg))
        if not expected:
            rows.append((name, "data.files.*", "-", "your own files (data.files.train=<file>)"))
        for i, item in enumerate(expected):
            rows.append((name if i == 0 else "", *_row(item, root)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"Data root: {root}  (paths.data_dir=..., or $DLKIT_DATA_DIR)\n")
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]))
    print(
        "\nA missing file with a hub source is loaded from the hub when a run needs it (cached "
        "by `datasets`).\n`dlkit data get NAME` writes NAME's missing files into the data root."
    )
    return 0


def _row(item: Expected, root: Path) -> tuple[str, str, str]:
    if item.path is None:
        shown, status = f"({item.setting}: no local file)", "-"
    else:
        path = Path(item.path).expanduser().absolute()
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        status = "present" if item.present else "missing"
    source = f"hub {item.hub}" if item.hub else "local only"
    return shown, status, source


# -- dlkit data get ------------------------------------------------------------------------
def get(argv: Sequence[str]) -> int:
    known = names()
    if not argv or "=" in argv[0] or argv[0].startswith("-"):
        raise ConfigError(f"dlkit data get needs a data config name: one of {', '.join(known)}.")
    name, overrides = argv[0], list(argv[1:])
    if name not in known:
        raise ConfigError(
            f"There is no data config '{name}'. Known: {', '.join(known)} (`dlkit data` lists "
            "them with their files)."
        )
    cfg = compose([name], overrides)[name]
    data = _data(cfg)
    family = families.of_data(str(data.get("_target_")))
    expected = _layout(data)
    wanted = [e for e in expected if e.hub and e.path and not glob.has_magic(e.path)]
    if family is None or not wanted:
        raise DataError(
            f"data={name} names no public source for its files: provide them yourself "
            "(data.files.<split>=<file>), or give one with data.hub.path=<hub id or folder>."
        )
    existing = [str(Path(e.path).expanduser()) for e in wanted if e.present]
    if existing:
        raise DataError(
            f"Not writing data={name}: {', '.join(existing)} already exist, and `dlkit data get` "
            "never replaces a file. Remove them to fetch them again, or set "
            "paths.data_dir=<another folder>."
        )
    cache = Path(str(cfg.paths.cache_dir)) / "datasets"
    loaded = {}  # every split first: a source that fails leaves no file half the set
    for item in wanted:
        try:
            loaded[item.key] = hub.load(item.hub, cache)
        except hub.HubUnavailable as err:
            raise DataError(hub.unavailable(name, expected, err.reason, cache)) from None
    for item in wanted:
        target = Path(item.path).expanduser()
        dataset = loaded[item.key]
        _write_new(target, functools.partial(family.write_local, data, item, dataset))
        print(f"{name}: wrote {target} ({len(dataset)} rows of {item.hub})")
    absent = [str(e.path) for e in expected if e.hub is None and e.path and not e.present]
    if absent:
        print(f"{name}: not fetched, no public source known: {', '.join(absent)}.")
    return 0


def _write_new(target: Path, write: Callable[[Path], None]) -> None:
    """Written beside the target, then linked into place: never half a file, and never over
    a file that appeared meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.partial{target.suffix}")
    try:
        write(partial)
        try:
            os.link(partial, target)
        except FileExistsError:
            raise DataError(_APPEARED.format(target)) from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise DataError(_APPEARED.format(target)) from None
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
