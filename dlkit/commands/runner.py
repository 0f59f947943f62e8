"""The one runner: every subcommand builds components, then calls a Trainer method."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from dlkit import console
from dlkit.commands import collector, components
from dlkit.errors import ConfigError, Preempted
from dlkit.export.hf import save_model_dir
from dlkit.runs import checkpoint, disk, liveness, plots, provenance
from dlkit.runs.folder import RunFolder
from dlkit.training.logs import tame_lightning_logs
from dlkit.training.metrics_csv import MetricsCSV
from dlkit.training.state import ResumeState
from dlkit.training.stops import FiniteLoss, Preemption, ValidateAtEnd
from dlkit.training.throughput import Throughput
from dlkit.training.trackers import finish_trackers
from dlkit.training.trainer import build_trainer, thread_policy


def command_line(command: str) -> list[str]:
    return ["dlkit", command, *sys.argv[1:]]


def check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"Cannot write the run folder {path}: {err.strerror}. Point paths.run_root (or "
            "hydra.run.dir) at a writable folder with free space."
        ) from err
    if shutil.disk_usage(path).free < 100 * 2**20:
        raise ConfigError(
            f"Less than 100 MiB free under {path}; free space or move paths.run_root."
        )


def fit(cfg: DictConfig, command: str) -> dict[str, Any]:
    """Fit (or, with `resume`, continue from checkpoints/last.ckpt), validate the best
    checkpoint, test where a labelled test split exists, and write the whole run folder.
    Returns results.json's content."""
    started = time.perf_counter()
    tame_lightning_logs()
    run = RunFolder(cfg.paths.output_dir)
    resume_from, saved = checkpoint.resumable(run, cfg) if cfg.get("resume") else (None, {})
    rank_zero = rank_zero_only.rank == 0
    resumed, parts = False, None
    if rank_zero:
        check_writable(run.path)
        console.run_summary(cfg, command, str(run.path))
        if not resume_from:
            run.config_file.write_text(OmegaConf.to_yaml(cfg, resolve=True))
            run.start(
                command=command_line(command),
                experiment=cfg.experiment_name,
                seed=cfg.seed,
                git_commit=provenance.git_commit(),
                versions=provenance.package_versions(),
                **liveness.owner(),  # so `dlkit runs` can tell a killed run from a running one
            )
    try:
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        throughput = Throughput()  # the Trainer first: a hardware mistake shows before data work
        stops = [ResumeState(), Preemption(run.last_checkpoint), FiniteLoss(), ValidateAtEnd()]
        trainer = build_trainer(cfg, run.path, [throughput, *stops])
        components.check_positions(cfg)
        parts = components.build(cfg)
        if resume_from:
            checkpoint.check_matches(saved["state_dict"], parts.task, resume_from)
            if rank_zero:  # recorded once the resume is sure to happen
                run.resume(step=int(saved["global_step"]), command=command_line(command))
                resumed = True
        if rank_zero:
            batch = _effective_batch(parts.data.batch_size, trainer)
            if batch["effective"] != batch["per_device"]:
                console.console.print(
                    f"Effective batch size {batch['effective']} = {batch['per_device']} per "
                    f"device x {batch['devices']} devices x {batch['nodes']} nodes x "
                    f"{batch['accumulation']} accumulated"
                )
            adjusted = _record_adjustments(cfg, run, parts.task.model, trainer, resume_from)
            run.update(
                adjusted=adjusted,
                data_files=provenance.data_files(parts.data.files_used(), cfg.paths.cache_dir),
                data=parts.data.describe(),
                labels=parts.data.label_names,
                init=getattr(parts.task.model, "dlkit_init", None),
                batch_size=batch,
                **liveness.owner(),  # a resumed run's process is a new one
                threads=thread_policy(trainer).record(),
            )
        collector.resume()
        trainer.fit(parts.task, datamodule=parts.data, ckpt_path=resume_from, weights_only=True)
        _save_atomically(trainer, run.last_checkpoint)  # the final state
        if rank_zero:
            run.update(threads=thread_policy(trainer).record())  # with the changes while training
        best = _best_checkpoint(trainer)
        metrics = evaluate_splits(cfg, run.path, parts, ("validation", "test"), best)
        if trainer.is_global_zero:
            _log_final(trainer, run.path, metrics)
        results = {
            "experiment": cfg.experiment_name,
            **metrics,  # the weights "evaluated" names, evaluated again after training
            **parts.task.results_notes(),
            "monitor": cfg.task.monitor,
            **_describe_weights(_best_position(best), trainer, cfg.eval_precision),
            "global_step": trainer.global_step,
            "samples_per_second": round(throughput.samples_per_second, 2),
            "train_seconds": round(throughput.train_seconds, 2),
            "wall_seconds": round(time.perf_counter() - started, 2),
        }
        if trainer.is_global_zero:
            save_model_dir(parts.task.model, parts.tokenizer, run.model_dir)
            parts.task.write_artifacts(run.path, parts.tokenizer)
            if best and not cfg.get("keep_best_ckpt"):  # model/ holds its weights
                Path(best).unlink(missing_ok=True)
            run.finish(results)
            plots.write_run_plots_safely(run.path)  # plots/: loss, validation, lr (PNG)
            finish_trackers(trainer.loggers, run.path, results)  # MLflow / W&B, if chosen
            for split in ("validation", "test"):
                if split in results:
                    console.metrics_table(f"{split} metrics", results[split])
            console.console.print(f"Run folder: [bold]{run.path.resolve()}[/bold]")
        return results
    except Preempted:
        if rank_zero:
            run.update(status="preempted", preempted=_saved_step(run))
        raise
    except BaseException as err:
        if rank_zero and (resumed or not resume_from):  # a refused resume changes nothing
            disk.fail(run, err)
        if disk.is_full(err):
            raise disk.full_error(run.path, parts.task.model if parts else None) from err
        raise


def _record_adjustments(cfg, run: RunFolder, model, trainer, resume_from) -> dict:
    """Settings that did not run as written (the precision this machine runs, a loaded model's
    own architecture): config.yaml gets what ran, run.json both, and the console says so."""
    asked = OmegaConf.to_container(cfg, resolve=True)
    config = model.config.to_dict()
    loaded = bool(cfg.model.get("init_from"))
    adjusted = provenance.adjustments(asked, str(trainer.precision), config, loaded)
    for key, change in adjusted.items():
        if change["why"] != "this machine":  # the precision check has said so
            console.console.print(
                f"[yellow]{key}={change['asked']} ran as {change['ran']} ({change['why']}); "
                "config.yaml records what ran.[/yellow]"
            )
        OmegaConf.update(cfg, key, change["ran"], force_add=True)
    if adjusted and not resume_from:
        run.config_file.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return adjusted


def _save_atomically(trainer: L.Trainer, path: Path) -> None:
    """A full disk leaves the previous checkpoint whole, not a truncated one."""
    partial = path.with_name(path.name + ".partial")
    try:
        trainer.save_checkpoint(partial, weights_only=False)
        if trainer.is_global_zero:
            os.replace(partial, path)
    finally:
        if trainer.is_global_zero:
            partial.unlink(missing_ok=True)


def _log_final(trainer: L.Trainer, run_dir: Path, metrics: dict[str, dict[str, float]]) -> None:
    """metrics.csv ends with the final metrics, so every run has one, even a run shorter than
    log_every_n_steps."""
    final = {f"final_{split}/{k}": v for split, row in metrics.items() for k, v in row.items()}
    logger = next((lg for lg in trainer.loggers if isinstance(lg, MetricsCSV)), None)
    logger = logger or MetricsCSV(str(run_dir))
    logger.log_metrics(final, step=trainer.global_step - 1)  # Lightning's step index
    logger.save()


def _effective_batch(per_device: int, trainer: L.Trainer) -> dict[str, int]:
    devices, nodes = trainer.num_devices, trainer.num_nodes
    accumulation = trainer.accumulate_grad_batches
    return {
        "per_device": per_device,
        "devices": devices,
        "nodes": nodes,
        "accumulation": accumulation,
        "effective": per_device * devices * nodes * accumulation,
    }


def _saved_step(run: RunFolder) -> int | None:
    return checkpoint.step(run.last_checkpoint) if run.last_checkpoint.is_file() else None


def evaluate_splits(
    cfg: DictConfig,
    run_dir: Path,
    parts: components.Components,
    splits: tuple[str, ...],
    ckpt: str | None,
) -> dict[str, dict[str, float]]:
    """Metrics per split, without the stage prefix: {"validation": {"acc": ...}}."""
    collector.resume()  # `dlkit evaluate`'s work starts here (after fit's it already runs)
    tame_lightning_logs()
    trainer = build_trainer(cfg, run_dir, evaluation=True)
    out: dict[str, dict[str, float]] = {}
    for split in splits:
        if not parts.data.has(split):
            continue
        loader = parts.data.split_dataloader(split)
        method = trainer.validate if split == "validation" else trainer.test
        results = method(
            parts.task, dataloaders=loader, ckpt_path=ckpt, verbose=False, weights_only=True
        )
        if not results:  # trainer.limit_{val,test}_batches=0: the split is not evaluated
            continue
        out[split] = {k.split("/", 1)[1]: round(float(v), 6) for k, v in results[0].items()}
    return out


def _best_checkpoint(trainer: L.Trainer) -> str | None:
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback else ""
    return path or None


def _best_position(path: str | None) -> dict[str, Any] | None:
    """Step, epoch and monitored value (as validation during training saw it) of best.ckpt."""
    if not path or not os.path.isfile(path):
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    callbacks = state.get("callbacks", {}).items()
    score = next((v.get("best_model_score") for k, v in callbacks if "ModelCheckpoint" in k), None)
    return {
        "step": state.get("global_step"),
        "epoch": state.get("epoch"),
        "value": None if score is None else round(float(score), 6),
    }


def _describe_weights(
    best: dict[str, Any] | None, trainer: L.Trainer, eval_precision: str
) -> dict[str, Any]:
    """results.json's account of the figures: which weights the final metrics (and model/,
    and exports) come from, and the monitored value during training, which can differ a
    little from the final one (training precision versus eval_precision)."""
    if best is None:
        evaluated = {"weights": "last", "step": trainer.global_step, "epoch": trainer.current_epoch}
        during = None
    else:
        evaluated = {"weights": "best", "step": best["step"], "epoch": best["epoch"]}
        during = {"value": best["value"], "step": best["step"], "precision": str(trainer.precision)}
    return {
        "evaluated": {**evaluated, "precision": eval_precision},
        "best_during_training": during,
    }
