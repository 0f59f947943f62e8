"""A config mistake on the command line gets one short message and exit code 2, with no
traceback, no run folder, and without importing torch, lightning, transformers or datasets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlkit.commands.overrides import check

HEAVY = ("torch", "lightning", "transformers", "datasets")

# (command line, words the message must hold)
BAD = {
    "typo": (["train", "data.max_lenght=3"], ["data.max_length", "+data.max_lenght=3"]),
    "typo-trainer": (["train", "trainer.max_epoch=2"], ["trainer.max_epochs"]),
    "typo-none-close": (["train", "optimizer.learning_rate=1e-3"], ["lr, betas", "+optimizer"]),
    "typo-top-level": (["train", "sed=1"], ["seed"]),
    "typo-finetune": (["finetune", "model=bert_base", "model.init_fro=x"], ["model.init_from"]),
    "type-int": (["train", "trainer.max_epochs=abc"], ["whole number", "'abc'"]),
    "type-float-for-int": (["train", "seed=1.5"], ["seed", "whole number", "1.5"]),
    "type-bool-for-int": (["train", "data.batch_size=true"], ["data.batch_size", "whole number"]),
    "type-bool": (["train", "trainer.enable_model_summary=yes"], ["true or false", "'yes'"]),
    "type-list": (["train", "model=cnn", "model.config.kernel_sizes=3"], ["a list like [a,b]"]),
    "type-in-sweep": (["train", "-m", "optimizer.lr=1e-4,abc"], ["optimizer.lr", "'abc'"]),
    "option": (["train", "model=bert_tinyy"], ["bert_tiny?", "bert_base", "gpt2_small"]),
    "option-hardware": (["pretrain", "hardware=gpuu"], ["gpu?", "multi_gpu", "cpu"]),
    "option-experiment": (["train", "+experiment=bert_clss"], ["bert_cls?", "gpt_clm"]),
    "option-in-sweep": (["train", "-m", "model=cnn,bilstmm"], ["bilstmm", "bilstm?"]),
    "missing-value": (["train", "data=text_classification"], ["data.files.train=<value>"]),
    "parse": (["train", "data.batch_size==3"], ["'data.batch_size==3'", "key=value"]),
    "parse-no-value": (["train", "foo"], ["'foo'", "key=value"]),
    "sweep-without-m": (["train", "optimizer.lr=1e-4,3e-4"], ["add -m", "key=[a,b]"]),
    "evaluate": (["evaluate", "run=x", "splitt=test"], ["split?"]),
    "export": (["export", "run=x", "format=onnx", "export.tolerence=1"], ["export.tolerance"]),
    "predict": (["predict", "run=x", "input=-", "predict.batch_size=big"], ["whole number"]),
}

GOOD = {
    "experiment": ["+experiment=bert_cls"],
    "group-and-null": ["model=bert_base", "model.init_from=null"],
    "sweep": ["-m", "optimizer.lr=1e-4,3e-4"],
    "sweeps": ["--multirun", "seed=range(1,4)", "model=cnn,bilstm", "hardware=glob(cpu*)"],
    "print": ["--cfg", "job", "data=text_classification"],  # ??? is shown, not an error
    "hydra-setting": ["hydra.run.dir=/tmp/x", "hydra.job.chdir=false"],
    "new-key": ["+trainer.new_key=1", "trainer.new_key=2", "++trainer.other=x"],
    "delete": ["~callbacks.early_stopping"],
    "types": ["optimizer.lr=1", "trainer.max_epochs=null", "seed=${data.batch_size}"],
    "lightning-types": ["hardware.devices=auto", "trainer.deterministic=warn"],
    "required-set": ["data=text_classification", "data.files.train=a.csv"],
    "evaluate": ["hydra.output_subdir=null", "hydra.run.dir=.", "hydra/job_logging=stdout"],
    "predict": ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled", "input=-"],
}


def dlkit(*args: str, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "DLKIT_CACHE_DIR": str(cwd)}
    env.pop("DLKIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "DLKIT_DEBUG": "1"} if debug else env,
        timeout=120,
    )


@pytest.mark.parametrize(("argv", "words"), BAD.values(), ids=BAD.keys())
def test_bad_command_line_is_one_clear_usage_error(
    argv: list[str], words: list[str], tmp_path: Path
) -> None:
    result = dlkit(*argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message, message
    for word in words:
        assert word in message, message
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv", GOOD.values(), ids=GOOD.keys())
def test_valid_command_line_passes(argv: list[str]) -> None:
    check(argv)


def test_experiment_from_a_user_folder_on_the_search_path(tmp_path: Path) -> None:
    mine = tmp_path / "experiment"
    mine.mkdir()
    (mine / "my_exp.yaml").write_text("# @package _global_\nexperiment_name: my_exp\n")
    check([f"hydra.searchpath=[file://{tmp_path}]", "+experiment=my_exp", "seed=3"])


def test_check_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dlkit.commands.overrides import check\n"
        "from dlkit.errors import ConfigError\n"
        "check(['+experiment=bert_cls', 'trainer.max_epochs=2'])\n"
        "try:\n"
        "    check(['data.max_lenght=3'])\n"
        "except ConfigError:\n"
        "    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_dlkit_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = dlkit("export", "run=x", "export.tolerence=1", cwd=tmp_path, debug=True)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr
    assert "export.tolerance" in result.stderr
