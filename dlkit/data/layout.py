"""The files a data config expects and where each comes from when it is absent: what the
command-line check, `dlkit data` and the datamodules agree on. Standard library only, so the
command line can answer before torch or `datasets` is imported."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNSET = (None, "", "???")  # a value the config leaves to the user


@dataclass(frozen=True)
class HubSplit:
    """A split of a hub dataset (`path` an id such as nyu-mll/glue), or of a folder written
    by `datasets`' save_to_disk or holding data files (`path` that folder)."""

    path: str
    name: str | None
    split: str

    @property
    def dataset(self) -> str:
        """The dataset and its configuration: "nyu-mll/glue (sst2)"."""
        return f"{self.path} ({self.name})" if self.name else self.path

    def __str__(self) -> str:
        return f"{self.dataset} {self.split}"


@dataclass(frozen=True)
class Expected:
    """One file of a data config: `key` names it to its datamodule (a split, `sources[2]`),
    `setting` to the user; `path` is the local file or glob (None: the hub only) and `hub`
    the split it comes from when absent (None: local only)."""

    key: str
    setting: str
    path: str | None
    hub: HubSplit | None

    @property
    def present(self) -> bool:
        if self.path is None:
            return False
        path = str(Path(self.path).expanduser())
        if glob.has_magic(path):
            return bool(glob.glob(path))
        return Path(path).exists()

    @property
    def from_hub(self) -> bool:
        """Whether it is read from `hub`: it is not here, and the config names a source."""
        return self.hub is not None and not self.present


def split_files(files: Mapping[str, Any] | None, hub: Mapping[str, Any] | None) -> list[Expected]:
    """A labelled data config's splits: `files.<split>` locally, else `hub.splits.<split>`
    of `hub.path` (with `hub.name`) when the config names a hub dataset."""
    files = {k: v for k, v in (files or {}).items() if v not in UNSET}
    hub = hub or {}
    splits = {k: v for k, v in (hub.get("splits") or {}).items() if v not in UNSET}
    if hub.get("path") in UNSET:
        splits = {}
    expected = []
    for split in [*files, *(s for s in splits if s not in files)]:
        source = (
            HubSplit(str(hub["path"]), hub.get("name"), str(splits[split]))
            if split in splits
            else None
        )
        expected.append(Expected(split, f"data.files.{split}", files.get(split), source))
    return expected


def hub_split(hub: Mapping[str, Any] | None, default_split: str = "train") -> HubSplit | None:
    """`{path, name, split}` as a HubSplit, or None when it names no dataset."""
    if not hub or hub.get("path") in UNSET:
        return None
    return HubSplit(str(hub["path"]), hub.get("name"), str(hub.get("split") or default_split))
