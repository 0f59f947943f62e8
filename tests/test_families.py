"""Every registered task family, composed and instantiated with every data config it declares
(found by glob); every other pairing refused by the command-line check, before training."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from dlkit import families
from dlkit.commands.app import config_dir
from dlkit.commands.overrides import check
from dlkit.data.base import PreparedData
from dlkit.errors import ConfigError
from tests.conftest import compose_root

CONFIGS = config_dir()
TASKS = {p.stem: OmegaConf.load(p) for p in sorted((CONFIGS / "task").glob("*.yaml"))}
DATA = {p.stem: OmegaConf.load(p) for p in sorted((CONFIGS / "data").glob("*.yaml"))}
PAIRS = [(t, d) for t in TASKS for d in DATA]
FITTING = [p for p in PAIRS if DATA[p[1]]._target_ in families.of_task(TASKS[p[0]]).data_targets]
OTHERS = [p for p in PAIRS if p not in FITTING]


def test_every_family_has_a_task_config_and_data_to_train_on() -> None:
    named = {str(task.family) for task in TASKS.values()}
    assert named == set(families.FAMILIES)
    assert {task for task, _ in FITTING} == set(TASKS)


@pytest.mark.parametrize(("task", "data"), FITTING, ids=[f"{t}+{d}" for t, d in FITTING])
def test_a_declared_pairing_composes_and_instantiates(task: str, data: str, tmp_path) -> None:
    overrides = [f"task={task}", f"data={data}"]
    if "files" in DATA[data]:  # configs for your own files leave the training file to you
        overrides.append(f"++data.files.train={tmp_path / 'train'}")
    check(overrides)  # the command-line check lets it through
    cfg = compose_root([*overrides, f"paths.output_dir={tmp_path}"])
    datamodule = instantiate(cfg.data, cache_dir=str(tmp_path), _convert_="all")
    assert isinstance(datamodule, PreparedData)
    family = families.of_task(cfg.task)
    assert f"{type(datamodule).__module__}.{type(datamodule).__name__}" in family.data_targets
    labels = {"label_names": ["O", "B-X"]} if "label_names" in _parameters(cfg.task.module) else {}
    module = instantiate(cfg.task.module, model=nn.Linear(2, 2), optimizer=None, **labels)
    assert module.model.training
    assert family.auto().__name__ == family.auto_class
    assert family.exports()[0] == "hf"


@pytest.mark.parametrize(("task", "data"), OTHERS, ids=[f"{t}+{d}" for t, d in OTHERS])
def test_an_undeclared_pairing_is_refused_before_training(task: str, data: str) -> None:
    with pytest.raises(ConfigError, match=f"task={task} .* cannot train on data={data}"):
        check([f"task={task}", f"data={data}", "++data.files.train=x"])


def test_an_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="task.family=tagging is not a task family; known: "):
        check(["task.family=tagging"])


def _parameters(node) -> set[str]:
    import inspect

    from hydra.utils import get_class

    return set(inspect.signature(get_class(node._target_)).parameters)
