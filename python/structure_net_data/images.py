"""Image folders: ImageNet and your own class-folder trees, decoded by the Go core.

``create_dataset('imagenet', subset_size=1000, batch_size=32)`` reads
``$DATA_DIR/imagenet/{train,val}/<wnid>/*.JPEG`` (or the Kaggle layout
``ILSVRC/Data/CLS-LOC``; a flat ``val/`` needs ``LOC_val_solution.csv`` or
``val_labels.txt`` next to it). Class indices follow torchvision's
ImageFolder (sorted folder names); when ``LOC_synset_mapping.txt`` is found
its sorted wnids fix the indices, so a partial tree keeps ImageNet's labels,
and its names become ``dataset.class_names``.

JPEGs are decoded with libjpeg-turbo (region-only, and DCT-scaled by 1/2,
1/4 or 1/8 when the resize that follows shrinks at least that much) on the
core's threads; the transforms reproduce torchvision on PIL images bit for
bit (Pillow's bilinear-with-antialias resampling included) except where DCT
scaling was used (``dct_scaling=False`` turns it off).

>>> register_image_folder('flowers', '/data/flowers')              # doctest: +SKIP
>>> ds = create_dataset('flowers', batch_size=64)                   # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import _lib
from .config import DatasetConfig, get_dataset_config, register_dataset
from .datasets import _PROGRESS_FN, Dataset, _Progress
from .errors import InvalidArgumentError, UnsupportedError

__all__ = [
    "ImageFolderDataset",
    "open_image_folder",
    "register_image_folder",
    "set_image_options",
    "prepare_dataset",
    "apply_transforms",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_lib.declare("snd_images_open", ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64))
_lib.declare("snd_images_scan", ctypes.c_char_p, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_images_info", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare("snd_images_close", ctypes.POINTER(ctypes.c_uint64))
_lib.declare("snd_images_prepare", ctypes.c_char_p, ctypes.c_char_p, _PROGRESS_FN, ctypes.c_void_p, _lib.c_char_pp)
_lib.declare(
    "snd_images_apply",
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),
    ctypes.POINTER(ctypes.c_int64),
    _lib.c_char_pp,
)

_ON_ERROR = ("raise", "skip")


class ImageFolderDataset(Dataset):
    """An opened image-folder dataset; ``BatchLoader`` and ``create_dataset`` take it.

    ``classes`` are the class folder names (wnids for ImageNet) in label
    order, ``class_names`` their readable names, ``skipped_files()`` the
    unreadable images passed over with ``on_error='skip'``.
    """

    _close_function = "snd_images_close"
    _info_function = "snd_images_info"

    def _read_info(self, info: dict[str, Any]) -> None:
        super()._read_info(info)
        self.root: str = info["root"]
        self.classes: list[str] = list(info["classes"])
        self.class_names: list[str] = list(info["class_names"])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def to_arrow(self, split: str = "train") -> Any:
        raise UnsupportedError("image folders are decoded on the fly; there is no decoded split to export")

    def skipped_files(self) -> list[str]:
        """Images skipped so far because they could not be decoded (``on_error='skip'``)."""
        return list(self.info()["skipped"])

    def __repr__(self) -> str:
        return (
            f"ImageFolderDataset({self.name!r}, root={self.root!r}, classes={len(self.classes)}, "
            f"train={self.train_samples}, test={self.test_samples})"
        )


def _options(
    data_dir: str | Path | None,
    cache_dir: str | Path | None,
    force_reload: bool,
    on_error: str | None,
    dct_scaling: bool | None,
) -> dict[str, Any]:
    options: dict[str, Any] = {"force_reload": bool(force_reload)}
    if data_dir is not None:
        options["data_dir"] = str(data_dir)
    if cache_dir is not None:
        options["cache_dir"] = str(cache_dir)
    if on_error is not None:
        if on_error not in _ON_ERROR:
            raise InvalidArgumentError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        options["on_error"] = on_error
    if dct_scaling is not None:
        options["dct_scaling"] = bool(dct_scaling)
    return options


def open_image_folder(
    config: DatasetConfig | str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    force_reload: bool = False,
    on_error: str | None = None,
    dct_scaling: bool | None = None,
    download: bool = True,
    progress: bool = True,
) -> ImageFolderDataset:
    """Opens a registered ``imagefolder`` dataset (the ``create_dataset`` route calls this).

    ``force_reload`` scans the folders even when a prepared pack exists.
    ``on_error`` / ``dct_scaling`` override the registered defaults.
    ``download`` and ``progress`` are accepted for symmetry: ImageNet cannot
    be downloaded automatically (its licence needs a sign-in).
    """
    name = config if isinstance(config, str) else config.name
    handle = ctypes.c_uint64()
    options = _options(data_dir, cache_dir, force_reload, on_error, dct_scaling)
    _lib.call("snd_images_open", _lib.cstr(name), _lib.to_json(options), ctypes.byref(handle))
    return ImageFolderDataset(handle, name)


def _default_transforms(train: bool) -> list[str]:
    if train:
        return ["random_resized_crop", "random_horizontal_flip", "normalize"]
    return ["resize", "center_crop", "normalize"]


def register_image_folder(
    name: str,
    path: str | Path,
    *,
    input_shape: Sequence[int] = (3, 224, 224),
    train_dir: str | None = None,
    test_dir: str | None = None,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
    train_transforms: Sequence[Any] | None = None,
    test_transforms: Sequence[Any] | None = None,
    on_error: str = "raise",
    dct_scaling: bool = True,
    default_batch_size: int = 64,
    full_name: str | None = None,
    description: str | None = None,
    replace: bool = False,
) -> DatasetConfig:
    """Registers a class-folder tree as a dataset usable by ``create_dataset``.

    ``path`` holds ``train/<class>/...`` and ``val/`` (or ``validation/``,
    ``test/``), or is itself the class folders (a train split only).
    ``train_dir`` / ``test_dir`` name the split folders explicitly ("" for
    none, "." for ``path`` itself). Classes are the sorted folder names, as
    torchvision's ImageFolder; sample counts and classes are read now.
    Transforms default to ImageNet's (random_resized_crop + flip +
    normalize / resize + center_crop + normalize) at ``input_shape``'s size;
    ``mean``/``std`` default to ImageNet's.

    >>> cfg = register_image_folder('pets', '/data/pets', input_shape=(3, 128, 128))  # doctest: +SKIP
    """
    root = Path(path).expanduser().resolve()
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) <= 0:
        raise InvalidArgumentError(f"input_shape must be (1 or 3, H, W), got {tuple(input_shape)}")
    if on_error not in _ON_ERROR:
        raise InvalidArgumentError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    metadata: dict[str, Any] = {"root": str(root), "on_error": on_error, "dct_scaling": bool(dct_scaling)}
    if train_dir is not None:
        metadata["train_dir"] = train_dir
    if test_dir is not None:
        metadata["test_dir"] = test_dir
    probe = DatasetConfig(
        name=name,
        full_name=full_name or name,
        description=description or f"Image folder {root}",
        input_shape=shape,
        num_classes=1 << 30,  # counted by the scan below
        default_batch_size=default_batch_size,
        default_train_transforms=list(train_transforms or _default_transforms(True)),
        default_test_transforms=list(test_transforms or _default_transforms(False)),
        mean=tuple(mean) if mean is not None else None,
        std=tuple(std) if std is not None else None,
        format="imagefolder",
        metadata=metadata,
    )
    info = _lib.call_json("snd_images_scan", _lib.to_json(probe.to_json()), _lib.to_json({"use_pack": False}))
    probe.num_classes = len(info["classes"])
    probe.num_train_samples = info["train_samples"]
    probe.num_test_samples = info["test_samples"]
    probe.metadata["classes"] = list(info["class_names"])
    register_dataset(probe, replace=replace)
    return probe


def set_image_options(name: str, *, on_error: str | None = None, dct_scaling: bool | None = None) -> DatasetConfig:
    """Changes how a registered image dataset (``imagenet`` included) treats bad
    images and DCT scaling; later ``create_dataset`` calls see the change.

    >>> set_image_options('imagenet', on_error='skip')   # doctest: +SKIP
    """
    config = get_dataset_config(name)
    if config.format != "imagefolder":
        raise InvalidArgumentError(f"dataset {name!r} is not an image folder (format {config.format!r})")
    if on_error is not None:
        if on_error not in _ON_ERROR:
            raise InvalidArgumentError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        config.metadata["on_error"] = on_error
    if dct_scaling is not None:
        config.metadata["dct_scaling"] = bool(dct_scaling)
    register_dataset(config, replace=True)
    from .factory import clear_dataset_cache

    clear_dataset_cache(name)  # opened copies carry the old options
    return config


def prepare_dataset(
    name: str,
    *,
    max_side: int = 256,
    quality: int = 90,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    splits: Sequence[str] = ("train", "test"),
    threads: int | None = None,
    on_error: str | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Packs an image dataset into one memory-mappable file per split (like FFCV's
    .beton): images whose longer side exceeds ``max_side`` are resized (keeping
    the aspect ratio) and re-encoded as JPEG at ``quality``; the others are
    stored as they are. Later opens read the pack instead of the folder while
    the folder is unchanged. Returns ``{split: pack path}``.

    >>> prepare_dataset('imagenet', max_side=256)   # doctest: +SKIP
    """
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side <= 0:
        raise InvalidArgumentError(f"max_side must be a positive integer, got {max_side!r}")
    options = _options(data_dir, cache_dir, False, on_error, None)
    options.update(max_side=max_side, quality=int(quality), splits=list(splits), threads=int(threads or 0))
    bars = _Progress(progress)
    try:
        out = _lib.call_json("snd_images_prepare", _lib.cstr(name), _lib.to_json(options), bars.callback, None)
    finally:
        bars.close()
    from .factory import clear_dataset_cache

    clear_dataset_cache(name)  # reopen to pick the packs up
    return dict(out["packs"])


def apply_transforms(
    image: bytes | str | Path,
    transforms: Sequence[Any],
    *,
    seed: int = 0,
    size: tuple[int, int] = (224, 224),
    channels: int = 3,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
    dct_scaling: bool = False,
) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """Decodes one JPEG/PNG (bytes or a path) and applies core transforms to it,
    exactly as a loader would for a sample with this seed.

    Returns the float32 CHW tensor and what the random transforms drew
    (``[{'op': 'random_resized_crop', 'top', 'left', 'height', 'width'}, ...]``),
    so a sample can be reproduced with torchvision's functional API.
    """
    data = Path(image).read_bytes() if isinstance(image, (str, Path)) else bytes(image)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer, got {seed!r}")
    options: dict[str, Any] = {
        "transforms": list(transforms),
        "seed": seed,
        "size": [int(size[0]), int(size[1])],
        "channels": int(channels),
        "dct_scaling": bool(dct_scaling),
    }
    if mean is not None and std is not None:
        options["mean"], options["std"] = [float(m) for m in mean], [float(s) for s in std]
    buf = ctypes.create_string_buffer(data, len(data))
    out = ctypes.POINTER(ctypes.c_float)()
    n = ctypes.c_int64()
    meta = ctypes.c_char_p()
    _lib.call(
        "snd_images_apply",
        ctypes.cast(buf, ctypes.c_void_p),
        ctypes.c_int64(len(data)),
        _lib.to_json(options),
        ctypes.byref(out),
        ctypes.byref(n),
        ctypes.byref(meta),
    )
    try:
        info = json.loads(_lib.take_string(meta))
        shape = tuple(info["shape"])
        if n.value != math.prod(shape):
            raise InvalidArgumentError(f"core returned {n.value} values for shape {shape}")
        tensor = torch.from_numpy(np.ctypeslib.as_array(out, shape=(n.value,)).copy())
    finally:
        _lib.lib().snd_free(ctypes.cast(out, ctypes.c_void_p))
    return tensor.view(shape), list(info["steps"] or [])
