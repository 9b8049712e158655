"""Training histories: per-epoch metrics of each experiment, stored in one HDF5
file per experiment that h5py and pandas read without this package, with
slices and summaries that stay fast at millions of epochs, and a crash-safe
streaming writer for training loops.

The storage key of a history is its experiment id. Column types are kept:
ints stay ints, bools stay bools, floats are float64; other values (strings,
lists, dicts) are stored per epoch, aligned with their epoch. A missing float
comes back as NaN; other missing values are left out of the row. Summaries
(count, final, min, max, mean, argmin/argmax, the best value of accuracy- and
loss-like columns) are kept up to date on every write and read without
touching the rows; they ignore NaN.

>>> import tempfile
>>> from structure_net_data.time_series_storage import TimeSeriesConfig, TimeSeriesStorage
>>> storage = TimeSeriesStorage(TimeSeriesConfig(storage_dir=tempfile.mkdtemp()))
>>> key = storage.store_training_history("exp_001", [{"epoch": 0, "loss": 2.3}, {"epoch": 1, "loss": 1.8}])
>>> rows, metadata = storage.retrieve_training_history(key, epochs=slice(-1, None))
>>> rows
[{'epoch': 1, 'loss': 1.8}]
>>> storage.get_summary_statistics(key)["loss_min"]
1.8
>>> storage.close()

Files live in ``TimeSeriesConfig.storage_dir``, else ``$SND_TIMESERIES_DIR``,
else ``<user cache dir>/structure-net-data/timeseries``. The on-disk layout is
documented in the Go package ``core/timeseries`` (doc.go): datasets named after
the columns at the root, masks in ``_snd_masks``, metadata and summaries as
root attributes. While a writer is streaming, open the file with
``h5py.File(path, "r", swmr=True)``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import operator
import os
import weakref
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _lib
from .errors import ClosedError, InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "History",
    "HistoryWriter",
    "TimeSeriesConfig",
    "TimeSeriesStorage",
    "default_storage_dir",
]

_u64p = ctypes.POINTER(ctypes.c_uint64)
_ptrs = ctypes.POINTER(ctypes.c_void_p)

_lib.declare("snd_ts_open", ctypes.c_char_p, _u64p)
_lib.declare("snd_ts_close", _u64p)
_lib.declare("snd_ts_info", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare(
    "snd_ts_put", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64, _ptrs, _ptrs, ctypes.c_char_p
)
_lib.declare(
    "snd_ts_append", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64, _ptrs, _ptrs, ctypes.c_char_p
)
_lib.declare("snd_ts_finish", ctypes.c_uint64, ctypes.c_char_p)
_lib.declare("snd_ts_writer_open", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, _u64p)
_lib.declare("snd_ts_writer_append", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int64, _ptrs, _ptrs)
_lib.declare("snd_ts_writer_close", _u64p)
_lib.declare("snd_ts_read", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, _u64p, _lib.c_char_pp)
_lib.declare("snd_ts_result_column", ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
_lib.declare("snd_ts_result_strings", ctypes.c_uint64, ctypes.c_int64, _lib.c_char_pp)
_lib.declare("snd_ts_result_close", _u64p)
_lib.declare("snd_ts_summary", ctypes.c_uint64, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_ts_delete", ctypes.c_uint64, ctypes.c_char_p)
_lib.declare("snd_ts_list", ctypes.c_uint64, _lib.c_char_pp)
_lib.declare("snd_ts_repair", ctypes.c_uint64, ctypes.c_char_p, _lib.c_char_pp)

_COMPRESSIONS = ("gzip", "lzf", "none")
_NUMERIC = {"float64": np.float64, "int64": np.int64, "bool": np.bool_}


def default_storage_dir() -> Path:
    """``$SND_TIMESERIES_DIR``, else ``<user cache dir>/structure-net-data/timeseries``
    (never relative to the working directory, never ``/data``)."""
    env = os.environ.get("SND_TIMESERIES_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "structure-net-data" / "timeseries"


@dataclasses.dataclass
class TimeSeriesConfig:
    """Where and how histories are stored.

    Args:
        storage_dir: the folder (created on first use); ``None`` means
            :func:`default_storage_dir`.
        compression: ``"gzip"`` (shuffle + deflate; the default, readable
            everywhere), ``"lzf"`` (shuffle + LZF: about twice as fast to
            write, a little larger; h5py reads it natively) or ``"none"``
            (``None`` also means none).
        chunk_size: rows per HDF5 chunk; small chunks make short slices
            cheaper, large ones compress better.
        max_in_memory_cache: finished history files kept open for fast
            repeated reads (0 disables it).
        use_hdf5: ``False`` stores JSON lines instead, with the same API and
            the same results (reading either format works with both).
        use_json: ``True`` is the same as ``use_hdf5=False``.
        compression_level: gzip level, 1-9.
        compact_on_close: rewrite a streamed history compressed when its
            writer closes (streamed files are uncompressed while being written).
        fsync: make every write durable against power loss too, not only
            against a crashed process.
    """

    storage_dir: str | os.PathLike[str] | None = None
    compression: str | None = "gzip"
    chunk_size: int = 1000
    max_in_memory_cache: int = 100
    use_hdf5: bool = True
    use_json: bool = False
    compression_level: int = 4
    compact_on_close: bool = True
    fsync: bool = False

    def __post_init__(self) -> None:
        if self.compression is None:
            self.compression = "none"
        if self.compression not in _COMPRESSIONS:
            raise InvalidArgumentError(f"compression must be one of {_COMPRESSIONS} or None, not {self.compression!r}")
        for name, lo, hi in (
            ("chunk_size", 1, 1 << 24),
            ("compression_level", 1, 9),
            ("max_in_memory_cache", 0, 1 << 20),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidArgumentError(f"{name} must be an int in [{lo}, {hi}], not {value!r}")

    @property
    def backend(self) -> str:
        """``"hdf5"`` or ``"json"``."""
        return "hdf5" if self.use_hdf5 and not self.use_json else "json"

    def resolved_storage_dir(self) -> Path:
        """The folder in use: storage_dir, else :func:`default_storage_dir`."""
        if self.storage_dir is None:
            return default_storage_dir()
        return Path(self.storage_dir).expanduser()

    def _options(self) -> dict[str, Any]:
        return {
            "storage_dir": str(self.resolved_storage_dir()),
            "backend": self.backend,
            "compression": self.compression,
            "compression_level": self.compression_level,
            "chunk_size": self.chunk_size,
            "compact_on_close": self.compact_on_close,
            "fsync": self.fsync,
            "max_cached_files": self.max_in_memory_cache or -1,
        }


def _config(config: TimeSeriesConfig | Mapping[str, Any] | None) -> TimeSeriesConfig:
    if config is None:
        return TimeSeriesConfig()
    if isinstance(config, TimeSeriesConfig):
        return config
    if isinstance(config, Mapping):
        return TimeSeriesConfig(**config)
    raise InvalidArgumentError(f"config must be a TimeSeriesConfig, a dict or None, not {type(config).__name__}")


# ---- Python values -> typed columns -------------------------------------------------


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
_MISSING_TYPES = (type(None), _Missing)


def _category(t: type) -> str:
    if issubclass(t, _MISSING_TYPES) or t.__name__ in ("NAType", "NaTType"):
        return "missing"
    if issubclass(t, (bool, np.bool_)):
        return "bool"
    if issubclass(t, (int, np.integer)):
        return "int"
    if issubclass(t, (float, np.floating)):
        return "float"
    if issubclass(t, str):
        return "str"
    return "json"


def _scalar(v: Any) -> Any:
    """A 0-d array or tensor (``loss`` instead of ``loss.item()``) as its Python value."""
    if getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
        return v.item()
    return v


class _Column:
    __slots__ = ("name", "kind", "values", "valid", "strings")

    def __init__(self, name: str, kind: str, values: np.ndarray | None, valid: np.ndarray | None, strings=None):
        self.name, self.kind, self.values, self.valid, self.strings = name, kind, values, valid, strings


def _json_text(name: str, v: Any) -> str:
    try:
        return json.dumps(v, allow_nan=False, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(
            f"column {name!r}: value {v!r:.60} cannot be stored as JSON ({e}); NaN/inf are only "
            "allowed as plain float values"
        ) from None


def _json_default(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _infer(name: str, values: Sequence[Any]) -> _Column:
    """Types one column of Python values (``_MISSING``/None are missing)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"column names must be strings, not {type(name).__name__} ({name!r})")
    types = set(map(type, values))
    if types == {float}:
        return _Column(name, "float64", np.array(values, dtype=np.float64), None)
    if types == {int}:
        return _Column(name, "int64", _int_array(name, values), None)
    if types == {bool}:
        return _Column(name, "bool", np.array(values, dtype=np.bool_), None)
    if any(_category(t) == "json" for t in types):
        values = [_scalar(v) for v in values]
        types = set(map(type, values))
    cats = {_category(t) for t in types}
    has_missing = "missing" in cats
    cats.discard("missing")
    if not cats:
        return _Column(name, "null", None, None)
    present = (
        np.fromiter((not isinstance(v, _MISSING_TYPES) and _category(type(v)) != "missing" for v in values), bool)
        if has_missing
        else None
    )
    if cats <= {"int", "float"}:
        if "float" in cats:
            arr = np.array([math.nan if _category(type(v)) == "missing" else float(v) for v in values], np.float64)
            return _Column(name, "float64", arr, None)
        filled = [0 if _category(type(v)) == "missing" else int(v) for v in values] if has_missing else values
        return _Column(name, "int64", _int_array(name, filled), _mask(present))
    if cats == {"bool"}:
        filled = [False if _category(type(v)) == "missing" else bool(v) for v in values] if has_missing else values
        return _Column(name, "bool", np.array(filled, dtype=np.bool_), _mask(present))
    if cats & {"int", "float", "bool"} and cats & {"str", "json"}:
        raise InvalidArgumentError(f"column {name!r} mixes numbers and text/objects ({sorted(cats)}); use two columns")
    if "bool" in cats:
        raise InvalidArgumentError(f"column {name!r} mixes bools and numbers; store them as ints or floats")
    if cats == {"str"}:
        strings = [None if _category(type(v)) == "missing" else str(v) for v in values]
        return _Column(name, "string", None, None, strings)
    strings = [None if _category(type(v)) == "missing" else _json_text(name, v) for v in values]
    return _Column(name, "json", None, None, strings)


def _int_array(name: str, values: Sequence[Any]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        raise InvalidArgumentError(f"column {name!r} has an int outside the int64 range") from None


def _mask(present: np.ndarray | None) -> np.ndarray | None:
    if present is None or present.all():
        return None
    return present.astype(np.uint8)


def _from_array(name: str, col: Any, n: int) -> _Column:
    if not isinstance(name, str):
        raise InvalidArgumentError(f"column names must be strings, not {type(name).__name__} ({name!r})")
    arr = np.asarray(col)
    if arr.ndim != 1 or len(arr) != n:
        raise InvalidArgumentError(f"column {name!r} must be 1-D with {n} values, got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "f":
        return _Column(name, "float64", np.ascontiguousarray(arr, dtype=np.float64), None)
    if kind == "b":
        return _Column(name, "bool", np.ascontiguousarray(arr, dtype=np.bool_), None)
    if kind in "iu":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise InvalidArgumentError(f"column {name!r} has a value outside the int64 range")
        return _Column(name, "int64", np.ascontiguousarray(arr, dtype=np.int64), None)
    return _infer(name, arr.tolist())


def _columns(epoch_data: Any) -> tuple[int, list[_Column]]:
    """Typed columns from rows (a sequence of dicts), a dict of columns, or a DataFrame."""
    if hasattr(epoch_data, "columns") and hasattr(epoch_data, "to_numpy") and hasattr(epoch_data, "index"):
        n = len(epoch_data.index)
        return n, [_from_array(str(c), epoch_data[c].to_numpy(), n) for c in epoch_data.columns]
    if isinstance(epoch_data, Mapping):
        lengths = {len(v) for v in epoch_data.values()}
        if len(lengths) > 1:
            raise InvalidArgumentError(f"columns have different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        return n, [_from_array(k, v, n) for k, v in epoch_data.items()]
    if isinstance(epoch_data, (str, bytes)) or not isinstance(epoch_data, Iterable):
        raise InvalidArgumentError(
            f"epoch_data must be a list of dicts, a dict of columns or a DataFrame, not {type(epoch_data).__name__}"
        )
    rows = epoch_data if isinstance(epoch_data, Sequence) else list(epoch_data)
    names, cols = _split_rows(rows)
    return len(rows), [_infer(k, c) for k, c in zip(names, cols, strict=True)]


def _split_rows(rows: Sequence[Any]) -> tuple[list[Any], list[Sequence[Any]]]:
    n = len(rows)
    if n == 0:
        return [], []
    first = rows[0]
    if isinstance(first, Mapping):
        keys = list(first)
        k = len(keys)
        # Fast path: every row has exactly the first row's keys (same count,
        # and indexing finds each key).
        try:
            if k and sum(map(len, rows)) == n * k:
                return keys, [[r[key] for r in rows] for key in keys]
        except (KeyError, TypeError):
            pass
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise InvalidArgumentError(f"epoch {i} is a {type(r).__name__}, not a dict")
    keys = list(dict.fromkeys(chain.from_iterable(rows)))
    return keys, [[r.get(key, _MISSING) for r in rows] for key in keys]


def _call_with_columns(name: str, lead: tuple[Any, ...], n: int, cols: list[_Column], tail: tuple[Any, ...]) -> None:
    spec = []
    for c in cols:
        entry: dict[str, Any] = {"name": c.name, "kind": c.kind}
        if c.strings is not None:
            entry["strings"] = c.strings
        spec.append(entry)
    values = (ctypes.c_void_p * max(1, len(cols)))(
        *[c.values.ctypes.data if c.values is not None else None for c in cols]
    )
    valid = None
    if any(c.valid is not None for c in cols):
        valid = (ctypes.c_void_p * len(cols))(*[c.valid.ctypes.data if c.valid is not None else None for c in cols])
    spec_json = json.dumps({"columns": spec}, ensure_ascii=False).encode("utf-8")
    # cols (and so every array) stays referenced until the call returns; the
    # core copies what it keeps.
    _lib.call(name, *lead, spec_json, ctypes.c_int64(n), values, valid, *tail)


def _metadata_json(metadata: Mapping[str, Any] | None) -> bytes | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        return json.dumps(dict(metadata), allow_nan=False, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"metadata cannot be stored as JSON: {e}") from None


def _selection(epochs: Any) -> bytes | None:
    if epochs is None:
        return None
    if isinstance(epochs, (bool, np.bool_)):
        raise InvalidArgumentError("epochs must be None, an int, a slice or a list of ints, not a bool")
    if isinstance(epochs, (int, np.integer)):
        return json.dumps({"kind": "index", "index": int(epochs)}).encode()
    if isinstance(epochs, slice):
        try:
            parts = {
                k: None if v is None else operator.index(v)
                for k, v in (("start", epochs.start), ("stop", epochs.stop), ("step", epochs.step))
            }
        except TypeError:
            raise InvalidArgumentError(f"slice bounds must be ints or None: {epochs!r}") from None
        return json.dumps({"kind": "slice", **parts}).encode()
    if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Iterable):
        raise InvalidArgumentError(
            f"epochs must be None, an int, a slice or a list of ints, not {type(epochs).__name__}"
        )
    indices = []
    for e in epochs:
        if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, np.integer)):
            raise InvalidArgumentError(f"epoch indices must be ints, got {e!r}")
        indices.append(int(e))
    return json.dumps({"kind": "list", "indices": indices}).encode()


# ---- typed columns -> rows -----------------------------------------------------------


class History(list):
    """The rows of a training history (a list of dicts) plus its columns.

    ``columns`` maps each name to a numpy array (float64, int64, bool) or, for
    string and JSON columns, a list; ``masks`` maps a column that misses
    values to its bool mask (True = present). :meth:`to_pandas` builds a
    DataFrame straight from the columns.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        columns: dict[str, Any],
        kinds: dict[str, str],
        masks: dict[str, np.ndarray],
        *,
        experiment_id: str,
        total_epochs: int,
    ) -> None:
        super().__init__(rows)
        self.columns = columns
        self.kinds = kinds
        self.masks = masks
        self.experiment_id = experiment_id
        self.total_epochs = total_epochs

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with one column per history column, types kept
        (nullable ``Int64``/``boolean`` for int and bool columns that miss values)."""
        import pandas as pd

        data: dict[str, Any] = {}
        for name, values in self.columns.items():
            mask = self.masks.get(name)
            kind = self.kinds[name]
            if mask is not None and kind in ("int64", "bool"):
                data[name] = pd.array(
                    np.where(mask, values, 0 if kind == "int64" else False),
                    dtype="Int64" if kind == "int64" else "boolean",
                )
                data[name][~mask] = pd.NA
            elif kind in ("string", "json"):
                data[name] = pd.Series(values, dtype=object)
            else:
                data[name] = values
        return pd.DataFrame(data, index=pd.RangeIndex(len(self)))


def _rows(names: list[str], lists: list[list[Any]], absent: dict[int, np.ndarray], n: int) -> list[dict[str, Any]]:
    if not names:
        return [{} for _ in range(n)]
    rows = [dict(zip(names, vals, strict=True)) for vals in zip(*lists, strict=True)]
    for j, missing_at in absent.items():
        key = names[j]
        for i in missing_at.tolist():
            del rows[i][key]
    return rows


# ---- the storage -------------------------------------------------------------------------


class TimeSeriesStorage:
    """Training histories in one folder, one file per experiment.

    Safe to share between threads; several processes may use one folder at
    once, with one writer per experiment at a time (a second writer gets
    :class:`~structure_net_data.errors.ConflictError`).

    Args:
        config: a :class:`TimeSeriesConfig`, a dict of its fields, or None.
    """

    def __init__(self, config: TimeSeriesConfig | Mapping[str, Any] | None = None) -> None:
        self.config = _config(config)
        self.storage_dir = self.config.resolved_storage_dir()
        self.storage_path = self.storage_dir
        self.use_hdf5 = self.config.backend == "hdf5"
        handle = ctypes.c_uint64()
        _lib.call("snd_ts_open", _lib.to_json(self.config._options()), ctypes.byref(handle))
        self._handle = handle
        # Closes the store (finishing open append writers) when the object is
        # collected or the interpreter exits.
        self._finalizer = weakref.finalize(self, _close_store, handle)

    # ---- plumbing ----

    def _h(self) -> ctypes.c_uint64:
        if not self._handle.value:
            raise ClosedError("time-series storage is closed")
        return self._handle

    @staticmethod
    def _key(key: str) -> bytes:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"storage keys (experiment ids) are strings, not {type(key).__name__}")
        cs = _lib.cstr(key)
        assert cs is not None
        return cs

    def close(self) -> None:
        """Finishes open append writers and releases the store. Idempotent."""
        self._finalizer()

    def __enter__(self) -> TimeSeriesStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, Any]:
        """Options in effect, the libhdf5 version and which filters it has."""
        return _lib.call_json("snd_ts_info", self._h())

    # ---- writing ----

    def store_training_history(
        self,
        experiment_id: str,
        epoch_data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Stores a whole history, replacing any earlier one atomically.

        Args:
            experiment_id: any non-empty string (it never becomes a file name).
            epoch_data: a list of per-epoch dicts (keys may differ between
                epochs), a dict of equal-length columns, or a DataFrame.
            metadata: a JSON-able dict stored with the history.

        Returns:
            The storage key (the experiment id).
        """
        key = self._key(experiment_id)
        n, cols = _columns(epoch_data)
        _call_with_columns("snd_ts_put", (self._h(), key), n, cols, (_metadata_json(metadata),))
        return experiment_id

    def append_epoch(self, storage_key: str, row: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        """Appends one epoch (creating the history). Durable on return: a crash
        afterwards loses nothing. The experiment stays locked for this store
        until :meth:`finish` or :meth:`close`."""
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(f"row must be a dict, not {type(row).__name__}")
        self.append_epochs(storage_key, [row], metadata)

    def append_epochs(
        self,
        storage_key: str,
        epoch_data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Appends several epochs at once (same forms as ``store_training_history``)."""
        key = self._key(storage_key)
        n, cols = _columns(epoch_data)
        _call_with_columns("snd_ts_append", (self._h(), key), n, cols, (_metadata_json(metadata),))

    def finish(self, storage_key: str | None = None) -> None:
        """Closes the append writer of one history (all when None): releases its
        lock for other writers and compacts the file."""
        _lib.call("snd_ts_finish", self._h(), None if storage_key is None else self._key(storage_key))

    def writer(self, experiment_id: str, metadata: Mapping[str, Any] | None = None) -> HistoryWriter:
        """A streaming writer for a training loop; use it as a context manager.

        >>> with storage.writer("exp_002", {"model": "resnet18"}) as w:   # doctest: +SKIP
        ...     for epoch in range(epochs):
        ...         w.append({"epoch": epoch, "loss": train_one_epoch()})
        """
        return HistoryWriter(self, experiment_id, metadata)

    # ---- reading ----

    def retrieve_training_history(
        self, storage_key: str, epochs: int | slice | Sequence[int] | None = None
    ) -> tuple[History, dict[str, Any]]:
        """Reads the selected epochs (all when None) without reading the others.

        ``epochs`` follows Python indexing: ``-1`` is the last epoch,
        ``slice(-10, None)`` the last ten, ``[0, 5, -1]`` those three in that
        order. Returns ``(rows, metadata)``; ``rows`` is a :class:`History`.
        """
        key = self._key(storage_key)
        result = ctypes.c_uint64()
        info = json.loads(_lib.call_string("snd_ts_read", self._h(), key, _selection(epochs), ctypes.byref(result)))
        try:
            n = info["rows"]
            names, lists, columns, kinds, masks, absent = [], [], {}, {}, {}, {}
            for j, col in enumerate(info["columns"]):
                name, kind = col["name"], col["kind"]
                names.append(name)
                kinds[name] = kind
                if kind in _NUMERIC:
                    values = np.empty(n, dtype=_NUMERIC[kind])
                    valid = np.empty(n, dtype=np.bool_) if col["masked"] else None
                    _lib.call(
                        "snd_ts_result_column",
                        result,
                        ctypes.c_int64(j),
                        values.ctypes.data_as(ctypes.c_void_p),
                        None if valid is None else valid.ctypes.data_as(ctypes.c_void_p),
                        ctypes.c_int64(n),
                    )
                    columns[name] = values
                    lists.append(values.tolist())
                    if valid is not None:
                        masks[name] = valid
                        absent[j] = np.flatnonzero(~valid)
                else:
                    texts = _lib.call_json("snd_ts_result_strings", result, ctypes.c_int64(j))
                    if kind == "json":
                        texts = [None if t is None else json.loads(t) for t in texts]
                    present = np.fromiter((t is not None for t in texts), bool, count=n)
                    columns[name] = texts
                    lists.append(texts)
                    if not present.all():
                        masks[name] = present
                        absent[j] = np.flatnonzero(~present)
        finally:
            _lib.call("snd_ts_result_close", ctypes.byref(result))
        rows = _rows(names, lists, absent, n)
        history = History(
            rows, columns, kinds, masks, experiment_id=info["experiment_id"], total_epochs=info["total_rows"]
        )
        return history, info["metadata"] or {}

    def get_summary_statistics(self, storage_key: str) -> dict[str, Any]:
        """Statistics kept up to date on every write, read without reading rows.

        Returns ``num_epochs``, ``storage_time`` (when the history was
        created), ``updated``, ``columns`` (per column: count, missing,
        nan_count, final, final_index, min, max, mean, argmin, argmax; NaN is
        ignored and indexes are 0-based epoch positions), ``best`` (for
        accuracy-like columns the max, for loss-like ones the min, with its
        index), and the original's flat keys ``<col>_final``, ``<col>_min``,
        ``<col>_max``, ``<col>_mean`` for numeric columns.
        """
        raw = _lib.call_json("snd_ts_summary", self._h(), self._key(storage_key))
        out: dict[str, Any] = {
            "experiment_id": raw["experiment_id"],
            "num_epochs": raw["num_epochs"],
            "storage_time": raw["created"],
            "updated": raw["updated"],
            "backend": raw["backend"],
            "path": raw["path"],
        }
        columns: dict[str, Any] = {}
        for col in raw["columns"]:
            name, kind = col.pop("name"), col["kind"]
            if kind == "float64":
                for f in ("final", "min", "max", "mean"):
                    if col[f] is None:
                        col[f] = math.nan
            elif kind in ("int64", "bool") and col["mean"] is None:
                col["mean"] = math.nan
            columns[name] = col
            if kind in _NUMERIC:
                for f in ("final", "min", "max", "mean"):
                    out[f"{name}_{f}"] = col[f]
        out["columns"] = columns
        out["best"] = raw["best"]
        return out

    def list_histories(self) -> list[str]:
        """The experiment ids (= storage keys) with a stored history, sorted."""
        return _lib.call_json("snd_ts_list", self._h())

    def delete_training_history(self, storage_key: str) -> None:
        """Deletes a history. Raises NotFoundError when there is none and
        ConflictError while another writer streams to it."""
        _lib.call("snd_ts_delete", self._h(), self._key(storage_key))

    def repair(self, storage_key: str) -> dict[str, Any]:
        """Repairs a history whose writer was killed with it open, as ``h5clear -s``
        would and more: a killed HDF5 writer leaves the file marked "open for
        writing", which plain HDF5 readers refuse (``h5py.File(path, 'r')``:
        "file is already open for write"). The repair keeps every committed
        epoch, drops anything after them (also a JSON append cut short) and
        closes the file cleanly; a clean history is left alone. Opening a
        writer on the history does the same. Raises ConflictError while a live
        writer holds it (its file is marked open too, rightly).

        Returns ``{"id", "path", "backend", "damage" ("" when clean),
        "repaired", "rows"}``.
        """
        return _lib.call_json("snd_ts_repair", self._h(), self._key(storage_key))

    #: Another name for :meth:`repair`.
    recover = repair

    def history_path(self, storage_key: str) -> Path:
        """The file holding a history, for reading it with h5py or pandas
        (file names are derived from a hash of the id, never the raw id)."""
        return Path(_lib.call_json("snd_ts_summary", self._h(), self._key(storage_key))["path"])

    def plot_history(
        self,
        storage_key: str,
        columns: Sequence[str] | None = None,
        *,
        epochs: int | slice | Sequence[int] | None = None,
        x: str | None = "epoch",
    ) -> Figure:
        """A matplotlib Figure with one line per column (default: every numeric
        column except ``x``) against ``x`` (the ``epoch`` column when present,
        else the epoch index)."""
        from matplotlib.figure import Figure

        rows, _ = self.retrieve_training_history(storage_key, epochs)
        numeric = [n for n, k in rows.kinds.items() if k in ("float64", "int64")]
        wanted = list(columns) if columns is not None else [n for n in numeric if n != x]
        unknown = [c for c in wanted if c not in rows.columns]
        if unknown:
            raise InvalidArgumentError(
                f"no column {unknown[0]!r} in history {storage_key!r}; it has {list(rows.columns)}"
            )
        not_numeric = [c for c in wanted if c not in numeric]
        if not_numeric:
            raise InvalidArgumentError(f"column {not_numeric[0]!r} is not numeric and cannot be plotted")
        xs = rows.columns[x] if x in rows.columns and rows.kinds[x] in ("float64", "int64") else np.arange(len(rows))
        fig = Figure(figsize=(8, 4.5))
        ax = fig.add_subplot()
        for name in wanted:
            ys = rows.columns[name].astype(np.float64)
            mask = rows.masks.get(name)
            if mask is not None:
                ys = np.where(mask, ys, np.nan)
            ax.plot(xs, ys, label=name)
        ax.set_xlabel(x if x in rows.columns else "epoch index")
        ax.set_title(f"training history {storage_key}")
        if wanted:
            ax.legend()
        ax.grid(True, alpha=0.3)
        return fig

    def __repr__(self) -> str:
        return f"TimeSeriesStorage({str(self.storage_dir)!r}, backend={self.config.backend!r})"


def _close_store(handle: ctypes.c_uint64) -> None:
    if handle.value:
        try:
            _lib.call("snd_ts_close", ctypes.byref(handle))
        except Exception:  # never raise from a finalizer or at exit
            handle.value = 0


class HistoryWriter:
    """Streams epochs into one history; holds the experiment's lock until closed.

    Each :meth:`append` is durable when it returns; a process killed at any
    moment loses at most the epoch being appended, and readers (this or
    other processes, h5py with ``swmr=True``) see every appended epoch.
    """

    def __init__(self, storage: TimeSeriesStorage, experiment_id: str, metadata: Mapping[str, Any] | None = None):
        self.storage = storage
        self.experiment_id = experiment_id
        handle = ctypes.c_uint64()
        _lib.call(
            "snd_ts_writer_open",
            storage._h(),
            storage._key(experiment_id),
            _metadata_json(metadata),
            ctypes.byref(handle),
        )
        self._handle = handle
        self._finalizer = weakref.finalize(self, _close_writer, handle)

    def append(self, row: Mapping[str, Any]) -> None:
        """Appends one epoch."""
        if not isinstance(row, Mapping):
            raise InvalidArgumentError(f"row must be a dict, not {type(row).__name__}")
        self.extend([row])

    def extend(self, epoch_data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | pd.DataFrame) -> None:
        """Appends several epochs at once."""
        if not self._handle.value:
            raise ClosedError(f"writer for {self.experiment_id!r} is closed")
        n, cols = _columns(epoch_data)
        _call_with_columns("snd_ts_writer_append", (self._handle,), n, cols, ())

    def close(self) -> None:
        """Releases the lock and compacts the file. Idempotent."""
        if self._handle.value:
            _lib.call("snd_ts_writer_close", ctypes.byref(self._handle))
        self._finalizer.detach()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_writer(handle: ctypes.c_uint64) -> None:
    if handle.value:
        try:
            _lib.call("snd_ts_writer_close", ctypes.byref(handle))
        except Exception:
            handle.value = 0
