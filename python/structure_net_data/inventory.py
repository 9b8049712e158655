"""What is on disk: a dataset's source files (checked against their registered
MD5s on request), its decoded caches, and the cache folder as a whole.

>>> report = verify_dataset('mnist')                 # doctest: +SKIP
>>> [f.name for f in report.files if f.problem]      # doctest: +SKIP
[]
>>> remove_caches('cifar10')                          # doctest: +SKIP

The layouts themselves are the Go core's (``core/dataset``,
``core/imagefolder``); this module only asks it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _lib
from .config import get_dataset_config
from .errors import UnsupportedError

__all__ = [
    "CacheFile",
    "DatasetFiles",
    "SourceFile",
    "dataset_files",
    "list_caches",
    "remove_caches",
    "verify_dataset",
]

_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)

_lib.declare("snd_dataset_files", ctypes.c_char_p, ctypes.c_char_p, _PROGRESS_FN, ctypes.c_void_p, _lib.c_char_pp)
_lib.declare("snd_images_locate", ctypes.c_char_p, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_cache_list", ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_cache_remove", ctypes.c_char_p, _lib.c_char_pp)

#: Statuses that stop a dataset from loading as registered.
PROBLEMS = frozenset({"missing", "mismatch", "error"})


@dataclass(frozen=True)
class SourceFile:
    """One source file (or, for image folders, split folder) of a dataset.

    ``status`` is ``present`` (found, not hashed), ``ok`` / ``mismatch``
    (its MD5 against the registered one), ``missing``, ``unverified`` (no
    MD5 is published for this form: inflated MNIST files, CIFAR binary
    batches), ``archived`` (not extracted yet; the archive next to it holds
    it) or ``error`` (unreadable; ``error`` says why).
    """

    name: str
    path: str
    status: str
    size: int = 0
    md5: str = ""
    actual_md5: str = ""
    error: str = ""

    @property
    def problem(self) -> bool:
        """True when the file stops the dataset from loading as registered."""
        return self.status in PROBLEMS


@dataclass(frozen=True)
class CacheFile:
    """A file of the cache folder: a decoded split (``kind='decoded'``), a
    prepared image pack (``'pack'``) or a leftover of an interrupted write
    (``'partial'``). ``present`` is False for a cache not built yet."""

    dataset: str
    split: str
    kind: str
    path: str
    size: int = 0
    mtime_ns: int = 0
    present: bool = True


@dataclass
class DatasetFiles:
    """Where a dataset's files are: ``location`` is the data folder (array
    datasets) or the image root (image folders; ``""`` when not found, with
    ``problem`` saying why)."""

    name: str
    format: str
    location: str
    files: list[SourceFile] = field(default_factory=list)
    caches: list[CacheFile] = field(default_factory=list)
    problem: str = ""

    @property
    def ok(self) -> bool:
        """No file is missing, mismatched or unreadable and the folder was found."""
        return not self.problem and not any(f.problem for f in self.files)


def _source(d: dict[str, Any]) -> SourceFile:
    return SourceFile(
        name=d["name"],
        path=d["path"],
        status=d["status"],
        size=d.get("size", 0),
        md5=d.get("md5", ""),
        actual_md5=d.get("actual_md5", ""),
        error=d.get("error", ""),
    )


def _cache(d: dict[str, Any]) -> CacheFile:
    return CacheFile(
        dataset=d["dataset"],
        split=d["split"],
        kind=d["kind"],
        path=d["path"],
        size=d.get("size", 0),
        mtime_ns=d.get("mtime_ns", 0),
        present=d.get("present", True),
    )


def _dirs(data_dir: str | Path | None, cache_dir: str | Path | None) -> dict[str, str]:
    # Read the environment here: the Go runtime snapshots it when the library loads.
    out = {}
    data_dir = data_dir if data_dir is not None else os.environ.get("DATA_DIR") or None
    cache_dir = cache_dir if cache_dir is not None else os.environ.get("SND_CACHE_DIR") or None
    if data_dir is not None:
        out["data_dir"] = str(data_dir)
    if cache_dir is not None:
        out["cache_dir"] = str(cache_dir)
    return out


class _HashProgress:
    """tqdm bars (one per file) fed from the core's hashing thread."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.callback = _PROGRESS_FN(self._on_progress)

    def _on_progress(self, name: bytes, done: int, total: int, _user: Any) -> None:
        if not self.enabled:
            return
        try:
            from tqdm.auto import tqdm

            key = name.decode("utf-8", "replace")
            with self.lock:
                bar = self.bars.get(key)
                if bar is None:
                    bar = tqdm(
                        total=total if total > 0 else None, unit="B", unit_scale=True, desc=f"md5 {key}", leave=False
                    )
                    self.bars[key] = bar
                bar.update(done - bar.n)
                if total > 0 and done >= total:
                    bar.close()
        except Exception:  # a progress bar must never break a check
            pass

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def dataset_files(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    md5_override: dict[str, str] | None = None,
    verify: bool = False,
    progress: bool = False,
) -> DatasetFiles:
    """Where a registered dataset's files and caches are, without loading it.

    Array datasets (mnist, cifar10, cifar100) list their source files in
    torchvision's layout under ``data_dir`` (default ``$DATA_DIR`` or the
    user cache) and the decoded caches for that folder; with ``verify`` each
    present file is hashed and compared with its registered MD5
    (``md5_override`` replaces them by file name). Image folders list their
    split folders and prepared packs; they have no registered checksums.
    Raises :class:`~structure_net_data.errors.UnsupportedError` for datasets
    served by a custom loader, whose files this package does not know.
    """
    config = get_dataset_config(name)
    options: dict[str, Any] = _dirs(data_dir, cache_dir)
    if config.format == "imagefolder":
        if verify:
            raise UnsupportedError(
                f"dataset {name!r} is an image folder: it has no registered checksums "
                "(its images are checked when decoded; prepare_dataset decodes every one)"
            )
        loc = _lib.call_json("snd_images_locate", _lib.cstr(name), _lib.to_json(options))
        return DatasetFiles(
            name=name,
            format=config.format,
            location=loc["root"],
            files=[_source(f) for f in loc.get("files") or []],
            caches=[_cache(c) for c in loc.get("caches") or []],
            problem=loc.get("problem", ""),
        )
    if config.format not in ("mnist", "cifar10", "cifar100"):
        raise UnsupportedError(
            f"dataset {name!r} (format {config.format or 'none'!r}) is served by a custom loader; "
            "its files are not known to structure_net_data"
        )
    options["verify"] = bool(verify)
    if md5_override:
        options["md5_override"] = dict(md5_override)
    bars = _HashProgress(progress)
    try:
        out = _lib.call_json("snd_dataset_files", _lib.cstr(name), _lib.to_json(options), bars.callback, None)
    finally:
        bars.close()
    return DatasetFiles(
        name=name,
        format=config.format,
        location=out["data_dir"],
        files=[_source(f) for f in out["files"]],
        caches=[_cache(c) for c in out["caches"]],
    )


def verify_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    md5_override: dict[str, str] | None = None,
    progress: bool = False,
) -> DatasetFiles:
    """:func:`dataset_files` with every present file hashed against its
    registered MD5. ``report.ok`` is False when a file is missing, differs
    or cannot be read; ``report.files`` says which."""
    return dataset_files(name, data_dir=data_dir, md5_override=md5_override, verify=True, progress=progress)


def list_caches(dataset: str | None = None, *, cache_dir: str | Path | None = None) -> list[CacheFile]:
    """The decoded splits, prepared packs and leftovers of interrupted writes
    in the cache folder (default ``$SND_CACHE_DIR`` or the user cache), of
    every data folder, or of one dataset; sorted by dataset, split, path."""
    options: dict[str, Any] = _dirs(None, cache_dir)
    options.pop("data_dir", None)
    if dataset is not None:
        options["dataset"] = dataset
    return [_cache(c) for c in _lib.call_json("snd_cache_list", _lib.to_json(options))["files"] or []]


def remove_caches(
    dataset: str | None = None, *, cache_dir: str | Path | None = None, dry_run: bool = False
) -> list[CacheFile]:
    """Deletes what :func:`list_caches` lists (all, or one dataset's) and
    returns it; with ``dry_run`` only returns it. Processes reading a
    removed cache keep their mapping; the next open decodes again."""
    options: dict[str, Any] = _dirs(None, cache_dir)
    options.pop("data_dir", None)
    if dataset is not None:
        options["dataset"] = dataset
    options["dry_run"] = bool(dry_run)
    return [_cache(c) for c in _lib.call_json("snd_cache_remove", _lib.to_json(options))["files"] or []]
