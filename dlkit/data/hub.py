"""Hub datasets as the source of a data config's absent files.

Before anything is downloaded the hub is asked once, with a short timeout, whether it answers
for the dataset: without that, `datasets` and huggingface_hub retry an unreachable hub for
half a minute and print each warning twice. When the hub does not answer (or HF_HUB_OFFLINE
is set) only the `datasets` cache is tried, in offline mode; when that has no copy either,
one paragraph says how to provide the data. A folder (written by `save_to_disk`, or holding
data files) stands in for the hub without any network: tests use one.

`datasets` is imported only where a dataset is loaded (and, by the command-line check, in the
background while the hub is asked), so the checks here answer before torch is imported."""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlkit.data.layout import Expected, HubSplit
from dlkit.errors import DataError

PROBE_SECONDS = 2.0
_TRUE = {"1", "ON", "YES", "TRUE"}
# Headers only the hub's file endpoint sends: a proxy or captive portal that answers every
# request (with a 404 of its own) is not the hub.
_HUB_HEADERS = ("x-repo-commit", "x-error-code")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """A split read from a hub source; `source` names it in messages."""

    source: str
    dataset: Any


class HubUnavailable(DataError):
    """Neither the hub nor the `datasets` cache could provide a split; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- where a split comes from ------------------------------------------------------------
def local_folder(path: str) -> Path | None:
    """The folder `path` names, or None for a hub id. A path-like value (absolute, ./, ~,
    more than one /) that is no folder is an error rather than a hub id."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        return folder
    if path.startswith(("/", ".", "~")) or path.count("/") > 1:
        raise DataError(
            f"The hub source {path} is not a folder: give a folder written by `datasets`' "
            "save_to_disk (or holding data files), or a hub dataset id such as nyu-mll/glue."
        )
    return None


def saved_splits(folder: Path) -> list[str] | None:
    """The splits of a folder written by DatasetDict.save_to_disk ([] for a single Dataset's
    folder), or None for any other folder."""
    listing = folder / "dataset_dict.json"
    if listing.is_file():
        try:
            return [str(s) for s in json.loads(listing.read_text(encoding="utf-8"))["splits"]]
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"{listing} is damaged ({err}); save the dataset again.") from None
    if (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file():
        return []
    return None


def offline_by_env() -> bool:
    """HF_DATASETS_OFFLINE, else HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), as `datasets`
    reads them."""
    value = os.environ.get("HF_DATASETS_OFFLINE")
    if value is None:
        value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return (value or "").strip().upper() in _TRUE


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def online(repo: str) -> bool:
    """Whether `repo` may be downloaded: offline mode is off and the hub answers for it."""
    return not offline_by_env() and _answers(endpoint(), repo)


@functools.cache
def _answers(url: str, repo: str) -> bool:
    """Asked once a process; the thread's timeout also bounds a name lookup that hangs."""
    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(_probe(url, repo)), daemon=True)
    thread.start()
    thread.join(PROBE_SECONDS + 0.5)
    return bool(answer and answer[0])


def _probe(url: str, repo: str) -> bool:
    """One HEAD request for the dataset's card, as `datasets` makes first: True when the hub
    answered (found or not), False on no answer or an answer that is not the hub's."""
    request = urllib.request.Request(
        f"{url}/datasets/{repo}/resolve/main/README.md",
        method="HEAD",
        headers={"user-agent": "dlkit"},
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS) as response:
            headers = response.headers
    except urllib.error.HTTPError as err:
        headers = err.headers
    except (OSError, ValueError):  # no name, no route, refused, timed out, bad endpoint
        return False
    return any(headers.get(h) for h in _HUB_HEADERS)


# -- loading ------------------------------------------------------------------------------
def load(ref: HubSplit, cache_dir: Path) -> Any:
    """The split as a `datasets.Dataset`: from a folder, from the hub (cached in
    `cache_dir`), or from that cache alone when the hub cannot be reached (HubUnavailable
    when it holds no copy)."""
    import datasets

    folder = local_folder(ref.path)
    if folder is not None:
        return _from_folder(folder, ref, cache_dir)
    offline = not online(ref.path)
    try:
        with _offline_mode(offline):
            return datasets.load_dataset(
                ref.path, ref.name, split=ref.split, cache_dir=str(cache_dir)
            )
    except Exception as err:  # `datasets` raises many types; offline all mean "not cached"
        if offline:
            raise HubUnavailable(_why_offline(ref)) from err
        raise DataError(f"Cannot load {ref} from the hub: {_root_cause(err)}.") from err


def _from_folder(folder: Path, ref: HubSplit, cache_dir: Path) -> Any:
    import datasets

    splits = saved_splits(folder)
    try:
        if splits is None:  # a folder of data files: `datasets` infers the builder
            return datasets.load_dataset(
                str(folder), ref.name, split=ref.split, cache_dir=str(cache_dir)
            )
        _check_split(folder, splits, ref.split)
        return datasets.load_from_disk(str(folder))[ref.split]
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"Cannot load {ref}: {_root_cause(err)}.") from err


def _check_split(folder: Path, splits: list[str], split: str) -> None:
    if not splits:
        raise DataError(
            f"{folder} holds a single saved split; save a DatasetDict with a '{split}' split "
            f"(DatasetDict({{'{split}': dataset}}).save_to_disk)."
        )
    if split not in splits:
        raise DataError(
            f"{folder} has no split '{split}' (it has {', '.join(splits)}); set "
            "data.hub.splits to the split names it has."
        )


@contextmanager
def _offline_mode(offline: bool) -> Iterator[None]:
    """`datasets` and huggingface_hub read offline mode at import; set it for one call, and
    quiet `datasets`' "using the cached version" warning, which the caller's line says."""
    if not offline:
        yield
        return
    import datasets
    from huggingface_hub import constants

    saved = (datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE)
    verbosity = datasets.logging.get_verbosity()
    datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    datasets.logging.set_verbosity_error()
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = saved
        datasets.logging.set_verbosity(verbosity)


def _why_offline(ref: HubSplit) -> str:
    cause = (
        "offline mode is on (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)"
        if offline_by_env()
        else f"the Hugging Face hub ({endpoint()}) does not answer"
    )
    return f"{cause} and the `datasets` cache holds no copy of {ref}"


def _root_cause(err: BaseException) -> str:
    while err.__cause__:
        err = err.__cause__
    return " ".join(str(err).split()) or type(err).__name__


# -- what a data config's datamodule and command line use ---------------------------------
def fetch_missing(name: str, expected: Sequence[Expected], cache_dir: Path) -> dict[str, Fetched]:
    """The hub's copy of each expected file that is absent, by key, announced in one line
    per hub dataset."""
    wanted = [e for e in expected if e.from_hub]
    fetched: dict[str, Fetched] = {}
    for dataset in dict.fromkeys(e.hub.dataset for e in wanted):
        group = [e for e in wanted if e.hub.dataset == dataset]
        log.info(_announcement(name, group, cache_dir))
        for item in group:
            try:
                fetched[item.key] = Fetched(str(item.hub), load(item.hub, cache_dir))
            except HubUnavailable as err:
                raise DataError(unavailable(name, expected, err.reason, cache_dir)) from None
    return fetched


def check_ready(name: str, expected: Sequence[Expected], cache_dir: Path) -> None:
    """Before a run: every expected file is here or has a source that can provide it now
    (a folder, the hub, or offline the `datasets` cache). Raises DataError otherwise."""
    absent = [e for e in expected if e.path and not e.present and e.hub is None]
    if absent:
        first = absent[0]
        more = f" Also missing: {', '.join(str(e.path) for e in absent[1:])}." if absent[1:] else ""
        raise DataError(
            f"Data file not found: {first.path} (from {first.setting}).{more} Point "
            "paths.data_dir (or $DLKIT_DATA_DIR) at the folder holding the data, or set "
            f"{first.setting} to an existing file. `dlkit data` lists the files each data "
            "config expects and where they come from."
        )
    remote = []
    for item in (e for e in expected if e.from_hub):
        folder = local_folder(item.hub.path)
        if folder is None:
            remote.append(item)
        elif (splits := saved_splits(folder)) is not None:
            _check_split(folder, splits, item.hub.split)
    if not remote:
        return
    importer = _importing("datasets")  # meanwhile: needed offline, and by the run anyway
    reachable = all(online(item.hub.path) for item in remote)
    importer.join()
    if reachable:
        return
    for item in remote:  # offline: the cache must hold every split now
        try:
            load(item.hub, cache_dir)
        except HubUnavailable as err:
            raise DataError(unavailable(name, expected, err.reason, cache_dir)) from None


def _importing(module: str) -> threading.Thread:
    thread = threading.Thread(target=importlib.import_module, args=(module,), daemon=True)
    thread.start()
    return thread


def _announcement(name: str, group: Sequence[Expected], cache_dir: Path) -> str:
    ref = group[0].hub
    splits = ", ".join(e.hub.split for e in group)
    absent = [str(e.path) for e in group if e.path]
    lead = f"{name}: {', '.join(absent)} not found; loading" if absent else f"{name}: loading"
    folder = local_folder(ref.path)
    if folder is not None:
        return f"{lead} {ref.dataset} [{splits}] from that folder."
    if online(ref.path):
        return f"{lead} {ref.dataset} [{splits}] from the Hugging Face hub, cached in {cache_dir}."
    return (
        f"{lead} {ref.dataset} [{splits}] from the `datasets` cache in {cache_dir} (the hub "
        "cannot be reached)."
    )


def unavailable(name: str, expected: Sequence[Expected], reason: str, cache_dir: Path) -> str:
    """The one paragraph for data that is neither here nor obtainable: both ways to provide
    it, with the exact files."""
    files = [
        str(Path(e.path).expanduser().absolute()) for e in expected if e.path and not e.present
    ]
    datasets_named = ", ".join(dict.fromkeys(e.hub.dataset for e in expected if e.hub))
    local = (
        f"put {_joined(files)} in place (`dlkit data get {name}` writes them on a machine with "
        "internet; copy its data folder here), or point paths.data_dir (or $DLKIT_DATA_DIR) at "
        "a folder that holds them"
        if files
        else "set data.hub.path to a folder written by `datasets`' save_to_disk"
    )
    return (
        f"The {name} data is not here: {reason} (cache: {cache_dir}). Provide it either way: "
        f"(1) {local}; or (2) run with internet, and dlkit loads {datasets_named} from the "
        "Hugging Face hub itself and caches it."
    )


def _joined(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
