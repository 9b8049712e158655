"""Batch loaders: iterate a split of a Go-core dataset as torch tensors.

Batches are produced on the core's own threads (no Python worker processes)
and handed over through the Arrow C Data Interface: the tensors you get view
C memory the core filled, with no copy, and that memory returns to the
core's pool when the last tensor viewing it is freed.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import torch

from . import _lib
from ._arrow import ArrowArray, ArrowSchema
from ._handle import Handle

__all__ = ["BatchLoader", "SplitView"]

_lib.declare("snd_loader_open", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64))
_lib.declare("snd_loader_schema", ctypes.c_uint64, ctypes.POINTER(ArrowSchema))
_lib.declare("snd_loader_next", ctypes.c_uint64, ctypes.POINTER(ArrowArray), ctypes.POINTER(ctypes.c_int))
_lib.declare("snd_loader_info", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare("snd_loader_set_epoch", ctypes.c_uint64, ctypes.c_int64)
_lib.declare("snd_loader_state", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare("snd_loader_restore", ctypes.c_uint64, ctypes.c_char_p)
_lib.declare("snd_loader_close", ctypes.POINTER(ctypes.c_uint64))


def random_seed() -> int:
    """A fresh 63-bit seed from the OS (never from global RNG state)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


class SplitView:
    """What ``loader.dataset`` is: the samples a loader draws from (``len()`` works)."""

    def __init__(self, name: str, split: str, num_samples: int, shape: tuple[int, ...]) -> None:
        self.name, self.split, self.num_samples, self.shape = name, split, num_samples, shape

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return f"SplitView({self.name!r}, {self.split!r}, samples={self.num_samples}, shape={self.shape})"


class BatchLoader(Handle):
    """Iterates ``(images float32 [B, C, H, W], labels int64 [B])`` batches.

    A drop-in for ``torch.utils.data.DataLoader`` in training loops: ``len()``,
    iteration, ``set_epoch(n)`` (the order is a function of ``(seed, epoch)``),
    ``state_dict()`` / ``load_state_dict()`` to resume mid-epoch exactly, and
    ``rank`` / ``world_size`` sharding like ``DistributedSampler``. Each full
    pass advances the epoch, so successive ``for`` loops see new orders.

    >>> for images, labels in loader:   # doctest: +SKIP
    ...     loss = model(images).sum()
    """

    def __init__(
        self,
        dataset: Any,
        split: str,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int | None = None,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        threads: int | None = None,
        prefetch: int | None = None,
        indices: Sequence[int] | None = None,
        transforms: Sequence[Any] | None = None,
        batch_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: str | torch.device | None = None,
        non_blocking: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.seed = random_seed() if seed is None else int(seed)
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        options: dict[str, Any] = {
            "batch_size": batch_size,
            "shuffle": bool(shuffle),
            "seed": self.seed,
            "drop_last": bool(drop_last),
            "rank": int(rank),
            "world_size": int(world_size),
            "threads": int(threads or 0),
            "prefetch": int(prefetch or 0),
        }
        if indices is not None:
            options["indices"] = [int(i) for i in indices]
        if transforms is not None:
            options["transforms"] = list(transforms)
        self._dataset = dataset  # keeps the dataset handle open while we live
        self._mid_pass = False  # a pass was started and not finished
        self.split = split
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.batch_transform = batch_transform
        self.device = torch.device(device) if device is not None else None
        self.non_blocking = non_blocking
        handle = ctypes.c_uint64()
        _lib.call(
            "snd_loader_open",
            ctypes.c_uint64(dataset.handle),
            _lib.cstr(split),
            _lib.to_json(options),
            ctypes.byref(handle),
        )
        self._adopt(handle)
        schema = ArrowSchema()
        _lib.call("snd_loader_schema", handle, ctypes.byref(schema))
        self._schema = pa.Schema._import_from_c(ctypes.addressof(schema))
        info = self.info()
        self.shape = tuple(info["shape"])
        self.transforms: list[str] = info["transforms"]
        self._len = info["num_batches"]
        self.dataset = SplitView(dataset.name, split, info["num_samples"], self.shape)

    # -- facts and position ----------------------------------------------
    _close_function = "snd_loader_close"

    def __len__(self) -> int:
        return self._len

    def info(self) -> dict[str, Any]:
        return _lib.call_json("snd_loader_info", ctypes.c_uint64(self.handle))

    @property
    def epoch(self) -> int:
        return int(self.info()["epoch"])

    def set_epoch(self, epoch: int) -> None:
        """Starts ``epoch`` from its first batch (like ``DistributedSampler.set_epoch``)."""
        _lib.call("snd_loader_set_epoch", ctypes.c_uint64(self.handle), ctypes.c_int64(int(epoch)))
        self._mid_pass = False

    def state_dict(self) -> dict[str, Any]:
        """The position to resume from, counting the batches already yielded."""
        return json.loads(_lib.call_string("snd_loader_state", ctypes.c_uint64(self.handle)))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resumes at ``state``; the next batch is exactly the one that would have come next."""
        _lib.call("snd_loader_restore", ctypes.c_uint64(self.handle), _lib.to_json(state))
        self._mid_pass = False

    # -- iteration --------------------------------------------------------
    def iter_arrow(self) -> Iterator[pa.RecordBatch]:
        """Yields the batches as pyarrow RecordBatches (zero-copy), one epoch.

        Like a torch DataLoader, every new iteration is a whole pass: when the
        previous one was abandoned midway (``next(iter(loader))``), the loader
        moves on to the next epoch first. Call ``load_state_dict`` to resume a
        pass instead.
        """
        if self._mid_pass:
            self.set_epoch(self.epoch + 1)
        done = ctypes.c_int()
        while True:
            array = ArrowArray()
            _lib.call("snd_loader_next", ctypes.c_uint64(self.handle), ctypes.byref(array), ctypes.byref(done))
            if done.value:
                self._mid_pass = False
                return
            self._mid_pass = True
            yield pa.RecordBatch._import_from_c(ctypes.addressof(array), self._schema)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self.iter_arrow():
            images, labels = self.to_tensors(batch)
            if self.batch_transform is not None:
                images = self.batch_transform(images)
            if self.device is not None:
                images = images.to(self.device, non_blocking=self.non_blocking)
                labels = labels.to(self.device, non_blocking=self.non_blocking)
            yield images, labels

    def to_tensors(self, batch: pa.RecordBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Views a batch's buffers as torch tensors without copying (through DLPack).

        The tensors keep the Arrow arrays, and so the core's C buffers, alive;
        the buffers return to the core's pool when the last view is freed.
        """
        images = torch.from_dlpack(batch.column(0).flatten()).view(batch.num_rows, *self.shape)
        labels = torch.from_dlpack(batch.column(1))
        return images, labels

    def __repr__(self) -> str:
        return (
            f"BatchLoader({self._dataset.name!r}, split={self.split!r}, batches={self._len}, "
            f"batch_size={self.batch_size}, shape={self.shape}, shuffle={self.shuffle})"
        )
