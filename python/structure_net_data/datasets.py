"""Opened datasets and the guide's custom-loader extension point.

A :class:`Dataset` is a handle on decoded samples held by the Go core (memory-
mapped from the decoded cache for the built-in formats). Custom datasets plug
in with a :class:`DatasetLoader` subclass: when its ``load_data`` returns numpy
uint8 arrays they go through the same fast core path as the built-ins;
anything else goes through its ``create_datasets`` and a torch DataLoader.
"""

from __future__ import annotations

import ctypes
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import _lib
from ._arrow import ArrowArray, ArrowSchema
from ._handle import Handle
from .config import DatasetConfig, get_dataset_config
from .errors import InvalidArgumentError

__all__ = ["Dataset", "DatasetLoader", "register_loader", "get_loader_class", "open_dataset", "arrays_dataset"]

_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)

_lib.declare(
    "snd_dataset_open",
    ctypes.c_char_p,
    ctypes.c_char_p,
    _PROGRESS_FN,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
)
_lib.declare(
    "snd_dataset_from_arrays",
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.POINTER(ctypes.c_uint64),
)
_lib.declare("snd_dataset_info", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare(
    "snd_dataset_export_split",
    ctypes.c_uint64,
    ctypes.c_char_p,
    ctypes.POINTER(ArrowArray),
    ctypes.POINTER(ArrowSchema),
)
_lib.declare("snd_dataset_close", ctypes.POINTER(ctypes.c_uint64))


class Dataset(Handle):
    """An opened dataset in the core: config, split sizes, source files."""

    _close_function = "snd_dataset_close"
    _info_function = "snd_dataset_info"

    def __init__(self, handle: ctypes.c_uint64, name: str) -> None:
        self._adopt(handle)
        self.name = name
        info = self.info()
        self._read_info(info)

    def _read_info(self, info: dict[str, Any]) -> None:
        self.config = DatasetConfig.from_json(info["config"])
        self.train_samples: int = info["train_samples"]
        self.test_samples: int = info["test_samples"]
        self.files: list[str] = info.get("files") or []
        self.from_cache: bool = info.get("cache_hits", 0) > 0
        self.size_bytes: int = info.get("size_bytes", 0)

    def info(self) -> dict[str, Any]:
        """Everything the core knows about the opened dataset."""
        return _lib.call_json(self._info_function, ctypes.c_uint64(self.handle))

    def split_size(self, split: str) -> int:
        return self.train_samples if split == "train" else self.test_samples

    def to_arrow(self, split: str = "train") -> pa.RecordBatch:
        """The split's raw uint8 samples as a pyarrow RecordBatch (a copy in C memory)."""
        array, schema = ArrowArray(), ArrowSchema()
        _lib.call(
            "snd_dataset_export_split",
            ctypes.c_uint64(self.handle),
            _lib.cstr(split),
            ctypes.byref(array),
            ctypes.byref(schema),
        )
        return pa.RecordBatch._import_from_c(ctypes.addressof(array), ctypes.addressof(schema))

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, train={self.train_samples}, test={self.test_samples})"


class _Progress:
    """Feeds download progress from core threads into tqdm bars."""

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
                    bar = tqdm(total=total if total > 0 else None, unit="B", unit_scale=True, desc=key, leave=False)
                    self.bars[key] = bar
                bar.update(done - bar.n)
                if total > 0 and done >= total:
                    bar.close()
        except Exception:  # a progress bar must never break a download
            pass

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def open_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    force_reload: bool = False,
    mirrors: list[str] | None = None,
    md5_override: dict[str, str] | None = None,
    progress: bool = True,
) -> Dataset:
    """Opens a built-in dataset (mnist, cifar10, cifar100) in the core.

    Files are looked up under ``data_dir`` (default ``$DATA_DIR`` or a per-user
    cache folder) in torchvision's layout, downloaded with MD5 verification
    when missing, decoded once and cached memory-mappable (Arrow IPC).
    """
    options: dict[str, Any] = {"download": bool(download), "force_reload": bool(force_reload)}
    # Read the environment here, not in Go: the Go runtime snapshots the
    # environment when the library loads, so later os.environ changes (the
    # guide sets DATA_DIR at run time) would not reach it.
    data_dir = data_dir if data_dir is not None else os.environ.get("DATA_DIR") or None
    cache_dir = cache_dir if cache_dir is not None else os.environ.get("SND_CACHE_DIR") or None
    if data_dir is not None:
        options["data_dir"] = str(data_dir)
    if cache_dir is not None:
        options["cache_dir"] = str(cache_dir)
    if mirrors:
        options["mirrors"] = list(mirrors)
    if md5_override:
        options["md5_override"] = dict(md5_override)
    bars = _Progress(progress)
    handle = ctypes.c_uint64()
    try:
        _lib.call("snd_dataset_open", _lib.cstr(name), _lib.to_json(options), bars.callback, None, ctypes.byref(handle))
    finally:
        bars.close()
    return Dataset(handle, name)


def _as_nchw_uint8(images: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise InvalidArgumentError(f"{what}: images must be uint8 for the fast path, got {arr.dtype}")
    c, h, w = shape
    if arr.ndim == 3 and c == 1 and arr.shape[1:] == (h, w):
        arr = arr[:, None, :, :]
    elif arr.ndim == 4 and arr.shape[1:] == (h, w, c) and arr.shape[1:] != (c, h, w):
        arr = arr.transpose(0, 3, 1, 2)  # NHWC, as numpy image stacks usually are
    if arr.ndim != 4 or arr.shape[1:] != (c, h, w):
        raise InvalidArgumentError(f"{what}: images of shape {arr.shape} do not match input_shape {shape}")
    return np.ascontiguousarray(arr)


def arrays_dataset(config: DatasetConfig, train: tuple[Any, Any], test: tuple[Any, Any] | None = None) -> Dataset:
    """Creates a core dataset from numpy ``(images, labels)`` pairs (copied once)."""
    if len(config.input_shape) != 3:
        raise InvalidArgumentError(f"array datasets need a (C, H, W) input_shape, got {config.input_shape}")
    parts = []
    for what, pair in (("train", train), ("test", test)):
        if pair is None:
            parts.append((None, None, 0))
            continue
        images = _as_nchw_uint8(pair[0], config.input_shape, what)
        labels = np.ascontiguousarray(np.asarray(pair[1]), dtype=np.int64)
        if labels.ndim != 1 or len(labels) != len(images):
            raise InvalidArgumentError(f"{what}: {len(labels)} labels for {len(images)} images")
        parts.append((images, labels, len(images)))
    (tr_i, tr_l, n_tr), (te_i, te_l, n_te) = parts
    handle = ctypes.c_uint64()
    _lib.call(
        "snd_dataset_from_arrays",
        _lib.to_json(config.to_json()),
        tr_i.ctypes.data,
        tr_l.ctypes.data,
        ctypes.c_int64(n_tr),
        te_i.ctypes.data if te_i is not None else None,
        te_l.ctypes.data if te_l is not None else None,
        ctypes.c_int64(n_te),
        ctypes.byref(handle),
    )
    return Dataset(handle, config.name)


class DatasetLoader(ABC):
    """Base class of custom dataset loaders (the guide's extension point).

    Subclasses implement :meth:`load_data`. When it returns
    ``((train_images, train_labels), (test_images, test_labels))`` as numpy
    uint8 arrays, the data goes through the core's fast path. Otherwise
    :meth:`create_datasets` must turn the data into torch Datasets, loaded with
    a standard torch DataLoader and :meth:`get_transform`.
    """

    def __init__(self, config: DatasetConfig) -> None:
        self.config = config

    @abstractmethod
    def load_data(self) -> tuple[Any, Any]:
        """Loads raw data; returns ``(train_data, test_data)``."""

    def get_transform(self, train: bool = True) -> Any:
        """A torchvision transform for the torch-Dataset route; None for the default."""
        return None

    def create_datasets(self, train_data: Any, test_data: Any) -> tuple[Any, Any]:
        """Builds torch Datasets from raw data (only needed for non-array data)."""
        raise NotImplementedError(
            f"{type(self).__name__}.load_data returned data that is not numpy (images, labels) pairs; "
            "implement create_datasets to turn it into torch Datasets"
        )


_LOADERS: dict[str, type[DatasetLoader]] = {}


def register_loader(dataset_name: str, loader_class: type[DatasetLoader]) -> None:
    """Registers a :class:`DatasetLoader` subclass for ``dataset_name``."""
    if not (isinstance(loader_class, type) and issubclass(loader_class, DatasetLoader)):
        raise TypeError(f"loader_class must be a DatasetLoader subclass, got {loader_class!r}")
    get_dataset_config(dataset_name)  # the config must be registered first
    _LOADERS[dataset_name] = loader_class


def get_loader_class(dataset_name: str) -> type[DatasetLoader] | None:
    return _LOADERS.get(dataset_name)
