"""A full disk ends a run as a failure that names the disk and the space it needs: run.json
says "failed" (when it can still be written), no temporary file is left, and checkpoints that
were whole stay whole (they are written under a temporary name, then renamed)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Any

from dlkit.errors import DlkitError
from dlkit.runs.folder import RunFolder

_FULL = (errno.ENOSPC, errno.EDQUOT)
_TEMPORARY = ("*.tmp", "*.partial")


class DiskFull(DlkitError):
    """The run folder's disk filled up; the inputs were fine."""


def is_full(err: BaseException | None) -> bool:
    """OSError ENOSPC/EDQUOT anywhere in the chain, or torch's zip writer's own words for it."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in _FULL:
            return True
        if "No space left on device" in str(err) or "file write failed" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def fail(run: RunFolder, err: BaseException) -> None:
    """Mark the run failed; on a full disk first remove the temporary files that made it so."""
    if is_full(err):
        for pattern in _TEMPORARY:
            for path in run.path.rglob(pattern):
                path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the disk may be too full even for run.json
        run.fail(f"{type(err).__name__}: {err}")


def full_error(path: Path, model: Any | None) -> DiskFull:
    mount = _mount(path.resolve())
    free = shutil.disk_usage(mount).free
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) if model else 0
    need = 4 * weights + 2**20  # the model, and a checkpoint with two optimizer moments
    return DiskFull(
        f"The disk holding the run folder {path} (mounted at {mount}) is full: "
        f"{free / 2**20:.1f} MiB free, and this run needs about {need / 2**20:.0f} MiB more for "
        "its checkpoint and model/. The run is marked failed and its earlier checkpoints are "
        "intact; free space there (or set paths.run_root to another disk) and continue with "
        f"resume={path}."
    )


def _mount(path: Path) -> Path:
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path
