"""MLflow and Weights & Biases as Lightning loggers that know the run folder.

Each tracker run gets the run's resolved config as params, the run folder's path as a tag and,
when the run completes, `model/`, `plots/` and the final metrics. The tracker's run id is kept
in the run folder (trackers.json), so `resume=` continues the same tracker run instead of
opening a second one with half the curve.
"""

from __future__ import annotations

import importlib.util
import netrc
import os
import secrets
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.loggers import MLFlowLogger, WandbLogger
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities.rank_zero import rank_zero_only, rank_zero_warn

from dlkit.errors import ConfigError
from dlkit.runs.folder import flatten, read_json, write_json
from dlkit.training import wandb_files

TRACKERS_JSON = "trackers.json"
_MLFLOW_PARAM_LENGTH = 6000  # MLflow refuses longer param values
_MLFLOW_BATCH = 100  # params per log_batch call, MLflow's limit


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"logger={extra} needs the {module} package, which is not installed. Install it "
            f"with pip install 'dlkit[{extra}]' (or pip install {module}), or leave {extra} out "
            "of logger=."
        )


def _saved_ids(run_dir: Path) -> dict[str, Any]:
    path = run_dir / TRACKERS_JSON
    fix = f"delete {path} to start new tracker runs for this run folder."
    return read_json(path, fix) if path.is_file() else {}


def _remember(run_dir: Path, name: str, ids: dict[str, Any]) -> None:
    write_json(run_dir / TRACKERS_JSON, {**_saved_ids(run_dir), name: ids})


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _final_metrics(results: dict[str, Any]) -> dict[str, float]:
    """results.json's split sections as final_<split>/<name>, the names metrics.csv uses."""
    return {
        f"final_{split}/{name}": float(value)
        for split, row in results.items()
        if isinstance(row, dict) and split in ("validation", "test")
        for name, value in row.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


class MLflowTracker(MLFlowLogger):
    """Lightning's MLFlowLogger with a local SQLite store under the run root by default
    (MLflow 3 refuses its old file store), run ids kept for resume."""

    def __init__(
        self,
        run_dir: str,
        store_dir: str,
        experiment_name: str,
        tracking_uri: str | None = None,
        tags: dict[str, str] | None = None,
        log_model: bool = True,
    ) -> None:
        _require("mlflow", "mlflow")
        self._run_dir = Path(run_dir)
        server = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        local = Path(store_dir).resolve()
        uri = server or f"sqlite:///{local / 'mlflow.db'}"
        saved = _saved_ids(self._run_dir).get("mlflow", {})
        super().__init__(
            experiment_name=experiment_name,
            run_name=f"{experiment_name}/{self._run_dir.name}",
            tracking_uri=uri,
            tags={"dlkit.run_dir": str(self._run_dir.resolve()), **(tags or {})},
            artifact_location=None if server else (local / "mlartifacts").as_uri(),
            # the same store: continue its run (a moved run root or another server: a new one)
            run_id=saved.get("run_id") if saved.get("tracking_uri") == uri else None,
        )
        self._upload_model = log_model
        self._local_store = None if server else local

    @property
    def experiment(self) -> Any:
        new = not self._initialized and self._run_id is None
        if not self._initialized and self._local_store is not None:
            self._local_store.mkdir(parents=True, exist_ok=True)  # SQLite makes no folders
        client = MLFlowLogger.experiment.fget(self)  # creates or reopens the run on rank zero
        if new and self._initialized:
            ids = {"run_id": self._run_id, "tracking_uri": self._tracking_uri}
            _remember(self._run_dir, "mlflow", ids)
            self._log_config(client)
        return client

    def _log_config(self, client: Any) -> None:
        from mlflow.entities import Param

        params = [
            Param(key, str(value)[:_MLFLOW_PARAM_LENGTH])
            for key, value in flatten(_config(self._run_dir)).items()
        ]
        for start in range(0, len(params), _MLFLOW_BATCH):
            client.log_batch(self._run_id, params=params[start : start + _MLFLOW_BATCH])

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """The params are the resolved config (logged when the run opens), not the module's
        hyperparameters: MLflow refuses a param whose value changes, as `resume` does."""
        _ = self.experiment

    @rank_zero_only
    def record_finished(self, run_dir: Path, results: dict[str, Any]) -> None:
        client = self.experiment
        step = int(results.get("global_step") or 0)
        for name, value in _final_metrics(results).items():
            client.log_metric(self._run_id, name, value, step=step)
        for folder in ("model", "plots") if self._upload_model else ("plots",):
            if (run_dir / folder).is_dir():
                client.log_artifacts(self._run_id, str(run_dir / folder), folder)
        client.set_tag(self._run_id, "dlkit.status", "completed")


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbTracker(WandbLogger):
    """Lightning's WandbLogger writing under the run folder (its wandb/ folder), offline when no
    API key is set (`wandb sync <run>/wandb/offline-run-*` uploads it later)."""

    def __init__(
        self,
        run_dir: str,
        experiment_name: str,
        project: str | None = None,
        entity: str | None = None,
        offline: bool | None = None,
        tags: list[str] | None = None,
        log_model: bool = True,
    ) -> None:
        _require("wandb", "wandb")
        self._run_dir = Path(run_dir)
        saved = _saved_ids(self._run_dir).get("wandb", {})
        run_id = saved.get("id") or secrets.token_hex(4)  # W&B ids: 8 of [a-z0-9]
        offline = not _has_wandb_key() if offline is None else offline
        super().__init__(
            name=f"{experiment_name}/{self._run_dir.name}",
            save_dir=str(self._run_dir),
            id=run_id,
            offline=offline,
            mode="offline" if offline else "online",  # explicit: wandb's process-wide settings
            project=project or os.environ.get("WANDB_PROJECT") or "dlkit",
            entity=entity,
            group=experiment_name,
            tags=tags,
            notes=str(self._run_dir.resolve()),
        )
        self._upload_model = log_model

    @property
    def experiment(self) -> Any:
        new = self._experiment is None
        run = WandbLogger.experiment.fget(self)  # wandb.init on rank zero
        if new and self._experiment is not None:
            _remember(self._run_dir, "wandb", {"id": run.id, "project": run.project})
            config = _config(self._run_dir)
            run.config.update(
                {**config, "dlkit_run_dir": str(self._run_dir.resolve())}, allow_val_change=True
            )
        return run

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        """The config is the resolved config (logged when the run opens)."""
        _ = self.experiment

    @rank_zero_only
    def replay_restored(self, rows: list[dict[str, Any]]) -> None:
        """wandb buffers its records, and a killed process loses the last of them (offline:
        everything short of a full 32 KiB block). On resume, the checkpoint's own metrics rows
        fill in the steps the W&B run does not hold."""
        run = self.experiment
        if run.settings.mode == "offline":
            have = wandb_files.last_step(self._run_dir / "wandb", run.id)
        else:
            have = run.summary.get("trainer/global_step")
        for row in rows:
            step = int(row["step"]) - 1  # metrics.csv counts steps done, Lightning from 0
            if have is None or step > have:
                values = {k: v for k, v in row.items() if k != "step" and v is not None}
                run.log({**values, "trainer/global_step": step})

    @rank_zero_only
    def record_finished(self, run_dir: Path, results: dict[str, Any]) -> None:
        import wandb

        run = self.experiment
        run.summary.update(_final_metrics(results))
        if self._upload_model and (run_dir / "model").is_dir():
            artifact = wandb.Artifact(f"model-{run.id}", type="model")
            artifact.add_dir(str(run_dir / "model"))
            run.log_artifact(artifact)
        run.finish()


def finish_trackers(loggers: list[Logger], run_dir: Path, results: dict[str, Any]) -> None:
    """A completed run's model and final metrics to each tracker; a tracker that fails here
    (a server gone) is warned about, never fails the run whose folder is already complete."""
    for logger in loggers:
        if isinstance(logger, MLflowTracker | WandbTracker):
            try:
                logger.record_finished(run_dir, results)
            except Exception as err:  # noqa: BLE001 - the run folder is complete already
                rank_zero_warn(f"{type(logger).__name__} could not record the finished run: {err}")
