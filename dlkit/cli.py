"""Thin entry point: pick the subcommand, import its module by name, hand the rest to Hydra.

Only the standard library is imported here, so `dlkit --help` answers at once.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading

COMMANDS = {
    "train": "train whatever the experiment declares (e.g. +experiment=bert_cls)",
    "pretrain": "masked- or causal-LM pretraining from raw text (+experiment=bert_mlm)",
    "finetune": "train starting from model.init_from (hub name, HF model dir or dlkit run)",
    "evaluate": "compute a run's metrics on a split or file: run=<folder> [split=test]",
    "export": "verified hf/onnx/torchscript (+int8) export: run=<folder> format=onnx",
    "predict": "batch inference to JSONL: run=<run or export folder> input=<file or ->",
    "data": "the data configs, their files (present or missing) and sources; data get NAME",
    "runs": "list, show, compare and plot run folders: runs list [EXPERIMENT] --sort val/acc",
    "tune": "hyperparameter search with Optuna over tune.space (+experiment=bert_cls)",
}

# Lightning's DDP launcher re-executes this script for ranks > 0 with Hydra arguments only;
# the subcommand travels to those children in this variable.
_COMMAND_ENV = "DLKIT_COMMAND"

HELP = """usage: dlkit <command> [hydra overrides ...]    (dlkit --version)

Commands:
{commands}

Everything after the command goes to Hydra: overrides (trainer.max_steps=30),
+experiment=NAME, --cfg job, -m (multirun), hydra.run.dir=...
Run `dlkit <command> --help` for the composed config groups."""


def _help() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS.items()]
    return HELP.format(commands="\n".join(lines))


def _default_data_root() -> None:
    """The Makefile's rule, so that a command typed by hand reads the data `make train` read:
    ../shared/data beside the clone when it exists, unless $DLKIT_DATA_DIR says otherwise (the
    configs fall back to ./data)."""
    shared = os.path.join("..", "shared", "data")
    if "DLKIT_DATA_DIR" not in os.environ and os.path.isdir(shared):
        os.environ["DLKIT_DATA_DIR"] = os.path.abspath(shared)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _default_data_root()
    if argv and argv[0] in COMMANDS:
        command, rest = argv[0], argv[1:]
    elif os.environ.get(_COMMAND_ENV) in COMMANDS and "LOCAL_RANK" in os.environ:
        command, rest = os.environ[_COMMAND_ENV], argv
    elif not argv or argv[0] in ("-h", "--help", "help"):
        print(_help())
        return 0
    elif argv[0] in ("-V", "--version"):
        from dlkit import __version__

        print(f"dlkit {__version__}")
        return 0
    else:
        print(f"dlkit: unknown command '{argv[0]}'.\n\n{_help()}", file=sys.stderr)
        return 2
    os.environ[_COMMAND_ENV] = command
    module = importlib.import_module(f"dlkit.commands.{command}")
    return module.main(rest)


def entry() -> None:
    """The `dlkit` program: main(), then leave without the interpreter's teardown, which frees
    every module, tensor and Arrow map one by one (0.6 to 0.9 s after a training run) where the
    OS reclaims the whole process at once. What teardown would still do for us is done first:
    other threads finish, atexit handlers run (log files, DataLoader workers), streams flush."""
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
