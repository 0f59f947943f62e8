"""`dlkit evaluate run=<folder> [ckpt=<file>] [split=test | data.files.eval=<file>]`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict

from dlkit.commands import app
from dlkit.commands.trained import run_config
from dlkit.errors import ConfigError, RunFolderError
from dlkit.runs.folder import open_run


def evaluate(cfg: DictConfig) -> dict[str, float]:
    if not cfg.get("run") and not cfg.get("ckpt"):
        raise ConfigError("evaluate needs run=<run folder> (or ckpt=<checkpoint file>).")
    ckpt = Path(cfg.ckpt).expanduser() if cfg.get("ckpt") else None
    if ckpt is not None and not ckpt.is_file():
        raise RunFolderError(f"Checkpoint not found: {ckpt}. Pass ckpt=<an existing .ckpt file>.")
    run = open_run(cfg.run if cfg.get("run") else ckpt.parent.parent)

    eval_file = cfg.data.files.get("eval")
    split = "eval" if eval_file else cfg.split
    if split not in ("validation", "test", "eval"):
        raise ConfigError(f"split={split} is not one of validation, test.")

    # The trained run's own config, with this command's data file, hardware and paths.
    saved = run_config(run, cfg)
    if split == "test" and "files" not in saved.data:
        raise ConfigError(
            f"split=test: {run.path} was trained on '{saved.data.get('name')}', which has no "
            "test split (its held-out text is the validation split). Use split=validation."
        )
    with open_dict(saved):
        saved.callbacks = {"progress": cfg.callbacks.get("progress")}
        for key in ("limit_val_batches", "limit_test_batches"):
            if saved.trainer.get(key) == 0:  # a run trained without it: evaluate the split whole
                saved.trainer[key] = None
        if eval_file:
            if "files" not in saved.data:
                raise ConfigError(
                    f"data.files.eval needs a run on labelled files; {run.path} was trained on "
                    f"'{saved.data.name}'. Use split=validation instead."
                )
            saved.data.files.eval = eval_file

    from dlkit import console
    from dlkit.commands import components
    from dlkit.commands.runner import evaluate_splits
    from dlkit.export.hf import label_names

    parts = components.build(saved, splits=(split,), label_names=label_names(run.model_dir))
    if not parts.data.has(split):
        raise ConfigError(f"The run's data config has no '{split}' file; set data.files.{split}.")
    if ckpt is not None:
        from dlkit.runs import checkpoint

        checkpoint.check_matches(checkpoint.load(ckpt)["state_dict"], parts.task, ckpt)
    metrics = evaluate_splits(saved, run.path, parts, (split,), str(ckpt) if ckpt else None)[split]
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    if rank_zero_only.rank == 0:  # under DDP every process has the reduced metrics
        name = Path(eval_file).stem if eval_file else split
        source = parts.data.files_used().get(split, parts.data.name)
        notes = parts.task.results_notes()
        out = run.write_eval(name, {"split": split, "source": source, **metrics, **notes})
        console.metrics_table(f"{name} metrics", metrics)
        console.console.print(f"Written: {out}")
        predictions = parts.task.predictions()
        if predictions:  # e.g. SQuAD's {id: answer}, for the official evaluation script
            console.console.print(f"Written: {run.write_eval(f'{name}.predictions', predictions)}")
    return metrics


def main(argv: Sequence[str]) -> int:
    return app.run(evaluate, [*app.in_place(), *argv])
