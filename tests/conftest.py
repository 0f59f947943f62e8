"""Fixtures: tiny generated data and the real root config, shrunk for a 2-core CPU."""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

# `make test` runs two xdist workers on two cores: one thread each (and in every dlkit process
# they start), so that no thread spins at a barrier waiting for a core the other worker holds.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from dlkit.commands.app import config_dir  # noqa: E402

POSITIVE = ["good", "great", "excellent", "fun", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "boring", "dull", "poor", "terrible"]
FILLER = ["the", "film", "was", "a", "plot", "actors", "story", "quite", "really", "movie"]


def write_classification_csv(path: Path, rows: int, seed: int) -> Path:
    """Sentences whose label is decided by one sentiment word among filler words."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(rows):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(FILLER, k=rng.randint(3, 8))
            words.insert(
                rng.randrange(len(words) + 1), rng.choice(POSITIVE if label == "pos" else NEGATIVE)
            )
            writer.writerow([" ".join(words), label])
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    return {
        "train": write_classification_csv(root / "train.csv", 256, seed=1),
        "validation": write_classification_csv(root / "dev.csv", 64, seed=2),
        "test": write_classification_csv(root / "test.csv", 64, seed=3),
    }


TINY_MODEL = [
    "model=bert_tiny",
    "model.config.hidden_size=32",
    "model.config.num_hidden_layers=1",
    "model.config.num_attention_heads=2",
    "model.config.intermediate_size=64",
    "model.config.max_position_embeddings=64",
    "model.tokenizer.vocab_size=120",
]


def tiny_overrides(data: dict[str, Path], workdir: Path) -> list[str]:
    return [
        *TINY_MODEL,
        "data=text_classification",
        f"data.files.train={data['train']}",
        f"data.files.validation={data['validation']}",
        f"data.files.test={data['test']}",
        "data.batch_size=16",
        "data.max_length=32",
        "optimizer.lr=5e-3",
        "trainer.max_epochs=6",
        "trainer.log_every_n_steps=4",
        "trainer.enable_model_summary=false",
        "callbacks.progress.rich=false",
        f"paths.run_root={workdir / 'runs'}",
        f"paths.cache_dir={workdir / 'cache'}",
    ]


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose the real root config; the run folder is tmp_path/run."""

    def _compose(overrides: list[str], run_dir: Path | None = None) -> DictConfig:
        run_dir = run_dir or tmp_path / "run"
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=[*overrides, f"paths.output_dir={run_dir}"])

    return _compose


def compose_root(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.fixture(scope="session")
def trained(tiny_data, tmp_path_factory) -> tuple[Path, dict]:
    """One tiny classification run shared by the tests that read a finished run."""
    from dlkit.commands.train import train

    work = tmp_path_factory.mktemp("work")
    run_dir = work / "runs" / "tiny"
    overrides = [*tiny_overrides(tiny_data, work), "keep_best_ckpt=true"]
    results = train(compose_root([*overrides, f"paths.output_dir={run_dir}"]))
    return run_dir, results
