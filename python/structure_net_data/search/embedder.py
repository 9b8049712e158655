"""Embeddings of experiments, architectures and hypotheses.

The vectors are computed by the Go core (one implementation for indexing and
querying), with the original data_factory feature layouts:

* experiment (384-d, L2-normalised): architecture statistics, performance,
  convergence, stability, growth and a dataset one-hot in the first 21 values;
* architecture (128-d, L2-normalised): 16 statistics of the layer widths
  (sizes, width ratios, bottleneck / expansion, pyramid / hourglass / expanding);
* hypothesis (128-d, not normalised): a SHA-256 fingerprint of its text, for
  exact matching only; it carries no meaning.

Missing or ``None`` values count as absent, never raise; non-numeric layer
widths raise :class:`~structure_net_data.errors.InvalidArgumentError`.

>>> from structure_net_data.search import embed_architecture
>>> v = embed_architecture([784, 256, 128, 10])
>>> v.shape, round(float(v[0]), 6)
((128,), 0.130592)
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _lib
from . import _json

__all__ = [
    "ArchitectureEmbedder",
    "ExperimentEmbedder",
    "embed_architecture",
    "embed_experiment",
    "embed_hypothesis",
]

_FLOAT_P = ctypes.POINTER(ctypes.c_float)

_lib.declare("snd_search_embed_experiment", ctypes.c_char_p, ctypes.c_int64, _FLOAT_P)
_lib.declare("snd_search_embed_architecture", ctypes.c_char_p, ctypes.c_int64, _FLOAT_P)
_lib.declare("snd_search_embed_hypothesis", ctypes.c_char_p, _FLOAT_P)


def _check_dim(dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
        raise ValueError(f"embedding_dim must be a positive int, got {dim!r}")
    return int(dim)


def architecture_layers(architecture: Any) -> Any:
    """An architecture as JSON-able data: a list of widths, a dict with
    ``layers``, an object with a ``layers`` attribute, or ``None``."""
    if architecture is None or isinstance(architecture, (str, Mapping)):
        return architecture
    if isinstance(architecture, Sequence) or hasattr(architecture, "tolist"):
        return architecture
    layers = getattr(architecture, "layers", None)
    if layers is not None:
        return layers
    return architecture


class ExperimentEmbedder:
    """Experiment vectors of ``embedding_dim`` values (384 by default).

    >>> ExperimentEmbedder().embed({"architecture": [784, 10]}).shape
    (384,)
    """

    def __init__(self, embedding_dim: int = 384) -> None:
        self.embedding_dim = _check_dim(embedding_dim)

    def embed(self, experiment: Any) -> np.ndarray:
        """The float32 embedding of an experiment dict (or pydantic model / dataclass)."""
        data = _json.dumps(_json.experiment_dict(experiment, "experiment"), "experiment")
        out = np.zeros(self.embedding_dim, dtype=np.float32)
        _lib.call(
            "snd_search_embed_experiment",
            _lib.cstr(data),
            ctypes.c_int64(self.embedding_dim),
            out.ctypes.data_as(_FLOAT_P),
        )
        return out

    __call__ = embed


class ArchitectureEmbedder:
    """Architecture vectors of ``embedding_dim`` values (128 by default); an
    empty architecture gives the zero vector.

    >>> ArchitectureEmbedder().embed([784, 512, 10]).shape
    (128,)
    """

    def __init__(self, embedding_dim: int = 128) -> None:
        self.embedding_dim = _check_dim(embedding_dim)

    def embed(self, architecture: Any) -> np.ndarray:
        """The float32 embedding of a list of layer widths, a dict with ``layers``
        or an object with ``.layers``."""
        data = _json.dumps(architecture_layers(architecture), "architecture")
        out = np.zeros(self.embedding_dim, dtype=np.float32)
        _lib.call(
            "snd_search_embed_architecture",
            _lib.cstr(data),
            ctypes.c_int64(self.embedding_dim),
            out.ctypes.data_as(_FLOAT_P),
        )
        return out

    __call__ = embed


def embed_experiment(experiment: Any) -> np.ndarray:
    """The 384-d experiment embedding."""
    return ExperimentEmbedder().embed(experiment)


def embed_architecture(architecture: Any) -> np.ndarray:
    """The 128-d architecture embedding."""
    return ArchitectureEmbedder().embed(architecture)


def embed_hypothesis(hypothesis: Any) -> np.ndarray:
    """The 128-d fingerprint of a hypothesis (dict or object with ``name``,
    ``description``, ``question``, ``prediction``): SHA-256 bytes / 255 in the
    first 32 values. Equal texts give equal vectors; it is not semantic."""
    if isinstance(hypothesis, Mapping):
        fields = {k: hypothesis.get(k) for k in ("name", "description", "question", "prediction")}
    else:
        fields = {k: getattr(hypothesis, k, None) for k in ("name", "description", "question", "prediction")}
    out = np.zeros(128, dtype=np.float32)
    _lib.call("snd_search_embed_hypothesis", _lib.cstr(_json.dumps(fields, "hypothesis")), out.ctypes.data_as(_FLOAT_P))
    return out
