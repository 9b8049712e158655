"""``create_dataset``: the one call that turns a dataset name into loaders."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import DatasetConfig, get_dataset_config
from .dataset_result import DatasetResult
from .datasets import Dataset, arrays_dataset, get_loader_class, open_dataset
from .errors import InvalidArgumentError, UnsupportedError
from .loader import BatchLoader, random_seed

__all__ = [
    "create_dataset",
    "get_dataset",
    "clear_dataset_cache",
    "DATASET_CACHE",
    "DatasetResult",
    "register_format_opener",
]

#: Opened datasets of this process, by cache key: ``name`` or ``name@data_dir``,
#: followed by ``?option=value&...`` for every option that changes what the
#: dataset yields and differs from the registered default (image folders:
#: ``on_error``, ``dct_scaling``; ``use_pack=False`` after ``force_reload``).
#: Later ``create_dataset`` calls with the same key reuse them; a call that
#: asks for something else opens its own; ``force_reload=True`` replaces them.
DATASET_CACHE: dict[str, Dataset] = {}
#: What each cached dataset was opened from (its registered config, loader
#: class and cache folder): a key whose registration changed since is reopened.
_CACHE_SOURCES: dict[str, str] = {}
_cache_lock = threading.Lock()

ARRAY_FORMATS = ("mnist", "cifar10", "cifar100")

#: format name -> function(config, **options) -> an object with the Dataset interface.
_FORMAT_OPENERS: dict[str, Callable[..., Any]] = {}


def register_format_opener(fmt: str, opener: Callable[..., Any]) -> None:
    """Lets a module serve datasets of a config ``format`` (e.g. image folders)."""
    _FORMAT_OPENERS[fmt] = opener


def _cache_key(name: str, data_dir: str | None, options: dict[str, Any] | None = None) -> str:
    key = name if data_dir is None else f"{name}@{os.path.abspath(data_dir)}"
    if options:
        key += "?" + "&".join(f"{k}={options[k]!r}" for k in sorted(options))
    return key


def _key_name(key: str) -> str:
    return key.split("?", 1)[0].split("@", 1)[0]


def _yield_options(config: DatasetConfig, force_reload: bool, format_options: dict[str, Any]) -> dict[str, Any]:
    """The options of this call that change what the dataset yields, where they
    differ from the registered defaults (so equal requests share one key).

    Every ``create_dataset`` option was audited: batch size, subsets, seed,
    shuffling, transforms, ranks, threads, device are per loader, built fresh
    on every call; ``download``, ``progress``, ``mirrors`` and ``md5_override``
    decide how files arrive, not what they hold (checksums are verified);
    ``data_dir`` is in the key and the registration in ``_CACHE_SOURCES``.
    What is left is below.
    """
    if config.format != "imagefolder":
        return dict(format_options)  # another format's opener: any option may matter
    metadata = config.metadata or {}
    defaults = {"on_error": metadata.get("on_error") or "raise", "dct_scaling": bool(metadata.get("dct_scaling", True))}
    out: dict[str, Any] = {}
    for k, v in format_options.items():
        if k == "dct_scaling" and isinstance(v, (bool, int, np.bool_)):
            v = bool(v)
        if defaults.get(k, object()) != v:
            out[k] = v
    if force_reload:
        out["use_pack"] = False  # the folder is scanned even when a prepared pack exists
    return out


def _source_of(config: DatasetConfig, loader_class: type | None) -> str:
    loader = None if loader_class is None else f"{loader_class.__module__}.{loader_class.__qualname__}"
    return json.dumps(
        {
            "config": config.to_json(),
            "loader": [loader, id(loader_class)],
            "cache_dir": os.environ.get("SND_CACHE_DIR"),
        },
        sort_keys=True,
        default=str,
    )


def get_dataset(
    dataset_name: str,
    *,
    data_dir: str | Path | None = None,
    force_reload: bool = False,
    download: bool = True,
    progress: bool = True,
    mirrors: list[str] | None = None,
    md5_override: dict[str, str] | None = None,
    **format_options: Any,
) -> Dataset:
    """Returns the opened dataset, from :data:`DATASET_CACHE` when one opened
    with the same data folder, registration and yield-changing options is there.

    ``format_options`` go to the opener of the config's format (image folders
    take ``on_error`` and ``dct_scaling``); array formats and custom loaders
    accept none.
    """
    config = get_dataset_config(dataset_name)
    if data_dir is None:
        data_dir = os.environ.get("DATA_DIR") or None
    data_dir = str(data_dir) if data_dir is not None else None
    loader_class = get_loader_class(dataset_name)
    key = _cache_key(dataset_name, data_dir, _yield_options(config, force_reload, format_options))
    source = _source_of(config, loader_class)
    with _cache_lock:
        cached = DATASET_CACHE.get(key)
        if cached is not None and not force_reload and _CACHE_SOURCES.get(key) == source:
            return cached
    if loader_class is not None:
        if format_options:
            raise InvalidArgumentError(
                f"{', '.join(format_options)} only apply to image folders; {dataset_name!r} is served by "
                f"{loader_class.__name__}, which does not take them"
            )
        dataset = _open_custom(config, loader_class)
    elif config.format in ARRAY_FORMATS:
        if format_options:
            raise InvalidArgumentError(
                f"{', '.join(format_options)} only apply to image folders, not to {config.format!r} datasets"
            )
        dataset = open_dataset(
            dataset_name,
            data_dir=data_dir,
            download=download,
            force_reload=force_reload,
            progress=progress,
            mirrors=mirrors,
            md5_override=md5_override,
        )
    elif config.format in _FORMAT_OPENERS:
        dataset = _FORMAT_OPENERS[config.format](
            config, data_dir=data_dir, force_reload=force_reload, download=download, progress=progress, **format_options
        )
    else:
        raise UnsupportedError(
            f"dataset {dataset_name!r} (format {config.format or 'none'!r}) has no loader: "
            "register one with register_loader(name, MyDatasetLoader)"
        )
    with _cache_lock:
        old = DATASET_CACHE.get(key)
        DATASET_CACHE[key] = dataset
        _CACHE_SOURCES[key] = source
    if old is not None and old is not dataset:
        old.close()
    return dataset


def _open_custom(config: DatasetConfig, loader_class: type) -> Any:
    loader = loader_class(config)
    train_data, test_data = loader.load_data()
    if _is_array_pair(train_data) and (test_data is None or _is_array_pair(test_data)):
        return arrays_dataset(config, train_data, test_data)
    return _TorchDatasets(config, loader, *loader.create_datasets(train_data, test_data))


def _is_array_pair(data: Any) -> bool:
    return (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and isinstance(data[0], np.ndarray)
        and data[0].dtype == np.uint8
    )


class _TorchDatasets:
    """A custom loader's torch Datasets, served by torch's own DataLoader."""

    def __init__(self, config: DatasetConfig, loader: Any, train: Any, test: Any) -> None:
        self.config, self.loader, self.train, self.test = config, loader, train, test
        self.name = config.name
        self.train_samples, self.test_samples = len(train), (len(test) if test is not None else 0)
        self.files: list[str] = []
        self.from_cache = False
        self.size_bytes = 0

    def split_size(self, split: str) -> int:
        return self.train_samples if split == "train" else self.test_samples

    def close(self) -> None:
        pass


def clear_dataset_cache(dataset_name: str | None = None) -> int:
    """Drops cached datasets (all, or those of one name exactly); returns how many."""
    with _cache_lock:
        keys = [k for k in DATASET_CACHE if dataset_name is None or _key_name(k) == dataset_name]
        dropped = [DATASET_CACHE.pop(k) for k in keys]
        for k in keys:
            _CACHE_SOURCES.pop(k, None)
    for d in dropped:
        d.close()
    return len(dropped)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _subset(n: int, size: int | None, fraction: float | None, seed: int, split: str, ratio: float) -> list[int] | None:
    """Seeded subset indices (sorted), independent of any global RNG state."""
    if size is None and fraction is None:
        return None
    if fraction is not None:
        k = int(n * fraction)
    else:
        k = size if split == "train" else max(1, round(size * ratio))
        if split == "train" and k > n:
            raise InvalidArgumentError(f"subset_size {size} is larger than the train split ({n} samples)")
        k = min(k, n)
    if k <= 0:
        raise InvalidArgumentError(f"the subset of the {split} split would be empty ({n} samples)")
    rng = np.random.Generator(np.random.PCG64([seed, 0x5B5E7, 0 if split == "train" else 1]))
    return sorted(rng.choice(n, size=k, replace=False).tolist())


def _distributed_defaults(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is None or world_size is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    return int(rank or 0), int(world_size or 1)


def _shared_seed(world_size: int) -> int:
    """A fresh seed every rank agrees on: ranks that shuffled with seeds of
    their own would draw overlapping shards and miss samples."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        seed = [random_seed() if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(seed, src=0)  # every rank calls create_dataset, as with DistributedSampler
        return int(seed[0])
    raise InvalidArgumentError(
        f"world_size={world_size} without torch.distributed needs seed= (the same on every rank): "
        "ranks shuffling with different random seeds would draw overlapping shards"
    )


def _split_transforms(transform: Any) -> tuple[list[Any] | None, Callable[[torch.Tensor], torch.Tensor] | None]:
    """Core transform specs, or a torchvision transform applied to each sample tensor."""
    if transform is None:
        return None, None
    if isinstance(transform, (list, tuple)) and all(isinstance(t, (str, dict)) for t in transform):
        return list(transform), None
    from .torch_transforms import per_sample_transform

    return ["to_tensor"], per_sample_transform(transform)


def create_dataset(
    dataset_name: str = "mnist",
    batch_size: int | None = None,
    *,
    subset_size: int | None = None,
    subset_fraction: float | None = None,
    seed: int | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
    force_reload: bool = False,
    data_dir: str | Path | None = None,
    experiment_id: str | None = None,
    download: bool = True,
    train_transform: Sequence[Any] | Callable[..., Any] | None = None,
    test_transform: Sequence[Any] | Callable[..., Any] | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    threads: int | None = None,
    prefetch: int | None = None,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    use_cache: bool = True,
    progress: bool = True,
    mirrors: list[str] | None = None,
    md5_override: dict[str, str] | None = None,
    pin_memory: bool = False,
    on_error: str | None = None,
    dct_scaling: bool | None = None,
) -> DatasetResult:
    """Loads a dataset and returns its loaders.

    Returns a :class:`DatasetResult`: a dict with ``config``,
    ``train_loader``, ``test_loader``, ``metadata``, ``input_size``,
    ``num_classes`` and ``input_shape``, typed and readable as attributes. Loaders
    yield ``(float32 [B, C, H, W], int64 [B])`` torch tensors normalised with
    the dataset's mean/std, produced by the Go core and shared without a copy.

    ``subset_size`` keeps that many training samples (and the same proportion
    of the test split); ``subset_fraction`` keeps a fraction of both. Subsets,
    shuffling and augmentation are seeded by ``seed`` (a random seed, recorded
    in ``loader.seed``, when None) and never touch global RNG state.
    Under ``torch.distributed`` (e.g. ``torchrun``) rank and world size come
    from the process group, and a ``None`` seed is drawn once by rank 0 and
    broadcast, so the ranks' shards stay disjoint (every rank must call
    ``create_dataset``, as every rank builds its ``DistributedSampler``).
    For image folders (ImageNet, ``register_image_folder``), ``on_error='skip'``
    replaces unreadable images by the next readable one instead of raising, and
    ``dct_scaling=False`` turns off libjpeg's approximate DCT-domain downscaling.
    ``num_workers`` is accepted for DataLoader compatibility and sets the
    core's producer threads; ``pin_memory`` is accepted and ignored (batches
    already live in C memory; use ``device=`` to move them).

    >>> ds = create_dataset('mnist', batch_size=64)          # doctest: +SKIP
    >>> images, labels = next(iter(ds['train_loader']))       # doctest: +SKIP
    """
    started = time.perf_counter()
    config = get_dataset_config(dataset_name)
    batch_size = config.default_batch_size if batch_size is None else _positive_int("batch_size", batch_size)
    if subset_size is not None and subset_fraction is not None:
        raise InvalidArgumentError("pass subset_size or subset_fraction, not both")
    if subset_size is not None:
        subset_size = _positive_int("subset_size", subset_size)
    if subset_fraction is not None and not (0 < float(subset_fraction) <= 1):
        raise InvalidArgumentError(f"subset_fraction must be in (0, 1], got {subset_fraction!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    if threads is None and num_workers:
        threads = int(num_workers)
    rank, world_size = _distributed_defaults(rank, world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise InvalidArgumentError(f"rank {rank} is out of range for world_size {world_size}")
    if use_cache is False:
        force_reload = True

    dataset = get_dataset(
        dataset_name,
        data_dir=data_dir,
        force_reload=force_reload,
        download=download,
        progress=progress,
        mirrors=mirrors,
        md5_override=md5_override,
        **{k: v for k, v in (("on_error", on_error), ("dct_scaling", dct_scaling)) if v is not None},
    )
    if seed is None:
        seed = _shared_seed(world_size) if world_size > 1 else random_seed()
    seed = int(seed)
    ratio = dataset.test_samples / max(1, dataset.train_samples)
    if isinstance(dataset, _TorchDatasets):
        train_loader, test_loader = _torch_loaders(dataset, batch_size, shuffle, drop_last, seed)
    else:
        loaders = []
        for split, transform, is_train in (("train", train_transform, True), ("test", test_transform, False)):
            if dataset.split_size(split) == 0:
                loaders.append(None)
                continue
            indices = _subset(dataset.split_size(split), subset_size, subset_fraction, seed, split, ratio)
            specs, per_sample = _split_transforms(transform)
            loaders.append(
                BatchLoader(
                    dataset,
                    split,
                    batch_size=batch_size,
                    shuffle=shuffle if is_train else False,
                    seed=seed,
                    drop_last=drop_last if is_train else False,
                    rank=rank,
                    world_size=world_size,
                    threads=threads,
                    prefetch=prefetch,
                    indices=indices,
                    transforms=specs,
                    batch_transform=per_sample,
                    device=device,
                )
            )
        train_loader, test_loader = loaders

    from .metadata import dataset_metadata_for, save_dataset_metadata, track_dataset_usage

    metadata = dataset_metadata_for(dataset, train_loader, test_loader)
    save_dataset_metadata(metadata)
    if experiment_id is not None:
        elapsed = time.perf_counter() - started
        for split, loader in (("train", train_loader), ("test", test_loader)):
            if loader is None:
                continue
            track_dataset_usage(
                experiment_id,
                metadata,
                {
                    "split": split,
                    "size": len(loader.dataset),
                    "transforms": list(getattr(loader, "transforms", [])),
                    "loading_time": elapsed,
                    "seed": seed,
                },
            )
    return DatasetResult(
        config=config,
        train_loader=train_loader,
        test_loader=test_loader,
        metadata=metadata,
        input_size=config.input_size,
        num_classes=config.num_classes,
        input_shape=config.input_shape,
    )


def _torch_loaders(dataset: _TorchDatasets, batch_size: int, shuffle: bool, drop_last: bool, seed: int) -> tuple:
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(dataset.train, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)
    test = DataLoader(dataset.test, batch_size=batch_size) if dataset.test is not None else None
    return train, test


# Image folders (format "imagefolder": imagenet and register_image_folder datasets).
from .images import open_image_folder as _open_image_folder  # noqa: E402

register_format_opener("imagefolder", _open_image_folder)
