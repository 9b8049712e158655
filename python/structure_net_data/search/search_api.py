"""The guide's search API: index experiments, then find similar runs, the best
runs under constraints, similar architectures, or a hypothesis's runs.

Every result is a :class:`SearchResult` (a dict) with ``id``,
``similarity_score``, ``metadata``, ``description`` and, for convenience,
``accuracy``, ``parameters``, ``dataset``, ``architecture`` and
``hypothesis_id`` from the metadata. ``similarity_score`` is the cosine
similarity of the query and the hit, in [-1, 1] (in [0, 1] for the built-in
embeddings, whose features are non-negative); it is None for searches without
a query vector (by performance, by hypothesis). Lists of results are
:class:`SearchResults`, with ``.to_pandas()``.

Metadata stored per experiment: ``experiment_id``, ``experiment_type``,
``accuracy``/``loss``/``precision``/``recall``/``f1_score`` (floats),
``parameters`` (int: ``architecture.total_parameters``, else
``model_parameters``, else ``metrics.parameters``, else the dense-layer count
of the widths), ``depth``, ``architecture`` (e.g. ``"[784, 256, 10]"``),
``dataset``, ``epochs``, ``batch_size``, ``growth_events``, ``has_growth``,
``hypothesis_id``, every ``config`` entry as ``config.<key>`` (nested dicts as
dotted keys, lists as JSON), and ``additional_metadata`` flattened the same way
on top. Missing values are left out; NaN/inf raise InvalidArgumentError.

Filters use Chroma's grammar (``$eq $ne $gt $gte $lt $lte $in $nin $and
$or``); a dict with several keys is an implicit ``$and``. Ints and floats
compare as numbers; ``$ne``/``$nin`` also match experiments without the key.

>>> import tempfile
>>> searcher = ExperimentSearcher(ChromaConfig(persist_directory=tempfile.mkdtemp()))
>>> searcher.index_experiment("exp_001", {"architecture": [784, 256, 10],
...     "final_performance": {"accuracy": 0.95}, "config": {"dataset": "mnist"}})
>>> [r["id"] for r in searcher.search_by_performance(min_accuracy=0.9, dataset="mnist")]
['exp_001']
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import _lib
from ..errors import InvalidArgumentError, NotFoundError
from . import _json
from .chroma_client import ChromaConfig, ChromaSearchClient, as_config, get_chroma_client
from .embedder import ArchitectureEmbedder, ExperimentEmbedder, architecture_layers

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ExperimentSearcher",
    "SearchResult",
    "SearchResults",
    "search_by_architecture",
    "search_by_hypothesis",
    "search_by_performance",
    "search_similar_experiments",
]


class SearchResult(dict):
    """One hit: a dict (``r["id"]``) whose keys also read as attributes (``r.id``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_COLUMNS = (
    "id",
    "similarity_score",
    "description",
    "accuracy",
    "parameters",
    "dataset",
    "architecture",
    "hypothesis_id",
)


class SearchResults(list):
    """A list of :class:`SearchResult`, best first."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per hit: the result fields, then every metadata key as a column."""
        import pandas as pd

        rows = []
        for r in self:
            row = {c: r.get(c) for c in _COLUMNS}
            for k, v in (r.get("metadata") or {}).items():
                row.setdefault(k, v)
            rows.append(row)
        return pd.DataFrame(rows, columns=None if rows else list(_COLUMNS))

    def ids(self) -> list[str]:
        """The hits' ids, in order."""
        return [r["id"] for r in self]


def _results(raw: list[dict[str, Any]]) -> SearchResults:
    return SearchResults(SearchResult(r) for r in raw)


def _n(n_results: int | None, default: int | None, what: str) -> int | None:
    if n_results is None:
        return default
    if isinstance(n_results, bool) or not isinstance(n_results, int) or n_results <= 0:
        raise InvalidArgumentError(f"{what}: n_results must be a positive int, got {n_results!r}")
    return n_results


class ExperimentSearcher:
    """Indexes experiments and searches them.

    Args:
        config: a :class:`ChromaConfig` (or a dict of its fields); None uses the
            defaults (embedded store under ``$SND_CHROMA_DIR`` or the user cache).
        chroma_config: the original's name for ``config``.

    Attributes:
        client: the shared :class:`ChromaSearchClient` of this config.
        experiment_embedder / architecture_embedder: the embedders used.
    """

    def __init__(
        self,
        config: ChromaConfig | Mapping[str, Any] | None = None,
        *,
        chroma_config: ChromaConfig | Mapping[str, Any] | None = None,
    ) -> None:
        if config is not None and chroma_config is not None:
            raise InvalidArgumentError("pass config or chroma_config, not both")
        self.config = as_config(config if config is not None else chroma_config)
        self.client: ChromaSearchClient = get_chroma_client(self.config)
        self.experiment_embedder = ExperimentEmbedder(self.config.embedding_dim)
        self.architecture_embedder = ArchitectureEmbedder(self.config.architecture_embedding_dim)
        self.embedder = self.experiment_embedder

    def __repr__(self) -> str:
        return f"ExperimentSearcher({self.client!r})"

    # -- indexing ----------------------------------------------------------------------
    def index_experiment(
        self,
        experiment_id: str,
        experiment_data: Any,
        additional_metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Indexes (or re-indexes: upsert) one experiment. The whole
        experiment is stored and comes back from :meth:`get_experiment`;
        ``additional_metadata`` is merged into its searchable metadata."""
        self.index_experiments_batch([(experiment_id, experiment_data, additional_metadata)])

    def index_experiments_batch(self, experiments: Iterable[Sequence[Any]]) -> None:
        """Indexes ``(experiment_id, experiment_data)`` or ``(experiment_id,
        experiment_data, additional_metadata)`` tuples in one batch (an empty
        batch does nothing). On the embedded store a batch is all or nothing;
        on a server that fails part-way it raises
        :class:`~structure_net_data.search.PartialWriteError` listing what was written."""
        items = []
        for n, entry in enumerate(experiments):
            if type(entry) is tuple and len(entry) == 2 and type(entry[0]) is str and type(entry[1]) is dict:
                items.append({"id": entry[0], "data": entry[1], "metadata": None})  # the common case, fast
                continue
            if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) not in (2, 3):
                raise InvalidArgumentError(
                    f"experiment {n}: expected (experiment_id, experiment_data[, additional_metadata]), "
                    f"got {entry!r:.80}"
                )
            exp_id, data = entry[0], entry[1]
            extra = entry[2] if len(entry) == 3 else None
            if not isinstance(exp_id, str):
                raise InvalidArgumentError(f"experiment {n}: experiment_id must be a str, got {type(exp_id).__name__}")
            if extra is not None and not isinstance(extra, Mapping):
                raise InvalidArgumentError(f"experiment {exp_id!r}: additional_metadata must be a dict")
            items.append(
                {"id": exp_id, "data": _json.experiment_dict(data, f"experiment {exp_id!r}"), "metadata": extra}
            )
        if not items:
            return
        self.client._call_write("snd_search_index", self.client.handle, _lib.cstr(_json.dumps(items, "experiments")))

    # -- searches ----------------------------------------------------------------------
    def _search(self, name: str, request: dict[str, Any]) -> SearchResults:
        return _results(_lib.call_json(name, self.client.handle, _lib.cstr(_json.dumps(request, name))))

    def search_similar_experiments(
        self,
        query_experiment: Any,
        n_results: int | None = 10,
        filters: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
    ) -> SearchResults:
        """The ``n_results`` experiments most similar to ``query_experiment``
        (any experiment dict, even partial) among those matching ``filters``."""
        query = _json.experiment_dict(query_experiment, "query_experiment")
        request = {
            "query": query,
            "n_results": _n(n_results, self.config.default_n_results, "search_similar_experiments"),
            "where": _check_filter(filters, "filters"),
            "where_document": _check_filter(where_document, "where_document"),
        }
        return self._search("snd_search_similar", request)

    def search_by_architecture(
        self,
        architecture: Any,
        n_results: int | None = 10,
        filters: Mapping[str, Any] | None = None,
    ) -> SearchResults:
        """Experiments whose architectures are most similar to ``architecture``
        (layer widths, ``{'layers': [...]}`` or an object with ``.layers``),
        compared with the architecture embedding. Experiments without layers
        are not candidates."""
        request = {
            "architecture": architecture_layers(architecture),
            "n_results": _n(n_results, self.config.default_n_results, "search_by_architecture"),
            "where": _check_filter(filters, "filters"),
        }
        return self._search("snd_search_by_architecture", request)

    def search_by_performance(
        self,
        min_accuracy: float | None = None,
        max_parameters: float | None = None,
        dataset: str | None = None,
        n_results: int | None = 10,
    ) -> SearchResults:
        """The ``n_results`` most accurate experiments among ALL that reach
        ``min_accuracy``, have at most ``max_parameters`` and ran on ``dataset``
        (None: no bound; ``n_results=None``: every match), best first."""
        request = {
            "min_accuracy": None if min_accuracy is None else float(min_accuracy),
            "max_parameters": None if max_parameters is None else max_parameters,
            "dataset": dataset,
            "n_results": _n(n_results, None, "search_by_performance"),
        }
        return self._search("snd_search_by_performance", request)

    def search_by_hypothesis(self, hypothesis_id: str, n_results: int | None = None) -> SearchResults:
        """Every experiment of a hypothesis (``n_results`` caps it, never
        silently), most accurate first."""
        if not isinstance(hypothesis_id, str):
            raise InvalidArgumentError(f"hypothesis_id must be a str, got {type(hypothesis_id).__name__}")
        request = {"hypothesis_id": hypothesis_id, "n_results": _n(n_results, None, "search_by_hypothesis")}
        return self._search("snd_search_by_hypothesis", request)

    # -- records ---------------------------------------------------------------------------
    def get_experiment(self, experiment_id: str) -> dict[str, Any] | None:
        """The experiment exactly as it was indexed (the whole document), or None."""
        try:
            raw = _lib.call_string("snd_search_get_experiment", self.client.handle, _lib.cstr(experiment_id))
        except NotFoundError:
            return None
        return json.loads(raw)["experiment"]

    def get_experiment_metadata(self, experiment_id: str) -> dict[str, Any] | None:
        """The searchable metadata of an experiment, or None."""
        try:
            raw = _lib.call_string("snd_search_get_experiment", self.client.handle, _lib.cstr(experiment_id))
        except NotFoundError:
            return None
        return json.loads(raw)["metadata"]

    def delete_experiment(self, experiment_id: str) -> None:
        """Removes an experiment; unknown ids are ignored."""
        self.client.delete_experiment(experiment_id)

    def count(self) -> int:
        """Number of indexed experiments."""
        return self.client.count()

    get_experiment_count = count

    def reset(self) -> None:
        """Deletes every experiment (needs ``allow_reset=True``)."""
        self.client.reset_collection()


def _check_filter(value: Mapping[str, Any] | None, what: str) -> Mapping[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{what} must be a dict, got {type(value).__name__}")
    return value


_default_searchers: dict[str, ExperimentSearcher] = {}
_default_lock = threading.Lock()


def _searcher(config: ChromaConfig | Mapping[str, Any] | None) -> ExperimentSearcher:
    """One searcher per config, reused by the module-level functions."""
    cfg = as_config(config)
    key = cfg.key()
    with _default_lock:
        s = _default_searchers.get(key)
        if s is None or s.client is not get_chroma_client(cfg):
            s = ExperimentSearcher(cfg)
            _default_searchers[key] = s
        return s


def search_similar_experiments(
    query_experiment: Any,
    n_results: int | None = 10,
    filters: Mapping[str, Any] | None = None,
    *,
    config: ChromaConfig | Mapping[str, Any] | None = None,
) -> SearchResults:
    """:meth:`ExperimentSearcher.search_similar_experiments` on the default (or given) store."""
    return _searcher(config).search_similar_experiments(query_experiment, n_results, filters)


def search_by_architecture(
    architecture: Any,
    n_results: int | None = 10,
    filters: Mapping[str, Any] | None = None,
    *,
    config: ChromaConfig | Mapping[str, Any] | None = None,
) -> SearchResults:
    """:meth:`ExperimentSearcher.search_by_architecture` on the default (or given) store."""
    return _searcher(config).search_by_architecture(architecture, n_results, filters)


def search_by_performance(
    min_accuracy: float | None = None,
    max_parameters: float | None = None,
    dataset: str | None = None,
    n_results: int | None = 10,
    *,
    config: ChromaConfig | Mapping[str, Any] | None = None,
) -> SearchResults:
    """:meth:`ExperimentSearcher.search_by_performance` on the default (or given) store."""
    return _searcher(config).search_by_performance(min_accuracy, max_parameters, dataset, n_results)


def search_by_hypothesis(
    hypothesis_id: str,
    n_results: int | None = None,
    *,
    config: ChromaConfig | Mapping[str, Any] | None = None,
) -> SearchResults:
    """:meth:`ExperimentSearcher.search_by_hypothesis` on the default (or given) store."""
    return _searcher(config).search_by_hypothesis(hypothesis_id, n_results)
