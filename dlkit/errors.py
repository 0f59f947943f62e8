"""Typed errors: each maps to one short message and an exit code, never a traceback."""

from __future__ import annotations

USAGE = 2  # the command line or the config is wrong
RUNTIME = 1  # the inputs were valid but the work failed


class DlkitError(Exception):
    """Base of every error dlkit reports to the user as a one-paragraph message."""

    exit_code = RUNTIME


class ConfigError(DlkitError):
    """A setting is missing, unknown or inconsistent."""

    exit_code = USAGE


class DataError(DlkitError):
    """A data file is missing, unreadable or holds rows dlkit cannot use."""

    exit_code = USAGE


class RunFolderError(DlkitError):
    """A run folder or checkpoint named on the command line is missing or incomplete."""

    exit_code = USAGE


class ExportError(DlkitError):
    """An export was written but failed verification (parity or accuracy), or could not be
    produced for this model."""


PREEMPTED = 75  # EX_TEMPFAIL: stopped on request, resumable; sbatch scripts requeue on it


class Preempted(DlkitError):
    """SIGTERM or SIGUSR1 arrived; a checkpoint was saved at the step boundary."""

    exit_code = PREEMPTED


class NonFiniteLoss(DlkitError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""
