"""Facts recorded in run.json so a run can be traced and repeated."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from dlkit.data.fingerprint import cached_file_sha256

PACKAGES = (
    "dlkit",
    "torch",
    "lightning",
    "transformers",
    "tokenizers",
    "datasets",
    "hydra-core",
    "omegaconf",
    "torchmetrics",
)


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def data_files(files: dict[str, str], cache_dir: str | Path) -> dict[str, dict]:
    """Each data file's size and sha256, the hash remembered in the cache (a gigabyte corpus
    is read once for it, not on every run)."""
    return {
        split: {
            "path": str(Path(path).resolve()),
            "bytes": Path(path).stat().st_size,
            "sha256": cached_file_sha256(path, cache_dir),
        }
        for split, path in files.items()
    }


_SHORT = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def adjustments(
    asked: dict[str, Any], precision: str, model_config: dict[str, Any], loaded: bool
) -> dict[str, dict[str, Any]]:
    """Settings whose value is not what ran: the precision the machine ran, and the
    architecture of a model loaded with `model.init_from` (its own, whatever model.config
    says). `asked` is the composed config as plain values."""
    out: dict[str, dict[str, Any]] = {}
    wanted = str(asked["trainer"].get("precision"))
    if _SHORT.get(wanted, wanted) != precision:
        out["trainer.precision"] = {"asked": wanted, "ran": precision, "why": "this machine"}
    if loaded:
        for key, value in (asked["model"].get("config") or {}).items():
            if key in model_config and model_config[key] != value:
                out[f"model.config.{key}"] = {
                    "asked": value,
                    "ran": model_config[key],
                    "why": "loaded from model.init_from",
                }
    return out
