"""Content hashes that key the on-disk caches and record data provenance."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key(*parts: object) -> str:
    """A short stable key for any JSON-serialisable description of an input."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_file_sha256(path: str | Path, cache_dir: str | Path) -> str:
    """`file_sha256`, remembered under `cache_dir` by (resolved path, size, mtime_ns): a second
    run over a gigabyte corpus stats its files instead of reading them. A changed size or
    mtime hashes again (touching a file costs one re-hash; its hash, and so every cache keyed
    by it, stays the same)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    memo = Path(cache_dir) / "file-hashes" / f"{key(str(resolved))}.json"
    stamp = {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        saved = json.loads(memo.read_text(encoding="utf-8"))
        if {k: saved.get(k) for k in stamp} == stamp and isinstance(saved.get("sha256"), str):
            return saved["sha256"]
    except (OSError, ValueError):
        pass  # no memo yet, or a damaged one: hash again
    digest = file_sha256(resolved)
    after = resolved.stat()
    if (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        return digest  # written to while hashed: this hash is no stamp's, remember nothing
    memo.parent.mkdir(parents=True, exist_ok=True)
    partial = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({**stamp, "sha256": digest}), encoding="utf-8")
    partial.replace(memo)  # atomic: a reader sees the old memo or the whole new one
    return digest
