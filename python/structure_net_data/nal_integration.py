"""Memory-efficient NAL: every finished experiment is indexed in the search
store, its history written to time-series storage, and only a small summary
stays in the lab's memory.

If a store is unavailable when an experiment finishes, the experiment is
spooled to ``<results_dir>/pending.jsonl`` and indexed by a later
``retry_pending()`` (called automatically after each hypothesis): results are
kept and retried, never dropped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import statistics
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from .errors import StructureNetDataError

__all__ = ["NALChromaIntegration", "create_memory_efficient_nal"]

log = logging.getLogger("data_factory.nal")


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if is_dataclass(result):
        return asdict(result)
    return {k: v for k, v in vars(result).items() if not k.startswith("_")}


class NALChromaIntegration:
    """Offloads lab results to hybrid storage and answers questions about them.

    Works with :class:`~structure_net_data.lab.NeuralArchitectureLab` and with
    any lab object shaped like it (``test_hypothesis`` coroutine returning an
    object with ``experiment_results``).
    """

    def __init__(
        self,
        nal_config: Any = None,
        chroma_config: Any = None,
        timeseries_config: Any = None,
        *,
        timeseries_threshold: int = 50,
        results_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        from .hybrid import HybridExperimentStorage

        self.storage = HybridExperimentStorage(chroma_config, timeseries_config, history_threshold=timeseries_threshold)
        self.timeseries = self.storage.timeseries
        base = results_dir or getattr(nal_config, "results_dir", None) or os.path.join(os.getcwd(), "nal_results")
        self.results_dir = Path(base)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.pending_path = self.results_dir / "pending.jsonl"
        self.indexed: list[str] = []

    @property
    def searcher(self) -> Any:
        return self.storage.searcher

    # -- writing ----------------------------------------------------------
    def convert_result(self, result: Any, hypothesis_id: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """(experiment id, searchable document, training history) of a lab result."""
        r = _as_dict(result)
        status = r.get("status")
        status = getattr(status, "value", status)
        metrics = dict(r.get("metrics") or {})
        params = dict(r.get("parameters") or {})
        history = [dict(row) for row in (r.get("training_history") or [])]
        accuracy = metrics.get("accuracy", metrics.get("test_accuracy", r.get("primary_metric", 0.0)))
        doc = {
            "experiment_id": r.get("experiment_id"),
            "hypothesis_id": hypothesis_id,
            "experiment_type": "nal",
            "status": status,
            "error": r.get("error"),
            "metrics": metrics,
            "primary_metric": r.get("primary_metric"),
            "model_parameters": r.get("model_parameters"),
            "architecture": r.get("model_architecture") or params.get("architecture") or [],
            "config": params,
            "final_performance": {"accuracy": accuracy, "loss": metrics.get("loss")},
            "training_time": r.get("training_time"),
            "timestamp": r.get("timestamp"),
        }
        return str(r.get("experiment_id")), doc, history

    def index_experiment_result(
        self, result: Any, hypothesis_id: str, additional_metadata: Mapping[str, Any] | None = None
    ) -> str:
        """Stores one result (spooling it when a store is down) and returns its id."""
        experiment_id, doc, history = self.convert_result(result, hypothesis_id)
        if additional_metadata:
            doc.update(dict(additional_metadata))
        try:
            self.storage.store_experiment(experiment_id, doc, training_history=history)
            self.indexed.append(experiment_id)
        except (StructureNetDataError, OSError) as e:
            log.warning("store unavailable, experiment %s spooled to %s: %s", experiment_id, self.pending_path, e)
            self._spool({"id": experiment_id, "doc": doc, "history": history})
        return experiment_id

    def _spool(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        with open(self.pending_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def retry_pending(self) -> int:
        """Stores spooled experiments; returns how many are still pending."""
        if not self.pending_path.exists():
            return 0
        with open(self.pending_path, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            records = [json.loads(line) for line in f if line.strip()]
            left = []
            for rec in records:
                try:
                    self.storage.store_experiment(rec["id"], rec["doc"], training_history=rec["history"])
                    self.indexed.append(rec["id"])
                except (StructureNetDataError, OSError):
                    left.append(rec)
            f.seek(0)
            f.truncate()
            f.writelines(json.dumps(rec, default=str) + "\n" for rec in left)
            f.flush()
            os.fsync(f.fileno())
        return len(left)

    def summarize(self, result: Any, hypothesis_id: str) -> dict[str, Any]:
        """The small record the lab keeps in memory instead of the full result."""
        r = _as_dict(result)
        status = r.get("status")
        return {
            "experiment_id": r.get("experiment_id"),
            "hypothesis_id": hypothesis_id,
            "status": getattr(status, "value", status),
            "primary_metric": r.get("primary_metric"),
            "parameters": r.get("parameters"),
            "error": (r.get("error") or "")[:200] or None,
        }

    def create_nal_hooks(self) -> dict[str, Any]:
        def on_experiment_complete(result: Any, hypothesis_id: str) -> dict[str, Any]:
            self.index_experiment_result(result, hypothesis_id)
            return self.summarize(result, hypothesis_id)

        def on_hypothesis_complete(hypothesis: Any, result: Any) -> None:
            self.retry_pending()

        return {"on_experiment_complete": on_experiment_complete, "on_hypothesis_complete": on_hypothesis_complete}

    def attach(self, nal: Any) -> Any:
        """Wires the hooks into a lab; for labs without hook lists, wraps ``test_hypothesis``."""
        hooks = self.create_nal_hooks()
        if isinstance(getattr(nal, "on_experiment_complete", None), list):
            nal.on_experiment_complete.append(hooks["on_experiment_complete"])
            nal.on_hypothesis_complete.append(hooks["on_hypothesis_complete"])
            return nal
        original = nal.test_hypothesis

        async def test_hypothesis(hypothesis_id: str, *args: Any, **kwargs: Any) -> Any:
            result = await original(hypothesis_id, *args, **kwargs)
            full = list(getattr(result, "experiment_results", []) or [])
            summaries = [hooks["on_experiment_complete"](r, hypothesis_id) for r in full]
            if hasattr(result, "experiment_results"):
                result.experiment_results = []
            if hasattr(result, "summaries"):
                result.summaries = list(getattr(result, "summaries", []) or []) + summaries
            self.retry_pending()
            return result

        nal.test_hypothesis = test_hypothesis
        return nal

    # -- reading ------------------------------------------------------------
    def search_nal_experiments(self, query: Mapping[str, Any], n_results: int = 10) -> list[dict[str, Any]]:
        """Experiments similar to ``{'architecture', 'target_accuracy', 'config'}``."""
        probe = {
            "architecture": query.get("architecture", []),
            "final_performance": {"accuracy": query.get("target_accuracy", 0.9)},
            "config": query.get("config", {}),
        }
        return self.searcher.search_similar_experiments(probe, n_results=n_results, filters=query.get("filters"))

    def get_hypothesis_summary(self, hypothesis_id: str) -> dict[str, Any]:
        """Statistics over every stored experiment of a hypothesis (no cap)."""
        hits = self.searcher.search_by_hypothesis(hypothesis_id)
        if not hits:
            return {"hypothesis_id": hypothesis_id, "total_experiments": 0}
        acc = [float(h["accuracy"]) for h in hits if h.get("accuracy") is not None]
        params = [int(h["parameters"]) for h in hits if h.get("parameters") is not None]
        best = max(hits, key=lambda h: h.get("accuracy") or 0.0)
        efficient = max(hits, key=lambda h: (h.get("accuracy") or 0.0) / max(int(h.get("parameters") or 1), 1))
        return {
            "hypothesis_id": hypothesis_id,
            "total_experiments": len(hits),
            "avg_accuracy": statistics.fmean(acc) if acc else None,
            "std_accuracy": statistics.pstdev(acc) if acc else None,
            "max_accuracy": max(acc) if acc else None,
            "min_accuracy": min(acc) if acc else None,
            "avg_parameters": statistics.fmean(params) if params else None,
            "best_experiment": best["id"],
            "most_efficient": efficient["id"],
        }


def create_memory_efficient_nal(
    nal_config: Any = None, chroma_config: Any = None, timeseries_config: Any = None
) -> tuple[Any, NALChromaIntegration]:
    """A lab whose finished experiments go to the search index and time-series
    storage, keeping only summaries in memory. Returns ``(nal, integration)``."""
    from .lab import LabConfig, NeuralArchitectureLab

    nal = NeuralArchitectureLab(nal_config or LabConfig())
    integration = NALChromaIntegration(nal.config, chroma_config, timeseries_config, results_dir=nal.config.results_dir)
    integration.attach(nal)
    return nal, integration
