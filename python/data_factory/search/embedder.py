"""``data_factory.search.embedder``: re-exports :mod:`structure_net_data.search.embedder`."""

from __future__ import annotations

from structure_net_data.search.embedder import *  # noqa: F403
from structure_net_data.search.embedder import __all__ as _all

__all__ = list(_all)
