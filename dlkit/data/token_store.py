"""Token ids on disk: one flat array per prepared split, uint16 when the vocabulary fits, else
uint32 (nanoGPT's layout), read through a memory map, so memory stays flat however large the
corpus. A store is complete only once its metadata file exists: both files are written under
temporary names and renamed, the metadata last, so a killed preparation is never mistaken
for a finished one."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

FORMAT = 1  # bump when the files' layout changes: it is part of every store's cache key


def id_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


class Blocks(Dataset):
    """Fixed-length windows over a flat token file: row i is tokens [i * size, (i + 1) *
    size). The memory map opens lazily and is not pickled, so DataLoader workers each map
    the file instead of receiving a copy of it."""

    def __init__(self, path: Path, dtype: str, block_size: int, blocks: int) -> None:
        self.path, self.dtype = Path(path), np.dtype(dtype)
        self.block_size, self.blocks = block_size, blocks
        self._tokens: np.ndarray | None = None

    @property
    def tokens(self) -> np.ndarray:
        """Every kept token, block after block."""
        if self._tokens is None:
            size = self.blocks * self.block_size
            self._tokens = (
                np.memmap(self.path, dtype=self.dtype, mode="r", shape=(size,))
                if size
                else np.empty(0, self.dtype)  # an empty file cannot be mapped
            )
        return self._tokens

    def __len__(self) -> int:
        return self.blocks

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index < 0:
            index += self.blocks
        if not 0 <= index < self.blocks:
            raise IndexError(f"block {index} of {self.blocks}")
        start = index * self.block_size
        block = self.tokens[start : start + self.block_size].astype(np.int64)
        return {"input_ids": torch.from_numpy(block)}

    def chunks(self, tokens: int = 1 << 22) -> Iterator[np.ndarray]:
        """The blocks as [n, block_size] arrays of about `tokens` tokens, for whole-split
        statistics without a whole-split array in memory."""
        rows = self.tokens.reshape(-1, self.block_size) if self.blocks else self.tokens
        step = max(1, tokens // self.block_size)
        for start in range(0, self.blocks, step):
            yield np.asarray(rows[start : start + step])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokens": None}


def open_blocks(path: Path) -> tuple[Blocks, dict[str, Any]] | None:
    """A complete store at `path` (its data file) with its metadata, or None."""
    meta_file = _meta_path(path)
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        expected = meta["blocks"] * meta["block_size"] * np.dtype(meta["dtype"]).itemsize
        if meta.get("format") != FORMAT or path.stat().st_size != expected:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Blocks(path, meta["dtype"], meta["block_size"], meta["blocks"]), meta


def write_blocks(
    path: Path, groups: Iterable[tuple[int, np.ndarray]], block_size: int, dtype: np.dtype
) -> tuple[Blocks, dict[str, Any]]:
    """Write each group's tokens (a group: its line count and its lines' ids, flat) without
    its tail of fewer than `block_size` tokens, so no block spans two groups."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    partial = path.with_name(f"{path.name}.{_TMP}.{_host()}.{os.getpid()}")
    lines = tokens = kept = 0
    try:
        with open(partial, "wb") as handle:
            for count, ids in groups:
                usable = len(ids) - len(ids) % block_size
                handle.write(np.ascontiguousarray(ids[:usable], dtype=dtype).tobytes())
                lines, tokens, kept = lines + count, tokens + len(ids), kept + usable
        meta = {
            "format": FORMAT,
            "dtype": dtype.name,
            "block_size": block_size,
            "blocks": kept // block_size,
            "lines": lines,
            "tokens": tokens,
        }
        meta_partial = partial.with_name(partial.name + ".json")
        meta_partial.write_text(json.dumps(meta), encoding="utf-8")
        partial.replace(path)
        meta_partial.replace(_meta_path(path))  # last: the store counts as complete from here
    finally:
        for leftover in (partial, partial.with_name(partial.name + ".json")):
            leftover.unlink(missing_ok=True)
    return Blocks(path, meta["dtype"], block_size, meta["blocks"]), meta


_TMP = "partial"


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _host() -> str:
    return socket.gethostname().replace(".", "-")


def _remove_abandoned(path: Path) -> None:
    """Partial files of earlier preparations on this machine whose process is gone (a killed
    run's); another live process's partial file is left alone (it renames it when done)."""
    host = _host()
    for leftover in path.parent.glob(f"{path.name}.{_TMP}.*"):
        parts = leftover.name.removeprefix(f"{path.name}.{_TMP}.").split(".")
        if len(parts) < 2 or parts[0] != host or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, someone else's
