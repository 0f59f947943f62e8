"""The command line as a user meets it: help, exit codes and clear errors, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TINY_MODEL, write_classification_csv

HEAVY = ("torch", "lightning", "transformers", "datasets")


def dlkit(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str = ""):
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "DLKIT_CACHE_DIR": str(cwd or "."), **(env or {})},
        timeout=600,
    )


def test_help_lists_commands_without_heavy_imports() -> None:
    code = (
        "import sys; from dlkit.cli import main; main(['--help']); "
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for command in ("train", "pretrain", "finetune", "evaluate", "export", "predict"):
        assert f"  {command}" in out.stdout
    assert "HEAVY=\n" in out.stdout, out.stdout


def test_version_without_heavy_imports() -> None:
    from dlkit import __version__

    code = (
        "import sys; from dlkit.cli import main; main(['--version']); "
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"dlkit {__version__}", "HEAVY="]


def test_cfg_job_prints_the_config_without_heavy_imports(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom dlkit.cli import main\n"
        "try:\n    main(['train', '+experiment=bert_cls', '--cfg', 'job'])\n"
        "except SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert "experiment_name: bert_cls" in out.stdout
    assert "HEAVY=\n" in out.stdout, out.stdout
    assert not (tmp_path / "runs").exists()


def test_the_program_exits_after_threads_and_atexit_handlers_with_mains_code() -> None:
    """`dlkit` skips the interpreter's teardown, but nothing that teardown would do is lost."""
    code = (
        "import atexit, threading, time\n"
        "from dlkit import cli\n"
        "atexit.register(lambda: print('atexit handler ran'))\n"
        "def late():\n    time.sleep(0.2)\n    print('thread finished')\n"
        "def fake_main():\n    threading.Thread(target=late).start()\n"
        "    print('main done')\n    return 3\n"
        "cli.main = fake_main\n"
        "cli.entry()\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    assert out.stdout.splitlines() == ["main done", "thread finished", "atexit handler ran"]


def test_unknown_command_is_a_usage_error() -> None:
    result = dlkit("trian")
    assert result.returncode == 2 and "unknown command 'trian'" in result.stderr


def test_finetune_without_init_from_fails_clearly(tmp_path: Path) -> None:
    result = dlkit("finetune", "+experiment=bert_cls", cwd=tmp_path)
    assert result.returncode == 2
    assert "finetune needs model.init_from" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs" / "bert_cls").exists() or not any(
        (tmp_path / "runs" / "bert_cls").rglob("run.json")
    )


def test_export_errors_are_usage_errors(tmp_path: Path) -> None:
    missing = dlkit("export", f"run={tmp_path / 'nope'}", "format=onnx", cwd=tmp_path)
    bad_format = dlkit("export", f"run={tmp_path}", "format=tflite", cwd=tmp_path)
    for result in (missing, bad_format):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Run folder not found" in missing.stderr
    assert "format=tflite is not one of hf, onnx, torchscript" in bad_format.stderr


def test_pretrain_of_a_labelled_experiment_is_refused(tmp_path: Path) -> None:
    result = dlkit("pretrain", "+experiment=bert_cls", cwd=tmp_path)
    assert result.returncode == 2
    assert "pretrain needs a language-modelling task" in result.stderr


def test_missing_data_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "train.csv"
    result = dlkit("train", "data=text_classification", f"data.files.train={missing}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(missing) in result.stderr and "data.files.train" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_label_column_names_the_column(tmp_path: Path) -> None:
    train = write_classification_csv(tmp_path / "train.csv", 20, seed=0)
    result = dlkit(
        "train",
        *TINY_MODEL,
        "data=text_classification",
        f"data.files.train={train}",
        "data.label_column=sentiment",
        "data.max_length=32",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "no label column 'sentiment'" in result.stderr and str(train) in result.stderr
    runs = list((tmp_path / "runs").rglob("run.json"))
    assert len(runs) == 1 and '"failed"' in runs[0].read_text()


def test_cfg_job_prints_config_without_training(tmp_path: Path) -> None:
    result = dlkit("train", "+experiment=bert_cls", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0
    assert "experiment_name: bert_cls" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_user_config_folder_on_the_search_path(tmp_path: Path) -> None:
    mine = tmp_path / "my_configs" / "experiment"
    mine.mkdir(parents=True)
    (mine / "my_exp.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: cnn\nexperiment_name: my_exp\n"
    )
    result = dlkit(
        "train",
        f"hydra.searchpath=[file://{tmp_path / 'my_configs'}]",
        "+experiment=my_exp",
        "--cfg",
        "job",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "experiment_name: my_exp" in result.stdout and "name: cnn" in result.stdout
