"""Dataset configurations: the registry lives in the Go core; this module is
its Pythonic face (a dataclass and the guide's functions)."""

from __future__ import annotations

import ctypes
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _lib
from .errors import DatasetNotFoundError, NotFoundError

__all__ = [
    "DatasetConfig",
    "register_dataset",
    "get_dataset_config",
    "list_available_datasets",
    "unregister_dataset",
    "create_custom_dataset_config",
    "get_dataset_input_size",
    "get_dataset_num_classes",
    "get_dataset_shape",
]
# MNIST_CONFIG, CIFAR10_CONFIG, CIFAR100_CONFIG and IMAGENET_CONFIG are served
# by the module __getattr__ below, from the core's registry.


@dataclass
class DatasetConfig:
    """What a dataset is: shape, classes, sizes and default transforms.

    >>> DatasetConfig("toy", "Toy", "tiny", (1, 4, 4), 2, 10, 5).input_size
    16
    """

    name: str
    full_name: str = ""
    description: str = ""
    input_shape: tuple[int, ...] = (1, 28, 28)
    num_classes: int = 10
    num_train_samples: int = 0
    num_test_samples: int = 0
    task_type: str = "classification"
    version: str = "1.0"
    download_url: str | None = None
    default_batch_size: int = 128
    default_train_transforms: list[str] = field(default_factory=list)
    default_test_transforms: list[str] = field(default_factory=list)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    format: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if not self.full_name:
            self.full_name = self.name
        if self.num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")
        if not self.input_shape or any(d <= 0 for d in self.input_shape):
            raise ValueError(f"input_shape {self.input_shape} must have positive dimensions")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(float(v) for v in value)
                if any(not math.isfinite(v) for v in value):
                    raise ValueError(f"{name} must be finite")
                setattr(self, name, value)

    @property
    def input_size(self) -> int:
        """Flattened input width: the product of ``input_shape``."""
        return math.prod(self.input_shape)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["mean"] = list(self.mean) if self.mean is not None else None
        d["std"] = list(self.std) if self.std is not None else None
        if d["download_url"] is None:
            d.pop("download_url")
        for k in ("mean", "std"):
            if d[k] is None:
                d.pop(k)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetConfig:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["input_shape"] = tuple(kwargs.get("input_shape") or ())
        for k in ("mean", "std"):
            if kwargs.get(k) is not None:
                kwargs[k] = tuple(kwargs[k])
        kwargs["default_train_transforms"] = list(kwargs.get("default_train_transforms") or [])
        kwargs["default_test_transforms"] = list(kwargs.get("default_test_transforms") or [])
        kwargs["metadata"] = dict(kwargs.get("metadata") or {})
        return cls(**kwargs)


def register_dataset(config: DatasetConfig, *, replace: bool = False) -> None:
    """Registers ``config`` in the core's registry.

    Registering a name twice raises :class:`~structure_net_data.errors.ConflictError`
    unless ``replace=True`` (the original silently kept the first one).
    """
    _lib.call("snd_registry_register", _lib.to_json(config.to_json()), ctypes.c_int(1 if replace else 0))


def get_dataset_config(name: str) -> DatasetConfig:
    """Returns the config of a registered dataset.

    Raises :class:`DatasetNotFoundError` (a ``KeyError``) listing the available names.
    """
    try:
        return DatasetConfig.from_json(_lib.call_json("snd_registry_get", _lib.cstr(name)))
    except NotFoundError as e:
        raise DatasetNotFoundError(str(e)) from None


def list_available_datasets() -> list[str]:
    """Registered dataset names, in registration order."""
    return list(_lib.call_json("snd_registry_list"))


def unregister_dataset(name: str) -> None:
    """Removes a user-registered dataset."""
    try:
        _lib.call("snd_registry_unregister", _lib.cstr(name))
    except NotFoundError as e:
        raise DatasetNotFoundError(str(e)) from None


def create_custom_dataset_config(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    num_train_samples: int,
    num_test_samples: int,
    *,
    auto_register: bool = True,
    **kwargs: Any,
) -> DatasetConfig:
    """Builds (and by default registers) a config for a custom dataset."""
    kwargs.setdefault("full_name", name.title())
    kwargs.setdefault("description", f"Custom dataset: {name}")
    config = DatasetConfig(
        name=name,
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        num_train_samples=num_train_samples,
        num_test_samples=num_test_samples,
        **kwargs,
    )
    if auto_register:
        register_dataset(config)
    return config


def get_dataset_input_size(name: str) -> int:
    return get_dataset_config(name).input_size


def get_dataset_num_classes(name: str) -> int:
    return get_dataset_config(name).num_classes


def get_dataset_shape(name: str) -> tuple[int, ...]:
    return get_dataset_config(name).input_shape


def __getattr__(name: str) -> DatasetConfig:
    # The constants come from the core's registry, so they are read lazily.
    builtin = {
        "MNIST_CONFIG": "mnist",
        "CIFAR10_CONFIG": "cifar10",
        "CIFAR100_CONFIG": "cifar100",
        "IMAGENET_CONFIG": "imagenet",
    }
    if name in builtin:
        return get_dataset_config(builtin[name])
    raise AttributeError(name)
