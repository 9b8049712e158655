"""Hybrid experiment storage: searchable documents in the search store, long
training histories in time-series storage, joined again on retrieval."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import NotFoundError

__all__ = ["HybridExperimentStorage", "HISTORY_THRESHOLD"]

#: Histories with more epochs than this go to time-series storage; shorter
#: ones stay inline in the experiment document.
HISTORY_THRESHOLD = 50


class HybridExperimentStorage:
    """Stores experiments in the search index and their histories in time series.

    ``store_experiment`` never mutates the caller's dict. The experiment's
    document in the index records ``training_history_key`` and a small
    ``training_summary`` when the history went to time-series storage, so
    ``retrieve_experiment(id, include_training_history=True)`` returns the full
    original experiment with its history.
    """

    def __init__(
        self,
        chroma_config: Any = None,
        timeseries_config: Any = None,
        *,
        history_threshold: int = HISTORY_THRESHOLD,
    ) -> None:
        from .time_series_storage import TimeSeriesStorage

        if history_threshold < 0:
            raise ValueError("history_threshold must not be negative")
        self.chroma_config = chroma_config
        self._searcher: Any = None
        self.timeseries = TimeSeriesStorage(timeseries_config)
        self.history_threshold = history_threshold

    @property
    def searcher(self) -> Any:
        """The search store, connected on first use: a server that is down when
        the storage is created is only an error when something is stored."""
        if self._searcher is None:
            from .search import ExperimentSearcher

            self._searcher = ExperimentSearcher(self.chroma_config)
        return self._searcher

    def store_experiment(
        self,
        experiment_id: str,
        experiment_data: Mapping[str, Any],
        training_history: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        """Indexes the experiment; routes a long history to time-series storage. Returns the id."""
        data = copy.deepcopy(dict(experiment_data))
        history = training_history if training_history is not None else data.pop("training_history", None)
        data.pop("training_history_key", None)
        if history is not None:
            history = [dict(row) for row in history]
            if len(history) > self.history_threshold:
                key = self.timeseries.store_training_history(
                    experiment_id, history, metadata={"experiment_id": experiment_id}
                )
                data["training_history_key"] = key
                data["training_summary"] = _small_summary(self.timeseries.get_summary_statistics(key))
            else:
                data["training_history"] = history
        self.searcher.index_experiment(experiment_id, data)
        return experiment_id

    def retrieve_experiment(self, experiment_id: str, include_training_history: bool = False) -> dict[str, Any]:
        """The stored experiment; with ``include_training_history`` its full history too."""
        doc = self.searcher.get_experiment(experiment_id)
        if doc is None:
            raise NotFoundError(f"experiment {experiment_id!r} is not stored")
        key = doc.get("training_history_key")
        if include_training_history and key:
            rows, _ = self.timeseries.retrieve_training_history(key)
            doc["training_history"] = list(rows)
        elif not include_training_history:
            doc.pop("training_history", None)
        return doc

    def delete_experiment(self, experiment_id: str) -> None:
        """Removes the experiment from the index and its history from time series."""
        doc = self.searcher.get_experiment(experiment_id)
        if doc is not None and doc.get("training_history_key"):
            self.timeseries.delete_training_history(doc["training_history_key"])
        self.searcher.delete_experiment(experiment_id)


def _small_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The summary kept in the index: counts and per-column final/best values only."""
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        elif isinstance(value, Mapping):
            flat = {k: v for k, v in value.items() if isinstance(v, (int, float, str, bool)) or v is None}
            if flat:
                out[key] = flat
    return out
