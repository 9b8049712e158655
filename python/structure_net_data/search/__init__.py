"""Experiment search: index finished experiments, then find similar runs, the
best runs under constraints, similar architectures, or a hypothesis's runs.

The default store is embedded (no server, on disk under ``$SND_CHROMA_DIR`` or
the user cache, shared safely by parallel processes); ``ChromaConfig(host=...)``
uses a Chroma server instead, with the same behaviour.

>>> import tempfile
>>> from structure_net_data.search import ChromaConfig, ExperimentSearcher
>>> searcher = ExperimentSearcher(ChromaConfig(persist_directory=tempfile.mkdtemp()))
>>> searcher.index_experiment("exp_001", {"architecture": [784, 512, 256, 10],
...     "final_performance": {"accuracy": 0.95}, "config": {"dataset": "mnist", "epochs": 20}})
>>> searcher.search_similar_experiments({"architecture": [784, 500, 250, 10]}, n_results=5).ids()
['exp_001']
"""

from __future__ import annotations

from .chroma_client import (
    ChromaConfig,
    ChromaSearchClient,
    PartialWriteError,
    clean_metadata,
    default_persist_directory,
    get_chroma_client,
    reset_chroma_client,
)
from .embedder import (
    ArchitectureEmbedder,
    ExperimentEmbedder,
    embed_architecture,
    embed_experiment,
    embed_hypothesis,
)
from .search_api import (
    ExperimentSearcher,
    SearchResult,
    SearchResults,
    search_by_architecture,
    search_by_hypothesis,
    search_by_performance,
    search_similar_experiments,
)

__all__ = [
    "ArchitectureEmbedder",
    "ChromaConfig",
    "ChromaSearchClient",
    "ExperimentEmbedder",
    "ExperimentSearcher",
    "PartialWriteError",
    "SearchResult",
    "SearchResults",
    "clean_metadata",
    "default_persist_directory",
    "embed_architecture",
    "embed_experiment",
    "embed_hypothesis",
    "get_chroma_client",
    "reset_chroma_client",
    "search_by_architecture",
    "search_by_hypothesis",
    "search_by_performance",
    "search_similar_experiments",
]
