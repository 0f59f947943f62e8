"""Facts recorded in run.json so a run can be traced and repeated."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

from dlkit.data.fingerprint import file_sha256

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


def data_files(files: dict[str, str]) -> dict[str, dict]:
    return {
        split: {
            "path": str(Path(path).resolve()),
            "bytes": Path(path).stat().st_size,
            "sha256": file_sha256(path),
        }
        for split, path in files.items()
    }
