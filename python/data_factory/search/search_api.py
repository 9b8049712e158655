"""``data_factory.search.search_api``: re-exports :mod:`structure_net_data.search.search_api`."""

from __future__ import annotations

from structure_net_data.search.search_api import *  # noqa: F403
from structure_net_data.search.search_api import __all__ as _all

__all__ = list(_all)
