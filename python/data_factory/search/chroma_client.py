"""``data_factory.search.chroma_client``: re-exports :mod:`structure_net_data.search.chroma_client`."""

from __future__ import annotations

from structure_net_data.search.chroma_client import *  # noqa: F403
from structure_net_data.search.chroma_client import __all__ as _all

__all__ = list(_all)
