"""Dataset metadata and usage tracking, stored durably by the core.

Records live in a SQLite database (WAL mode) under ``$SND_METADATA_DIR``
(default ``~/.cache/structure-net-data/metadata``): several processes can
track usage at once without losing records, and a damaged database raises
:class:`~structure_net_data.errors.CorruptDataError` instead of being
replaced by an empty one.

A cluster shares one PostgreSQL database instead: set ``$SND_METADATA_URI``
(or :func:`configure_metadata` with ``MetadataConfig(uri=...)``) to
``postgresql://user:password@host:port/database``. ``sqlite:///path/metadata.db``
names a SQLite file the same way.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import _lib
from ._handle import Handle
from .errors import NotFoundError, StructureNetDataError

__all__ = [
    "DatasetMetadata",
    "DatasetUsage",
    "MetadataStore",
    "track_dataset_usage",
    "save_dataset_metadata",
    "get_dataset_metadata",
    "get_dataset_usage_history",
    "get_dataset_statistics",
    "dataset_metadata_for",
    "metadata_dir",
    "metadata_uri",
    "explicit_metadata_uri",
    "MetadataConfig",
    "configure_metadata",
]

_lib.declare("snd_metadata_open", ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64))
_lib.declare("snd_metadata_open_uri", ctypes.c_char_p, ctypes.c_double, ctypes.POINTER(ctypes.c_uint64))
_lib.declare("snd_metadata_put_dataset", ctypes.c_uint64, ctypes.c_char_p)
_lib.declare("snd_metadata_get_dataset", ctypes.c_uint64, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_metadata_track_usage", ctypes.c_uint64, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_metadata_history", ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_metadata_stats", ctypes.c_uint64, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_metadata_close", ctypes.POINTER(ctypes.c_uint64))


@dataclass
class DatasetMetadata:
    """What was loaded: identity, provenance, size and preprocessing.

    ``checksum`` digests the SHA-256 of every source file; ``num_samples``
    counts the samples actually served (after subsetting);
    ``preprocessing_steps`` are the transforms actually applied.
    """

    dataset_name: str
    version: str = "1.0"
    source: str = ""
    preprocessing_steps: list[str] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    size_bytes: int = 0
    num_samples: int = 0
    shape: list[int] = field(default_factory=list)
    checksum: str = ""
    download_timestamp: str = ""
    files: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""

    def __init__(self, dataset_name: str, version: str | None = None, dataset_version: str | None = None, **kwargs):
        # The guide says ``version``, the original ``dataset_version``: accept both.
        self.dataset_name = dataset_name
        self.version = version or dataset_version or "1.0"
        for f in fields(self):
            if f.name in ("dataset_name", "version"):
                continue
            if f.name in kwargs:
                setattr(self, f.name, kwargs.pop(f.name))
            else:
                setattr(self, f.name, f.default_factory() if callable(f.default_factory) else f.default)
        if kwargs:
            self.metadata = {**self.metadata, **kwargs}  # extra fields are kept, as pydantic's extra="allow" did

    @property
    def dataset_version(self) -> str:
        return self.version

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetMetadata:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known and v is not None})


@dataclass
class DatasetUsage:
    """One load of a dataset split by an experiment."""

    usage_id: str
    experiment_id: str
    dataset_name: str
    dataset_version: str
    timestamp: str
    subset_used: str = ""
    samples_used: int = 0
    transformations_applied: list[str] = field(default_factory=list)
    loading_time: float | None = None
    subset_info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetUsage:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["transformations_applied"] = values.get("transformations_applied") or []
        values["subset_info"] = values.get("subset_info") or {}
        return cls(**values)


def metadata_dir() -> Path:
    """``$SND_METADATA_DIR``, else a per-user cache folder."""
    env = os.environ.get("SND_METADATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "structure-net-data" / "metadata"


@dataclass
class MetadataConfig:
    """Where the metadata lives.

    ``uri`` is ``sqlite:///path/metadata.db`` or
    ``postgresql://user:password@host:port/database`` (the database must
    exist; the store creates and migrates its tables). ``None`` means
    ``$SND_METADATA_URI``, else the SQLite file in :func:`metadata_dir`.
    ``retry_seconds`` is how long an operation on a server retries after a
    lost connection before it fails naming its record.
    """

    uri: str | None = field(default=None, repr=False)
    retry_seconds: float = 30.0

    def resolved_uri(self) -> str:
        return self.uri or metadata_uri()

    def __repr__(self) -> str:  # never shows the password
        return f"MetadataConfig(uri={_redact(self.uri)!r}, retry_seconds={self.retry_seconds})"


_configured: MetadataConfig | None = None


def configure_metadata(config: MetadataConfig | None) -> None:
    """Sets where this process's metadata functions (``track_dataset_usage``...)
    record; ``None`` goes back to ``$SND_METADATA_URI`` / ``$SND_METADATA_DIR``."""
    global _configured
    _configured = config


def explicit_metadata_uri() -> str | None:
    """The URI set by :func:`configure_metadata` or ``$SND_METADATA_URI``; None for the per-machine default."""
    if _configured is not None and _configured.uri:
        return _configured.uri
    return os.environ.get("SND_METADATA_URI") or None


def metadata_uri() -> str:
    """The configured URI, else ``$SND_METADATA_URI``, else the SQLite file in :func:`metadata_dir`."""
    return explicit_metadata_uri() or "sqlite://" + str(metadata_dir() / "metadata.db")


def _redact(uri: str | None) -> str | None:
    """The URI without its password."""
    if not uri or "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    userinfo, host = rest.rsplit("@", 1)
    return f"{scheme}://{userinfo.split(':', 1)[0]}{':***' if ':' in userinfo else ''}@{host}"


class MetadataStore(Handle):
    """A handle on the metadata database in ``directory``, or the one ``config`` names."""

    _close_function = "snd_metadata_close"

    def __init__(self, directory: str | Path | None = None, *, config: MetadataConfig | None = None) -> None:
        handle = ctypes.c_uint64()
        if directory is not None:
            self.directory: Path | None = Path(directory)
            self.location = str(self.directory / "metadata.db")
            _lib.call("snd_metadata_open", _lib.cstr(str(self.directory)), ctypes.byref(handle))
        else:
            config = config or _configured or MetadataConfig()
            uri = config.resolved_uri()
            self.location = _redact(uri) or ""
            sqlite_file = uri[len("sqlite://") :] if uri.startswith("sqlite://") else None
            self.directory = Path(sqlite_file).parent if sqlite_file else None
            retry = ctypes.c_double(float(config.retry_seconds))
            _lib.call("snd_metadata_open_uri", _lib.cstr(uri), retry, ctypes.byref(handle))
        self._adopt(handle)

    def __repr__(self) -> str:
        return f"MetadataStore({self.location!r})"

    def _h(self) -> ctypes.c_uint64:
        return ctypes.c_uint64(self.handle)

    def put_dataset(self, metadata: DatasetMetadata) -> None:
        _lib.call("snd_metadata_put_dataset", self._h(), _lib.to_json(metadata.to_dict()))

    def get_dataset(self, name: str) -> DatasetMetadata | None:
        try:
            return DatasetMetadata.from_dict(_lib.call_json("snd_metadata_get_dataset", self._h(), _lib.cstr(name)))
        except NotFoundError:
            return None

    def track(self, usage: dict[str, Any]) -> str:
        return _lib.call_string("snd_metadata_track_usage", self._h(), _lib.to_json(usage))

    def history(self, dataset_name: str | None = None, experiment_id: str | None = None) -> list[DatasetUsage]:
        rows = _lib.call_json(
            "snd_metadata_history", self._h(), _lib.cstr(dataset_name or ""), _lib.cstr(experiment_id or "")
        )
        return [DatasetUsage.from_dict(r) for r in rows]

    def statistics(self, dataset_name: str) -> dict[str, Any]:
        return _lib.call_json("snd_metadata_stats", self._h(), _lib.cstr(dataset_name))


_stores: dict[str, MetadataStore] = {}
_stores_lock = threading.Lock()


def _store() -> MetadataStore:
    # One handle per database, so changing $SND_METADATA_URI / $SND_METADATA_DIR takes effect.
    config = _configured or MetadataConfig()
    key = f"{config.resolved_uri()}|{config.retry_seconds}"
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = MetadataStore(config=config)
        return store


def _store_for(dataset_name: str, experiment_id: str) -> MetadataStore:
    """The store, or an error naming the usage record that could not be written."""
    try:
        return _store()
    except StructureNetDataError as e:
        record = f"the use of dataset {dataset_name!r} by experiment {experiment_id!r}"
        raise type(e)(f"could not record {record}: {e}") from e


def save_dataset_metadata(metadata: DatasetMetadata) -> None:
    """Records (or replaces) the metadata of ``metadata.dataset_name``."""
    _store().put_dataset(metadata)


def get_dataset_metadata(dataset_name: str) -> DatasetMetadata | None:
    """The last recorded metadata of a dataset, or None."""
    return _store().get_dataset(dataset_name)


def track_dataset_usage(
    experiment_id: str,
    dataset_metadata: DatasetMetadata | str | None = None,
    subset_info: dict[str, Any] | None = None,
    **original_form: Any,
) -> str:
    """Records that ``experiment_id`` used a dataset; returns the usage id.

    The guide's form is ``track_dataset_usage(experiment_id, dataset_metadata,
    subset_info)``. The original's keyword form also works:
    ``track_dataset_usage(experiment_id, dataset_name=..., dataset_version=...,
    subset_used=..., samples_used=..., transformations_applied=[...], loading_time=...)``.
    """
    subset_info = dict(subset_info or {})
    if isinstance(dataset_metadata, DatasetMetadata):
        name, version = dataset_metadata.dataset_name, dataset_metadata.version
        _store_for(name, experiment_id).put_dataset(dataset_metadata)
        transforms = subset_info.pop("transforms", None) or list(dataset_metadata.preprocessing_steps)
    else:
        name = dataset_metadata or original_form.pop("dataset_name", None)
        version = original_form.pop("dataset_version", "1.0")
        transforms = subset_info.pop("transforms", None) or original_form.pop("transformations_applied", None) or []
    if not name:
        raise TypeError("track_dataset_usage needs dataset_metadata (or dataset_name=)")
    subset_used = original_form.pop("subset_used", None) or subset_info.get("split") or ""
    samples = original_form.pop("samples_used", None)
    if samples is None:
        samples = subset_info.get("size", subset_info.get("samples", 0))
    loading_time = original_form.pop("loading_time", None)
    if loading_time is None:
        loading_time = subset_info.pop("loading_time", None)
    if original_form:
        raise TypeError(f"unexpected arguments: {', '.join(original_form)}")
    return _store_for(name, experiment_id).track(
        {
            "experiment_id": experiment_id,
            "dataset_name": name,
            "dataset_version": version,
            "subset_used": str(subset_used),
            "samples_used": int(samples),
            "transformations_applied": [str(t) for t in transforms],
            "loading_time": loading_time,
            "subset_info": subset_info,
        }
    )


def get_dataset_usage_history(dataset_name: str | None = None, experiment_id: str | None = None) -> list[DatasetUsage]:
    """Usage records (oldest first), optionally filtered by dataset and/or experiment."""
    return _store().history(dataset_name, experiment_id)


def get_dataset_statistics(dataset_name: str) -> dict[str, Any]:
    """Total uses, unique experiments, samples used, split distribution, first/last use."""
    return _store().statistics(dataset_name)


def dataset_metadata_for(dataset: Any, train_loader: Any, test_loader: Any) -> DatasetMetadata:
    """Metadata with real values: source checksums, decoded size, samples after subsetting, transforms."""
    config = dataset.config
    samples = sum(len(loader.dataset) for loader in (train_loader, test_loader) if loader is not None)
    steps = list(getattr(train_loader, "transforms", []) or [])
    stats = {}
    if config.mean is not None:
        stats = {"mean": list(config.mean), "std": list(config.std or ())}
    info = dataset.info() if hasattr(dataset, "info") else {}
    sources = info.get("sources") or []
    files = [s["path"] for s in sources] or list(getattr(dataset, "files", []) or [])
    fetched = ""
    if sources:
        newest = max(s["mtime_ns"] for s in sources) / 1e9
        fetched = datetime.fromtimestamp(newest, timezone.utc).isoformat()
    return DatasetMetadata(
        dataset_name=config.name,
        version=config.version,
        source=os.path.dirname(files[0]) if files else "memory",
        preprocessing_steps=steps,
        statistics=stats,
        size_bytes=int(getattr(dataset, "size_bytes", 0)),
        num_samples=samples,
        shape=list(config.input_shape),
        checksum=info.get("checksum", ""),
        download_timestamp=fetched,
        files=files,
        config=config.to_json(),
        metadata={"file_sha256": {os.path.basename(s["path"]): s["sha256"] for s in sources}},
    )
