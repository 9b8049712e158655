"""JSON encoding of experiment data for the core: numpy, torch, pydantic and
dataclass values become plain JSON, and NaN/inf are rejected with the path
of the offending value (the core stores numbers typed, never as strings)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import pathlib
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidArgumentError


def _default(obj: Any) -> Any:
    """json.dumps hook for the non-builtin types experiment data carries."""
    if hasattr(obj, "model_dump") and callable(obj.model_dump):  # pydantic v2
        return obj.model_dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, Mapping):
        return dict(obj)
    item = getattr(obj, "item", None)
    if callable(item) and getattr(obj, "shape", None) == ():  # numpy / torch scalars
        return item()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy arrays, torch tensors
        return tolist()
    raise TypeError(f"values of type {type(obj).__name__} cannot be stored as JSON")


def _find_bad(obj: Any, path: str) -> str | None:
    """Path of the first NaN/inf or unencodable value in obj, for error messages."""
    if isinstance(obj, float):
        return path if not math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return None
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            found = _find_bad(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _find_bad(v, f"{path}[{i}]")
            if found:
                return found
        return None
    try:
        return _find_bad(_default(obj), path)
    except TypeError:
        return path or "<value>"


def dumps(obj: Any, what: str) -> str:
    """Compact JSON of obj; raises InvalidArgumentError naming the bad value's path."""
    try:
        return json.dumps(obj, default=_default, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, TypeError) as exc:
        where = _find_bad(obj, "")
        detail = f" at {where}" if where else ""
        if isinstance(exc, ValueError) and "Out of range" in str(exc):
            raise InvalidArgumentError(
                f"{what}: NaN or infinity{detail} cannot be stored; replace it with None (stored as absent)"
            ) from None
        raise InvalidArgumentError(f"{what}: {exc}{detail}") from None


def to_plain(obj: Any, what: str) -> Any:
    """obj as plain Python JSON values (dicts, lists, str, int, float, bool, None)."""
    return json.loads(dumps(obj, what))


def experiment_dict(data: Any, what: str) -> Any:
    """An experiment given as a dict, a pydantic model, a dataclass or an object
    with to_dict(); returned as-is when already a Mapping."""
    if isinstance(data, Mapping):
        return data
    for name in ("model_dump", "to_dict", "dict"):
        fn = getattr(data, name, None)
        if callable(fn):
            return fn()
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.asdict(data)
    raise InvalidArgumentError(f"{what}: expected a dict (or a pydantic model / dataclass), got {type(data).__name__}")
