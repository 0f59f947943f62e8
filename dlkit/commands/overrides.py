"""Check a command line against the composed config before anything heavy is imported.

Hydra answers a typo, an unknown config option or a missing value with its own multi-line
report and exit code 1, and a value of the wrong type not at all: `trainer.max_epochs=abc`
fails only once Lightning starts, after the run folder exists. `check` composes the config
Hydra is about to compose and raises a `ConfigError` (exit code 2) naming the setting and the
fix. It imports hydra and omegaconf only, so the answer comes at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, QuotedString
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dlkit.commands import ranges
from dlkit.commands.app import config_dir
from dlkit.errors import ConfigError

# Hydra's flags: those followed by a value, plain switches, and those after which the command
# prints instead of running (a `???` left in the config is then something to look at).
_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p"}
_SWITCHES = {"-m", "--multirun", "--run", "-r", "--resolve", "--info", "-i"}
_SWITCHES |= {"--help", "-h", "--hydra-help"}
_PRINT_ONLY = {"--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help"}
# What Hydra runs; it takes one of these only.
_MODES = {"-m": "--multirun", "--multirun": "--multirun", "-r": "--run", "--run": "--run"}
_MODES |= {"-c": "--cfg", "--cfg": "--cfg", "-i": "--info", "--info": "--info"}
_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
# Lightning takes these in more than one type: devices=2, [0,1] or auto; deterministic=warn.
_ANY_TYPE = {"hardware.devices", "trainer.deterministic"}
_LISTED = 12  # names shown in one message before "and N more"


def check(argv: Sequence[str]) -> DictConfig | None:
    """Raise ConfigError where Hydra would reject argv's overrides, or where the job would
    start with a setting of the wrong type or without a required (`???`) value. Returns the
    composed config with its `hydra` node (None for a command line that is Hydra's alone), so
    that what runs before Hydra (the run folder's checks) need not compose it again."""
    split = _split(argv)
    if split is None:
        return None
    lines, multirun, print_only = split
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        try:
            cfg = _compose(lines, multirun)
        except OverrideParseException as err:
            raise ConfigError(
                f"Cannot read the override '{err.override}': write key=value "
                "(data.batch_size=32), +key=value to add a key, or ~key to delete one."
            ) from err
        except (HydraException, OmegaConfBaseException) as err:
            raise ConfigError(_one_paragraph(err)) from err
        except yaml.YAMLError as err:  # a config file of the user's that does not parse
            raise ConfigError(
                f"A config file is not valid YAML: {' '.join(str(err).split())}. Fix that file "
                "(or remove it from hydra.searchpath)."
            ) from err
    missing = [] if print_only else list(_missing(cfg, ""))
    if missing:
        raise ConfigError(
            f"No value for {_listing(missing)} (??? in the config). Set it on the command "
            f"line, e.g. {missing[0]}=<value>."
        )
    _check_pairing(cfg)
    if not print_only:
        ranges.check(cfg)
    return cfg


def _check_pairing(cfg: DictConfig) -> None:
    """The task's family must train on the chosen data: say which data configs it takes
    (and which tasks take this data) before anything is built."""
    from dlkit import families

    task, data = cfg.get("task"), cfg.get("data")
    if task is None or data is None or "_target_" not in data:
        return
    family = families.of_task(task)
    if data._target_ in family.data_targets:
        return
    choices = cfg.hydra.runtime.choices if "hydra" in cfg else {}
    data_name = choices.get("data") or data.get("name")
    task_name = choices.get("task") or task.get("name")
    fits = _options("data", lambda node: node.get("_target_") in family.data_targets)
    takers = _options(
        "task",
        lambda node: data._target_ in families.get(str(node.get("family"))).data_targets,
    )
    raise ConfigError(
        f"task={task_name} ({family.name}) cannot train on data={data_name}: it takes "
        f"data={' or data='.join(fits) or '<a data config of its own>'}. "
        + (f"For this data use task={' or task='.join(takers)}." if takers else "")
    )


def _options(group: str, fits: Any) -> list[str]:
    """The names of a config group's options (dlkit's own) whose YAML passes `fits`."""
    return sorted(
        path.stem for path in (config_dir() / group).glob("*.yaml") if fits(OmegaConf.load(path))
    )


def _split(argv: Sequence[str]) -> tuple[list[str], bool, bool] | None:
    """The overrides, whether it is a multirun and whether it only prints. None for a flag
    this module does not know (--config-dir, -cn, ...): that command line is Hydra's alone."""
    overrides: list[str] = []
    flags: set[str] = set()
    i = 0
    while i < len(argv):
        arg, i = argv[i], i + 1
        if not arg.startswith("-"):
            overrides.append(arg)
            continue
        flag = arg.split("=", 1)[0]
        if flag not in _VALUE_FLAGS | _SWITCHES:
            return None
        flags.add(flag)
        takes_next = flag in _VALUE_FLAGS or (
            flag in ("--info", "-i") and i < len(argv) and argv[i] in _INFO_TOPICS
        )
        if takes_next and "=" not in arg:
            i += 1
    modes = {_MODES[f] for f in flags if f in _MODES}
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(sorted(modes))} cannot be combined: give only one.")
    return overrides, "--multirun" in modes, bool(flags & _PRINT_ONLY)


Entry = tuple[Override, str | None, list[Any]]  # an override, its line to compose, its values


def _compose(lines: list[str], multirun: bool) -> DictConfig:
    """Check every override, then compose as Hydra will (a sweep with its first value)."""
    loader = GlobalHydra.instance().config_loader()
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(lines)
    entries = [_entry(override, multirun) for override in parsed]
    composed = [line for _, line, _ in entries if line is not None]
    try:
        defaults = loader.compute_defaults_list("config", composed, RunMode.RUN)
    except MissingConfigException as err:
        if err.options is None:
            raise
        group, _, name = (err.missing_cfg_file or "").rpartition("/")
        where = next((o.input_line for o, _, _ in entries if o.key_or_group == group), None)
        line = where or str(err).split(": ")[0]  # else named in a config: "In 'experiment/x'"
        raise ConfigError(_unknown_option(line, group, name, err.options)) from err
    settings = {o.input_line for o in defaults.config_overrides}
    groups = [entry for entry in entries if entry[1] is not None and entry[1] not in settings]
    for override, _, values in groups:
        if len(values) > 1:  # a multirun over options: the first one is known to exist
            options = loader.get_group_options(
                override.key_or_group, config_name="config", overrides=composed
            )
            unknown = next((str(v) for v in values if str(v) not in options), None)
            if unknown is not None:
                raise ConfigError(
                    _unknown_option(override.input_line, override.key_or_group, unknown, options)
                )
    # The config the settings change: options chosen, no value set yet.
    searchpath = [line for o, line, _ in entries if line and o.key_or_group == "hydra.searchpath"]
    chosen = [line for _, line, _ in groups] + searchpath
    values = [entry for entry in entries if entry[1] is None or entry[1] in settings]
    if values:
        _check_settings(compose("config", overrides=chosen, return_hydra_config=True), values)
    return compose("config", overrides=composed, return_hydra_config=True)


def _entry(override: Override, multirun: bool) -> Entry:
    """A sweep composes with its first value and has each of its values type-checked."""
    if not override.is_sweep_override():
        return override, override.input_line, [_plain(override.value())]
    if not multirun:
        raise ConfigError(
            f"{override.input_line} gives several values: add -m to run one job per value, or "
            "write key=[a,b] for a list, or key='a,b' for a string."
        )
    if not override.is_discrete_sweep():  # interval(): a sweeper plugin samples it
        return override, None, []
    first = next(override.sweep_string_iterator())
    values = [_plain(v) for v in override.sweep_iterator()]
    return override, f"{override.get_key_element()}={first}", values


def _check_settings(base: DictConfig, entries: list[Entry]) -> None:
    """Each key set must exist in base (unless added with + or ++ earlier on the line) and
    each value must have its default's type."""
    added: list[str] = []
    for override, _, values in entries:
        key = override.key_or_group
        if override.is_delete() or any(key == a or key.startswith(f"{a}.") for a in added):
            continue
        if override.is_add() or override.is_force_add():
            added.append(key)
        if override.is_add():
            continue
        found = _locate(base, override)
        if found is None or key in _ANY_TYPE:
            continue
        for value in values:
            problem = _type_problem(*found, value)
            if problem:
                raise ConfigError(f"{override.input_line}: {key} {problem}.")


def _plain(value: Any) -> Any:
    """A parsed value as the config will hold it (a quoted string is a string)."""
    return value.text if isinstance(value, QuotedString) else value


def _locate(cfg: DictConfig, override: Override) -> tuple[DictConfig, str] | None:
    """The node holding the override's key and the key's last part; None where only Hydra's
    composition can tell (inside a list or an interpolation) and for a new `++key`. Raises for
    a key that is not there, naming the nearest ones."""
    parts = override.key_or_group.split(".")
    node: Any = cfg
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth])
        if isinstance(node, ListConfig):
            return None
        if not isinstance(node, DictConfig):
            raise ConfigError(
                f"{override.input_line}: {where} holds a single value ({node}), not a group "
                f"of settings, so it has no key '{part}'."
            )
        keys = [str(k) for k in node]
        if part not in keys:
            if override.is_force_add():
                return None
            owner = where or "the config"
            near = difflib.get_close_matches(part, keys, n=3)
            named = [f"{where}.{k}" if where else k for k in near]
            hint = f"Did you mean {' or '.join(named)}?" if near else f"It has {_listing(keys)}."
            raise ConfigError(
                f"{override.input_line}: {owner} has no key '{part}'. {hint} To add a new key, "
                f"write +{override.input_line}."
            )
        if depth == len(parts) - 1:
            return node, part
        if OmegaConf.is_missing(node, part) or OmegaConf.is_interpolation(node, part):
            return None
        node = node[part]
    return None


def _type_problem(parent: DictConfig, key: str, value: Any) -> str | None:
    """What is wrong with value where the default is parent[key], or None. Anything goes for
    a string, null or ??? default, null anywhere, and an int where a float is expected."""
    if OmegaConf.is_missing(parent, key) or OmegaConf.is_interpolation(parent, key):
        return None
    default = parent[key]
    if value is None or default is None or isinstance(default, str):
        return None
    if isinstance(value, str) and "${" in value:
        return None  # an interpolation, resolved later
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, bool):
        ok, wanted = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, wanted = number and isinstance(value, int), "a whole number"
    elif isinstance(default, float):
        ok, wanted = number, "a number"
    elif isinstance(default, ListConfig):
        ok, wanted = isinstance(value, list), "a list like [a,b]"
    elif isinstance(default, DictConfig):
        ok, wanted = isinstance(value, dict), "settings like {key: value}"
    else:
        return None
    was = "" if isinstance(default, (ListConfig, DictConfig)) else f"; default {_shown(default)}"
    return None if ok else f"takes {wanted}, not {_shown(value)} (null also works{was})"


def _shown(value: Any) -> str:
    """A value as it is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def _unknown_option(line: str, group: str, name: str, options: Sequence[str]) -> str:
    near = difflib.get_close_matches(name, options, n=1)
    ordered = near + [o for o in options if o not in near]
    guess = f" Did you mean {near[0]}?" if near else ""
    own = (
        ""
        if group.startswith("hydra/")
        else f" Your own: DIR/{group}/NAME.yaml with hydra.searchpath=[file:///abs/DIR]."
    )
    return (
        f"{line}: there is no {group} config '{name}'.{guess} Available: {_listing(ordered)}.{own}"
    )


def _missing(node: DictConfig | ListConfig, path: str) -> Iterator[str]:
    """Dotted keys whose value is `???`; interpolations are not resolved (some need Hydra's
    runtime, which exists only once the job runs), and Hydra's own node is Hydra's to fill."""
    keys = range(len(node)) if isinstance(node, ListConfig) else node.keys()
    for key in keys:
        if not path and key == "hydra":
            continue
        full = f"{path}.{key}" if path else str(key)
        if OmegaConf.is_missing(node, key):
            yield full
        elif not OmegaConf.is_interpolation(node, key):
            child = node[key]
            if isinstance(child, (DictConfig, ListConfig)):
                yield from _missing(child, full)


def _listing(names: Sequence[str]) -> str:
    more = len(names) - _LISTED
    return ", ".join(names[:_LISTED]) + (f" and {more} more" if more > 0 else "")


def _one_paragraph(err: BaseException) -> str:
    """Hydra's own message (or that of the OmegaConf error it wraps) on one line."""
    text = str(err) or str(err.__cause__ or "") or type(err).__name__
    lines = [line.strip() for line in text.split("Config search path:")[0].splitlines()]
    kept = [line for line in lines if line and not line.startswith(("object_type=", "See https"))]
    return " ".join(kept)
