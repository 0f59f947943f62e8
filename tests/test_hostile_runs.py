"""A run folder is data: crafted folders that would run code if their config were
instantiated, or their model's own modules imported, are refused by evaluate, export and
predict (exit 2, naming the key), and the code never runs (no marker file appears)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "evaluate": lambda run, work: ["evaluate", f"run={run}"],
    "export": lambda run, work: ["export", f"run={run}", "format=onnx"],
    "predict": lambda run, work: ["predict", f"run={run}", f"input={work / 'in.txt'}"],
}


class _Touch:
    """Unpickling this runs os.system: what a pickle beside a config could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _edit_config(run: Path, change: Callable[[dict], None]) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    change(config)
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def _pickle_beside(run: Path, marker: Path) -> str:
    path = run / "state.pkl"
    path.write_bytes(pickle.dumps(_Touch(marker)))
    _edit_config(
        run,
        lambda c: c.update(
            optimizer={"_target_": "torch.load", "f": str(path), "weights_only": False}
        ),
    )
    return "optimizer._target_=torch.load"


def _remote_code(run: Path, marker: Path) -> str:
    """model/ names a module of its own (auto_map) and the saved config asks to trust it."""
    (run / "model" / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from transformers import BertConfig\n"
        "class EvilConfig(BertConfig):\n    pass\n"
    )
    config = json.loads((run / "model" / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
    (run / "model" / "config.json").write_text(json.dumps(config))
    _edit_config(
        run, lambda c: c.update(trust_remote_code=True) or c["model"].update(trust_remote_code=True)
    )
    return "auto_map"


def _target(where: str, node: dict) -> Callable[[Path, Path], str]:
    def setup(run: Path, marker: Path) -> str:
        filled = json.loads(json.dumps(node).replace("MARKER", str(marker)))

        def change(config: dict) -> None:
            parent, _, key = where.rpartition(".")
            holder = config[parent] if parent else config
            holder[key] = filled

        _edit_config(run, change)
        return f"{where}"

    return setup


HOSTILE: dict[str, Callable[[Path, Path], str]] = {
    "torch.load of a pickle": _pickle_beside,
    "os.system": _target("optimizer", {"_target_": "os.system", "_args_": ["touch MARKER"]}),
    "subprocess.run": _target(
        "scheduler", {"_target_": "subprocess.run", "args": ["touch", "MARKER"]}
    ),
    "builtins.exec": _target(
        "optimizer", {"_target_": "builtins.exec", "_args_": ["open(r'MARKER', 'w').close()"]}
    ),
    "builtins.open": _target("optimizer", {"_target_": "builtins.open", "_args_": ["MARKER", "w"]}),
    "a target nested in a list": _target(
        "data.extra", [{"_target_": "os.system", "_args_": ["touch MARKER"]}]
    ),
    "AutoConfig with remote code": _target(
        "data",
        {
            "_target_": "transformers.AutoConfig.from_pretrained",
            "pretrained_model_name_or_path": "MARKER",
            "trust_remote_code": True,
        },
    ),
    "the folder's auto_map with a saved trust_remote_code": _remote_code,
}


def _dlkit(argv: list[str], work: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlkit", *argv],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
        env={
            **os.environ,
            "DLKIT_CACHE_DIR": str(work / "cache"),
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
        },
    )


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_run_folder_is_refused(trained, tmp_path: Path, case: str) -> None:
    """evaluate, export and predict, two at a time (one thread each: no spinning)."""
    (tmp_path / "in.txt").write_text("a fine film\n")
    argvs, named, markers = {}, {}, {}
    for command, argv in COMMANDS.items():
        run = tmp_path / f"run_{command}"
        shutil.copytree(trained[0], run)
        markers[command] = tmp_path / f"ran_{command}"
        named[command] = HOSTILE[case](run, markers[command])
        argvs[command] = argv(run, tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda argv: _dlkit(argv, tmp_path), argvs.values())
        results = dict(zip(argvs, done, strict=True))
    for command, result in results.items():
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert named[command] in result.stderr, (command, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        assert not markers[command].exists(), f"{command} ran the folder's code"


def test_trust_on_the_command_line_is_what_lets_code_run(trained, tmp_path: Path) -> None:
    """The refusals above are dlkit's doing: the same folder, trusted on the command line,
    runs the code (so the marker checks can fail). Hydra's own block list (os.system,
    builtins.exec, ...) would stop some of the cases; not builtins.open."""
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    HOSTILE["builtins.open"](run, marker)
    _dlkit(["evaluate", f"run={run}", "trust_remote_code=true"], tmp_path)
    assert marker.exists()


def test_torchscript_export_is_loaded_only_when_trusted(trained, tmp_path: Path) -> None:
    export = tmp_path / "ts"
    export.mkdir()
    (export / "export.json").write_text(
        json.dumps(
            {
                "format": "torchscript",
                "family": "sequence_classification",
                "input_names": ["input_ids"],
                "text_columns": ["text"],
                "max_length": 8,
            }
        )
    )
    (tmp_path / "in.txt").write_text("a fine film\n")
    result = _dlkit(["predict", f"run={export}", f"input={tmp_path / 'in.txt'}"], tmp_path)
    assert result.returncode == 2
    assert "TorchScript" in result.stderr and "trust_remote_code=true" in result.stderr
