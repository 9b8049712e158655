"""What ``create_dataset`` returns: the guide's dict, typed.

>>> ds = create_dataset('mnist', batch_size=64)       # doctest: +SKIP
>>> ds['train_loader'] is ds.train_loader              # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from .config import DatasetConfig
    from .loader import BatchLoader
    from .metadata import DatasetMetadata

__all__ = ["DatasetResult"]

_KEYS = ("config", "train_loader", "test_loader", "metadata", "input_size", "num_classes", "input_shape")


class DatasetResult(dict[str, Any]):
    """The loaders and facts of one dataset: a ``dict`` with the keys
    ``config``, ``train_loader``, ``test_loader``, ``metadata``,
    ``input_size``, ``num_classes`` and ``input_shape`` (everything a dict
    does works as before), which also reads as attributes
    (``ds.train_loader``) and tells type checkers each key's type.

    The loaders are :class:`~structure_net_data.loader.BatchLoader`\\ s, with
    two exceptions typed as such for convenience: a custom
    :class:`~structure_net_data.datasets.DatasetLoader` that returns torch
    Datasets gets torch ``DataLoader``\\ s, and ``test_loader`` is ``None``
    for a custom dataset without a test split.
    """

    if TYPE_CHECKING:

        @overload
        def __getitem__(self, key: Literal["config"]) -> DatasetConfig: ...
        @overload
        def __getitem__(self, key: Literal["train_loader", "test_loader"]) -> BatchLoader: ...
        @overload
        def __getitem__(self, key: Literal["metadata"]) -> DatasetMetadata: ...
        @overload
        def __getitem__(self, key: Literal["input_size", "num_classes"]) -> int: ...
        @overload
        def __getitem__(self, key: Literal["input_shape"]) -> tuple[int, ...]: ...
        @overload
        def __getitem__(self, key: str) -> Any: ...
        def __getitem__(self, key: str) -> Any: ...

    @property
    def config(self) -> DatasetConfig:
        return self["config"]

    @property
    def train_loader(self) -> BatchLoader:
        return self["train_loader"]

    @property
    def test_loader(self) -> BatchLoader:
        return self["test_loader"]

    @property
    def metadata(self) -> DatasetMetadata:
        return self["metadata"]

    @property
    def input_size(self) -> int:
        return self["input_size"]

    @property
    def num_classes(self) -> int:
        return self["num_classes"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self["input_shape"]

    def __repr__(self) -> str:
        """One line: the name, the splits' sizes and batches, the shape and classes."""
        config = self.get("config")
        name = getattr(config, "name", "?")
        parts = [repr(name)]
        for split in ("train", "test"):
            loader = self.get(f"{split}_loader")
            if loader is None:
                parts.append(f"{split}=None")
                continue
            try:
                samples, batches = len(loader.dataset), len(loader)
                parts.append(f"{split}={samples} samples/{batches} batches")
            except Exception:  # a closed or exotic loader: its repr must still work
                parts.append(f"{split}={type(loader).__name__}")
        parts.append(f"input_shape={tuple(self.get('input_shape') or ())}")
        parts.append(f"num_classes={self.get('num_classes')}")
        extra = [k for k in self if k not in _KEYS]
        if extra:
            parts.append(f"extra_keys={extra}")
        return f"DatasetResult({', '.join(parts)})"
