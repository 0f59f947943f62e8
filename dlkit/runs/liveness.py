"""Whether a run that run.json calls "running" still has a process: a run killed without a
chance to write (SIGKILL, the OOM killer, a lost node) says "running" forever otherwise."""

from __future__ import annotations

import os
import socket
from typing import Any


def owner() -> dict[str, Any]:
    """run.json's record of the process that writes the run, so `dlkit runs` can check it."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_gone(record: dict[str, Any]) -> bool:
    """True only when it is sure: the recorded process is on this host and does not exist.
    A run on another host, or one whose run.json predates the record, is taken at its word."""
    pid, host = record.get("pid"), record.get("host")
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user
        return False
    return False
