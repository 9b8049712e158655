"""The experiment store: an embedded on-disk store by default, or a Chroma server.

:class:`ChromaConfig` picks the backend. Without ``host`` the store is
embedded: a SQLite database per collection under ``persist_directory``, safe
for several processes writing at once (parallel experiments), crash-safe, with
exact cosine search. With ``host`` it is a Chroma server reached over HTTP.
Both backends accept the same filters and return the same results.

:func:`get_chroma_client` returns one shared client per distinct config (the
original returned the first client for every later config).

>>> import tempfile
>>> client = get_chroma_client(ChromaConfig(persist_directory=tempfile.mkdtemp()))
>>> client.count()
0
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import math
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _lib
from ..errors import ClosedError, InvalidArgumentError, NotFoundError, StructureNetDataError, UnavailableError
from . import _json

__all__ = [
    "ChromaConfig",
    "ChromaSearchClient",
    "PartialWriteError",
    "default_persist_directory",
    "get_chroma_client",
    "reset_chroma_client",
]

_U64_P = ctypes.POINTER(ctypes.c_uint64)
_I64_P = ctypes.POINTER(ctypes.c_int64)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)
_H = ctypes.c_uint64

_lib.declare("snd_search_open", ctypes.c_char_p, _U64_P)
_lib.declare("snd_search_close", _U64_P)
_lib.declare("snd_search_info", _H, _lib.c_char_pp)
_lib.declare("snd_search_index", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_similar", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_by_architecture", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_by_performance", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_by_hypothesis", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_get_experiment", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_delete_experiments", _H, ctypes.c_char_p)
_lib.declare("snd_search_count", _H, _I64_P)
_lib.declare("snd_search_reset", _H)
_lib.declare("snd_search_upsert", _H, ctypes.c_char_p, _FLOAT_P, ctypes.c_int64, ctypes.c_int64, _lib.c_char_pp)
_lib.declare("snd_search_query", _H, _FLOAT_P, ctypes.c_int64, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_get", _H, ctypes.c_char_p, _lib.c_char_pp)
_lib.declare("snd_search_delete", _H, ctypes.c_char_p)


def default_persist_directory() -> str:
    """``$SND_CHROMA_DIR``, else ``<user cache dir>/structure-net-data/chroma``
    (never relative to the working directory)."""
    env = os.environ.get("SND_CHROMA_DIR")
    if env:
        return str(Path(env).expanduser().resolve())
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "structure-net-data" / "chroma")


@dataclasses.dataclass
class ChromaConfig:
    """Where experiments are stored and searched.

    The first fields are the original's (``embedding_dim`` is honoured now;
    ``anonymized_telemetry`` is kept for compatibility and unused). Set
    ``host`` to use a Chroma server instead of the embedded store.

    Attributes:
        persist_directory: embedded store folder; None means
            :func:`default_persist_directory` (``$SND_CHROMA_DIR`` or the user cache).
        collection_name: experiments collection; architectures go to
            ``<collection_name>_arch``.
        allow_reset: permits :meth:`ChromaSearchClient.reset_collection`.
        default_n_results: n_results used when a search is given ``None``.
        max_n_results: None for no limit; otherwise larger requests raise
            (they are never silently capped).
        embedding_dim / architecture_embedding_dim: vector sizes (384 / 128).
        host, port, ssl, headers, auth_token, auth_header, tenant, database:
            the Chroma server and how to reach it; ``auth_token`` is sent as
            ``Authorization: Bearer <token>`` or in ``auth_header``
            (``"X-Chroma-Token"``). A missing tenant or database is created.
        timeout: seconds per server request; max_retries: retries of transient
            server failures (with backoff); batch_size: records per request
            (None: the server's maximum).
        busy_timeout: seconds an embedded writer waits for another process.

    >>> ChromaConfig(host="chroma.internal", port=8000).backend
    'chroma'
    """

    persist_directory: str | os.PathLike[str] | None = None
    collection_name: str = "structure_net_experiments"
    anonymized_telemetry: bool = False
    allow_reset: bool = False
    default_n_results: int = 10
    max_n_results: int | None = None
    embedding_dim: int = 384
    architecture_embedding_dim: int = 128
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    headers: dict[str, str] | None = None
    auth_token: str | None = None
    auth_header: str = "Authorization"
    tenant: str = "default_tenant"
    database: str = "default_database"
    timeout: float = 30.0
    max_retries: int = 4
    batch_size: int | None = None
    busy_timeout: float = 60.0

    @property
    def backend(self) -> str:
        """``"chroma"`` when a host is set, else ``"embedded"``."""
        return "chroma" if self.host else "embedded"

    def resolved_persist_directory(self) -> str:
        """The absolute persist directory of the embedded backend."""
        if self.persist_directory is None:
            return default_persist_directory()
        return str(Path(self.persist_directory).expanduser().resolve())

    def to_core(self) -> dict[str, Any]:
        """The config as the core's JSON (see ``snd_search_open``)."""
        if self.max_n_results is not None and self.max_n_results <= 0:
            raise InvalidArgumentError(f"max_n_results must be positive or None, got {self.max_n_results}")
        core: dict[str, Any] = {
            "backend": self.backend,
            "collection_name": self.collection_name,
            "allow_reset": bool(self.allow_reset),
            "max_n_results": int(self.max_n_results or 0),
            "embedding_dim": int(self.embedding_dim),
            "architecture_embedding_dim": int(self.architecture_embedding_dim),
        }
        if self.backend == "embedded":
            core["persist_directory"] = self.resolved_persist_directory()
            core["busy_timeout"] = float(self.busy_timeout)
        else:
            core.update(
                host=self.host,
                port=int(self.port),
                ssl=bool(self.ssl),
                headers=dict(self.headers or {}),
                auth_token=self.auth_token or "",
                auth_header=self.auth_header,
                tenant=self.tenant,
                database=self.database,
                timeout=float(self.timeout),
                max_retries=int(self.max_retries) if self.max_retries else -1,
                batch_size=int(self.batch_size or 0),
            )
        return core

    def key(self) -> str:
        """Identity of the store this config opens (for :func:`get_chroma_client`)."""
        return json.dumps(self.to_core(), sort_keys=True)


def as_config(config: ChromaConfig | Mapping[str, Any] | None) -> ChromaConfig:
    """Accepts a ChromaConfig, a dict of its fields, or None (defaults)."""
    if config is None:
        return ChromaConfig()
    if isinstance(config, ChromaConfig):
        return config
    if isinstance(config, Mapping):
        names = {f.name for f in dataclasses.fields(ChromaConfig)}
        unknown = set(config) - names
        if unknown:
            raise InvalidArgumentError(f"unknown ChromaConfig fields: {sorted(unknown)}")
        return ChromaConfig(**config)
    raise InvalidArgumentError(f"config must be a ChromaConfig, a dict or None, got {type(config).__name__}")


class PartialWriteError(UnavailableError):
    """A Chroma server failed part-way through a batch.

    ``written_ids`` were stored; ``unconfirmed_ids`` may or may not have been.
    Writes are upserts, so writing the unconfirmed ones again is safe.
    """

    def __init__(self, message: str, written_ids: list[str], unconfirmed_ids: list[str]) -> None:
        super().__init__(message)
        self.written_ids = written_ids
        self.unconfirmed_ids = unconfirmed_ids


def clean_metadata(metadata: Mapping[str, Any] | None, what: str = "metadata") -> dict[str, Any] | None:
    """Metadata as the store keeps it: str/int/float/bool values, nested dicts
    flattened to dotted keys (``config.lr``), lists as JSON text, None left out.
    NaN/inf raise InvalidArgumentError."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"{what} must be a dict, got {type(metadata).__name__}")
    # Fast path: flat metadata of plain values needs no conversion.
    out_fast: dict[str, Any] = {}
    for k, v in metadata.items():
        t = type(v)
        if not isinstance(k, str) or not (t in (str, int, bool) or (t is float and math.isfinite(v)) or v is None):
            break
        if v is not None:
            out_fast[k] = v
    else:
        return out_fast or None
    plain = _json.to_plain(dict(metadata), what)
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            out[prefix] = json.dumps(value)
        else:
            out[prefix] = value

    walk("", plain)
    return out or None


class ChromaSearchClient:
    """A connection to one experiment store (both of its collections).

    Raw-vector methods (``add_experiment``, ``search_similar``, ``get``,
    ``query``...) act on the experiments collection. Closing is idempotent; a
    closed client raises :class:`~structure_net_data.errors.ClosedError`.
    """

    def __init__(self, config: ChromaConfig | Mapping[str, Any] | None = None) -> None:
        self.config = as_config(config)
        handle = ctypes.c_uint64()
        _lib.call("snd_search_open", _lib.cstr(_json.dumps(self.config.to_core(), "config")), ctypes.byref(handle))
        self._handle = handle

    # -- lifecycle ---------------------------------------------------------------
    @property
    def handle(self) -> ctypes.c_uint64:
        if not getattr(self, "_handle", None) or not self._handle.value:
            raise ClosedError("the search client is closed")
        return self._handle

    def close(self) -> None:
        """Releases the store. Idempotent."""
        if getattr(self, "_handle", None) is not None and self._handle.value:
            _lib.call("snd_search_close", ctypes.byref(self._handle))

    def __enter__(self) -> ChromaSearchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        where = self.config.host if self.config.backend == "chroma" else self.config.resolved_persist_directory()
        return f"ChromaSearchClient({self.config.backend}, {where!r}, collection={self.config.collection_name!r})"

    def info(self) -> dict[str, Any]:
        """Backend, distance space, dimension, effective config (no secrets) and server version."""
        return _lib.call_json("snd_search_info", self.handle)

    # -- calls that may write part of a batch -------------------------------------
    def _call_write(self, name: str, *args: Any) -> None:
        report = ctypes.c_char_p()
        try:
            _lib.call(name, *args, ctypes.byref(report))
        except StructureNetDataError as exc:
            text = _lib.take_string(report)
            if not text:
                raise
            r = json.loads(text)
            if isinstance(exc, UnavailableError):
                raise PartialWriteError(str(exc), r["written"], r["unconfirmed"]) from None
            # The server rejected a later chunk: same lists, the error's own kind.
            exc.written_ids, exc.unconfirmed_ids = r["written"], r["unconfirmed"]
            raise
        _lib.take_string(report)

    # -- the original client's API ---------------------------------------------------
    def count(self) -> int:
        """Number of experiments indexed."""
        n = ctypes.c_int64()
        _lib.call("snd_search_count", self.handle, ctypes.byref(n))
        return n.value

    def add_experiment(
        self,
        experiment_id: str,
        embedding: Sequence[float] | np.ndarray,
        metadata: Mapping[str, Any] | None = None,
        document: str | None = None,
    ) -> None:
        """Upserts one record with a precomputed embedding."""
        self.upsert([experiment_id], [embedding], [metadata], [document])

    def add_experiments_batch(
        self,
        experiment_ids: Sequence[str],
        embeddings: Sequence[Sequence[float]] | np.ndarray,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        documents: Sequence[str | None] | None = None,
    ) -> None:
        """Upserts records with precomputed embeddings."""
        self.upsert(experiment_ids, embeddings, metadatas, documents)

    def search_similar(
        self,
        query_embedding: Sequence[float] | np.ndarray,
        n_results: int | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
    ) -> dict[str, list[Any]]:
        """Nearest records: ``{'ids', 'distances', 'metadatas', 'documents'}``, flat lists."""
        res = self.query(query_embedding, n_results, where, where_document, include=("metadatas", "documents"))
        return {k: res.get(k, []) for k in ("ids", "distances", "metadatas", "documents")}

    def get_experiment(self, experiment_id: str) -> dict[str, Any] | None:
        """``{'id', 'metadata', 'document', 'embedding'}`` or None when absent."""
        res = self.get(ids=[experiment_id], include=("metadatas", "documents", "embeddings"))
        if not res["ids"]:
            return None
        return {
            "id": res["ids"][0],
            "metadata": res["metadatas"][0],
            "document": res["documents"][0],
            "embedding": np.asarray(res["embeddings"][0], dtype=np.float32),
        }

    def update_experiment(
        self,
        experiment_id: str,
        embedding: Sequence[float] | np.ndarray | None = None,
        metadata: Mapping[str, Any] | None = None,
        document: str | None = None,
    ) -> None:
        """Changes some fields of a stored record: metadata keys are merged in
        (like Chroma's update), the embedding and document replaced when given."""
        old = self.get_experiment(experiment_id)
        if old is None:
            raise NotFoundError(f"no record with id {experiment_id!r}")
        merged = dict(old["metadata"] or {})
        merged.update(clean_metadata(metadata) or {})
        self.upsert(
            [experiment_id],
            [old["embedding"] if embedding is None else embedding],
            [merged],
            [old["document"] if document is None else document],
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Deletes one experiment (both collections); unknown ids are ignored."""
        self.delete_experiments([experiment_id])

    def delete_experiments(self, experiment_ids: Sequence[str]) -> None:
        """Deletes experiments from both collections; unknown ids are ignored."""
        ids = _ids(experiment_ids)
        _lib.call("snd_search_delete_experiments", self.handle, _lib.cstr(_json.dumps(ids, "ids")))

    def reset_collection(self) -> None:
        """Deletes every experiment; raises ValueError unless ``allow_reset``."""
        _lib.call("snd_search_reset", self.handle)

    # -- Chroma-style raw access ---------------------------------------------------------
    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]] | np.ndarray,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        documents: Sequence[str | None] | None = None,
    ) -> None:
        """Inserts or replaces whole records. Metadata is cleaned with
        :func:`clean_metadata`. Raises :class:`PartialWriteError` when a server
        fails part-way."""
        ids = _ids(ids)
        vecs = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
        if len(ids) == 0:
            return
        if vecs.ndim != 2 or vecs.shape[0] != len(ids):
            raise InvalidArgumentError(f"embeddings must have shape ({len(ids)}, dim), got {vecs.shape}")
        if metadatas is not None and len(metadatas) != len(ids):
            raise InvalidArgumentError(f"{len(metadatas)} metadatas for {len(ids)} ids")
        if documents is not None and len(documents) != len(ids):
            raise InvalidArgumentError(f"{len(documents)} documents for {len(ids)} ids")
        records = {
            "ids": ids,
            "metadatas": None
            if metadatas is None
            else [clean_metadata(m, f"metadata of {i!r}") for i, m in zip(ids, metadatas, strict=True)],
            "documents": None if documents is None else list(documents),
        }
        self._call_write(
            "snd_search_upsert",
            self.handle,
            _lib.cstr(_json.dumps(records, "records")),
            vecs.ctypes.data_as(_FLOAT_P),
            ctypes.c_int64(vecs.shape[0]),
            ctypes.c_int64(vecs.shape[1]),
        )

    def query(
        self,
        query_embedding: Sequence[float] | np.ndarray,
        n_results: int | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("metadatas", "documents"),
    ) -> dict[str, list[Any]]:
        """Nearest records to one vector: ``{'ids', 'distances', 'metadatas'?,
        'documents'?, 'embeddings'?}``, nearest first (distance 1 - cosine)."""
        q = np.ascontiguousarray(np.asarray(query_embedding, dtype=np.float32).reshape(-1))
        request = {
            "n_results": self.config.default_n_results if n_results is None else n_results,
            "where": _filters(where, "where"),
            "where_document": _filters(where_document, "where_document"),
            "include": list(include),
        }
        return _lib.call_json(
            "snd_search_query",
            self.handle,
            q.ctypes.data_as(_FLOAT_P),
            ctypes.c_int64(q.shape[0]),
            _lib.cstr(_json.dumps(request, "query")),
        )

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        include: Sequence[str] = ("metadatas", "documents"),
    ) -> dict[str, list[Any]]:
        """Records by ids (kept in that order) and/or filters."""
        request = {
            "ids": None if ids is None else _ids(ids),
            "where": _filters(where, "where"),
            "where_document": _filters(where_document, "where_document"),
            "limit": limit,
            "offset": offset,
            "include": list(include),
        }
        return _lib.call_json("snd_search_get", self.handle, _lib.cstr(_json.dumps(request, "get")))

    def delete(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
    ) -> None:
        """Deletes records of the experiments collection by ids and/or filters."""
        request = {
            "ids": None if ids is None else _ids(ids),
            "where": _filters(where, "where"),
            "where_document": _filters(where_document, "where_document"),
        }
        _lib.call("snd_search_delete", self.handle, _lib.cstr(_json.dumps(request, "delete")))


def _ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise InvalidArgumentError("ids must be a list of strings, not one string")
    out = list(ids)
    for i in out:
        if not isinstance(i, str):
            raise InvalidArgumentError(f"ids must be strings, got {type(i).__name__} {i!r}")
    return out


def _filters(value: Mapping[str, Any] | None, what: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{what} must be a dict, got {type(value).__name__}")
    return value


_clients: dict[str, ChromaSearchClient] = {}
_clients_lock = threading.Lock()


def get_chroma_client(config: ChromaConfig | Mapping[str, Any] | None = None) -> ChromaSearchClient:
    """The shared client for ``config`` (defaults when None). Equal configs share
    one client; a different config gets its own (unlike the original, where the
    first config won for the whole process)."""
    cfg = as_config(config)
    key = cfg.key()
    with _clients_lock:
        client = _clients.get(key)
        if client is None or not client._handle.value:
            client = ChromaSearchClient(cfg)
            _clients[key] = client
        return client


def reset_chroma_client(config: ChromaConfig | Mapping[str, Any] | None = None) -> None:
    """Forgets the shared client of ``config``, or every shared client when
    None, so the next :func:`get_chroma_client` opens a fresh one. Clients
    already handed out keep working until they are closed or collected."""
    with _clients_lock:
        if config is None:
            _clients.clear()
        else:
            _clients.pop(as_config(config).key(), None)
