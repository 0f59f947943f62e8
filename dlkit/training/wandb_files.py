"""Reading W&B's offline run files (`<run>/wandb/offline-run-*/run-<id>.wandb`): a LevelDB-style
log (a 7-byte file header, then 32 KiB blocks of chunks framed by crc32, length and type) of
protobuf `Record`s. wandb ships no reader for them any more; dlkit needs one to know which
steps an offline run already holds when a killed run resumes."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_BLOCK = 32768
_HEADER = 7  # b":W&B" + version, and each chunk's crc32 (4) + length (2) + type (1)
_FULL, _LAST = 1, 4


def records(path: Path) -> Iterator[Any]:
    """Each complete record of one .wandb file; a torn tail (a killed writer) ends the file."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    if data[:4] != b":W&B":
        return
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        if _BLOCK - pos % _BLOCK < _HEADER:  # too short for a chunk header: padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if kind == 0 or pos + _HEADER + length > len(data):
            return
        pending += data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def history(path: Path) -> Iterator[dict[str, Any]]:
    """The history rows (what run.log sent) of one .wandb file, values decoded."""
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            items = record.history.item  # a key with "/" comes as nested_key parts
            yield {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def last_step(wandb_dir: Path, run_id: str) -> int | None:
    """The highest `trainer/global_step` any offline file of this run holds."""
    steps = [
        row["trainer/global_step"]
        for path in wandb_dir.glob(f"offline-run-*-{run_id}/run-{run_id}.wandb")
        for row in history(path)
        if "trainer/global_step" in row
    ]
    return int(max(steps)) if steps else None
