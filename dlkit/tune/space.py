"""The `tune` config group read into a checked search space: one message naming the key and
the fix for any mistake, before a sweep folder, a study or a trial exists."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlkit.errors import ConfigError

KINDS = ("float", "int", "categorical")
_FIELDS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
# Settings a trial must not change: where runs go, the study itself, Hydra's own.
_FORBIDDEN = ("tune", "hydra", "paths", "experiment_name", "resume", "run")
_SHAPES = (
    "{type: float, low: L, high: H, log: false}, {type: int, low: L, high: H} or "
    "{type: categorical, choices: [a, b]}"
)
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")


@dataclass(frozen=True)
class Param:
    """One searched setting: its dotted config key and distribution."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()
    group: bool = False  # a config group's option (optimizer=sgd), not a value

    def suggest(self, trial: Any) -> Any:
        """The trial's value (an enqueued trial's fixed one where it has it)."""
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            step = 1 if self.step is None else int(self.step)
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_categorical(self.key, list(self.choices))

    def candidate(self, i: int) -> Any:
        """The i-th value the space can give, to type-check it before any trial runs."""
        if self.kind == "categorical":
            return self.choices[i % len(self.choices)]
        return self.low if i % 2 == 0 else self.high


@dataclass
class Spec:
    """The whole `tune` node, checked."""

    trials: int
    direction: str  # maximize | minimize
    monitor: str
    params: list[Param]
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    dir: str | None = None
    source: str = "configs/tune/default.yaml"


def read(cfg: DictConfig, source: str) -> Spec:
    """The checked spec of cfg.tune; `source` (the tune config's file) goes into messages."""
    node = OmegaConf.to_container(cfg.tune, resolve=True)
    if not isinstance(node, dict):
        raise ConfigError(f"tune is {node!r}, not a group of settings; see {source}.")
    known = {"trials", "direction", "dir", "sampler", "pruner", "enqueue", "space"}
    unknown = sorted(set(node) - known)
    if unknown:
        raise ConfigError(
            f"tune has no setting {', '.join(unknown)}; it takes {', '.join(sorted(known))} "
            f"(see {source})."
        )
    trials = node.get("trials")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(
            f"tune.trials={trials!r}: the number of completed or pruned trials the study ends "
            "with must be a whole number of at least 1, e.g. tune.trials=20."
        )
    monitor = str(cfg.task.monitor)
    params = list(_params(node.get("space") or {}, "", cfg, source))
    if not params:
        raise ConfigError(
            f"tune.space is empty: nothing to search. Give at least one key, e.g. "
            f"+tune.space.optimizer.lr={{type:float,low:1e-5,high:1e-2,log:true}}, or fill "
            f"the space in {source}."
        )
    return Spec(
        trials=trials,
        direction=_direction(node.get("direction"), cfg),
        monitor=monitor,
        params=params,
        sampler=_choice("sampler", node.get("sampler"), SAMPLERS, source),
        pruner=_choice("pruner", node.get("pruner"), PRUNERS, source),
        enqueue=_enqueue(node.get("enqueue"), params),
        dir=None if node.get("dir") in (None, "") else str(node["dir"]),
        source=source,
    )


def _direction(value: Any, cfg: DictConfig) -> str:
    if value is None:
        mode = str(cfg.task.get("monitor_mode", "min"))
        return "maximize" if mode == "max" else "minimize"
    named = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
    if str(value) not in named:
        raise ConfigError(
            f"tune.direction={value!r}: write maximize or minimize, or null to follow "
            f"task.monitor_mode ({cfg.task.get('monitor_mode')} for {cfg.task.monitor})."
        )
    return named[str(value)]


def _choice(what: str, node: Any, names: tuple[str, ...], source: str) -> dict[str, Any]:
    node = dict(node or {})
    name = str(node.get("name", names[0])).lower()
    if name not in names:
        raise ConfigError(
            f"tune.{what}.name={node.get('name')!r}: dlkit knows {' and '.join(names)}. "
            f"Write e.g. tune.{what}.name={names[0]} (see {source})."
        )
    for key, value in node.items():
        if key not in ("name", "seed") and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ConfigError(
                f"tune.{what}.{key}={value!r} must be a whole number of at least 0 (see {source})."
            )
    return {**node, "name": name}


def _enqueue(node: Any, params: list[Param]) -> list[dict[str, Any]]:
    """Settings to try first, as {dotted key: value}; nested mappings are flattened."""
    if node in (None, []):
        return []
    if not isinstance(node, list) or not all(isinstance(item, dict) for item in node):
        raise ConfigError(
            f"tune.enqueue={node!r}: write a list of settings, e.g. "
            "tune.enqueue=[{optimizer.lr:5e-4}]."
        )
    keys = {p.key for p in params}
    out = []
    for item in node:
        flat = dict(_flatten(item, ""))
        stray = sorted(set(flat) - keys)
        if stray:
            raise ConfigError(
                f"tune.enqueue gives {', '.join(stray)}, which tune.space does not search "
                f"(it searches {', '.join(sorted(keys))}). Enqueue only keys of the space."
            )
        out.append(flat)
    return out


def _flatten(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{full}.")
        else:
            yield full, value


def _params(node: Any, prefix: str, cfg: DictConfig, source: str) -> Iterator[Param]:
    """Walk the nested space: a mapping with a string `type` is a distribution."""
    if not isinstance(node, dict):
        raise ConfigError(
            f"tune.space{'.' + prefix[:-1] if prefix else ''} is {node!r}: write config keys "
            f"nested as in the config, each ending in a distribution: {_SHAPES}."
        )
    for key, value in node.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            yield _param(full, value, cfg, source)
        elif isinstance(value, dict):
            yield from _params(value, f"{full}.", cfg, source)
        else:
            raise ConfigError(
                f"tune.space.{full} is {value!r}, not a distribution. Write {_SHAPES} "
                f"(in {source}, or tune.space.{full}={{type:float,low:...,high:...}})."
            )


def _param(key: str, node: dict[str, Any], cfg: DictConfig, source: str) -> Param:
    where = f"tune.space.{key}"
    kind = str(node["type"]).lower()
    if kind not in KINDS:
        near = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" Did you mean {near[0]}?" if near else ""
        raise ConfigError(
            f"{where}.type={node['type']!r} is not a distribution dlkit knows: write "
            f"float, int or categorical.{hint} ({source})"
        )
    stray = sorted(set(node) - _FIELDS[kind])
    if stray:
        raise ConfigError(
            f"{where}: a {kind} distribution takes {', '.join(sorted(_FIELDS[kind]))}, not "
            f"{', '.join(stray)} ({source})."
        )
    group = _check_key(key, cfg, source)
    if kind == "categorical":
        choices = node.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(
                f"{where}.choices={choices!r}: a categorical distribution needs a non-empty "
                f"list, e.g. {where}.choices=[16,32,64] ({source})."
            )
        odd = [c for c in choices if c is not None and not isinstance(c, (bool, int, float, str))]
        if odd:
            raise ConfigError(
                f"{where}.choices holds {odd[0]!r}: each choice must be one value (a number, "
                f"a string, true/false or null); search list-valued settings key by key."
            )
        if group is not None:
            options = sorted(p.stem for p in group.glob("*.yaml"))
            missing = [str(c) for c in choices if str(c) not in options]
            if missing:
                raise ConfigError(
                    f"{where}.choices names {', '.join(missing)}, which the config group {key} "
                    f"does not have; it has {', '.join(options)}."
                )
        return Param(key, kind, choices=tuple(choices), group=group is not None)
    if group is not None:
        raise ConfigError(
            f"{where}: {key} is a config group; search its options with {{type: categorical, "
            f"choices: [...]}}, or a number inside it ({key}.<setting>)."
        )
    low, high, step, log = node.get("low"), node.get("high"), node.get("step"), node.get("log")
    number = (int,) if kind == "int" else (int, float)
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            article = "a whole number" if kind == "int" else "a number"
            raise ConfigError(
                f"{where}.{name}={value!r}: a {kind} distribution needs {article} for both low "
                f"and high, e.g. {where}.{name}=... ({source})."
            )
    if low >= high:
        raise ConfigError(f"{where}: low={low} must be below high={high} ({source}).")
    if log not in (None, True, False):
        raise ConfigError(f"{where}.log={log!r}: write true or false ({source}).")
    if log and low <= 0:
        raise ConfigError(
            f"{where}: a log distribution needs low > 0 (it has low={low}); raise low or write "
            f"log: false ({source})."
        )
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, number) or step <= 0:
            raise ConfigError(f"{where}.step={step!r} must be a positive number ({source}).")
        if log and (kind == "float" or step != 1):
            raise ConfigError(
                f"{where}: Optuna takes step or log, not both; drop one of them ({source})."
            )
    return Param(key, kind, low=low, high=high, log=bool(log), step=step)


def _check_key(key: str, cfg: DictConfig, source: str) -> Any:
    """Raise for a key the config has not; return a config group's folder when the key names
    a group (the space then picks among its options)."""
    from dlkit.commands.app import config_dir

    where = f"tune.space.{key}"
    if key.split(".")[0] in _FORBIDDEN:
        raise ConfigError(
            f"{where}: {key.split('.')[0]} is not a setting a trial may change (each trial "
            "is a run folder of the sweep); search training settings only."
        )
    node: Any = cfg
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, DictConfig) or part not in node:
            parent = ".".join(parts[:depth])
            keys = [str(k) for k in node] if isinstance(node, DictConfig) else []
            near = difflib.get_close_matches(part, keys, n=3)
            named = [f"{parent}.{k}" if parent else k for k in near]
            hint = f" Did you mean {' or '.join(named)}?" if near else ""
            raise ConfigError(
                f"{where}: the config has no setting {key}.{hint} Fix the key in {source} or "
                f"drop it with ~{where}; `dlkit train --cfg job` shows every setting."
            )
        node = node[part]
    folder = config_dir() / key
    choices = cfg.hydra.runtime.choices if "hydra" in cfg else {}
    return folder if "." not in key and key in choices and folder.is_dir() else None


_PLAIN = re.compile(r"[A-Za-z_][\w\-./]*")


def override_value(value: Any) -> str:
    """A value as a Hydra override writes it, read back as the same type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    keywords = ("true", "false", "null", "nan", "inf", "none")
    if _PLAIN.fullmatch(text) and text.lower() not in keywords:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overrides(params: Mapping[str, Any]) -> list[str]:
    """key=value overrides of a trial's sampled values."""
    return [f"{key}={override_value(value)}" for key, value in params.items()]
