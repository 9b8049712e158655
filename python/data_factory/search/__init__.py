"""``data_factory.search``: the guide's import name for :mod:`structure_net_data.search`."""

from __future__ import annotations

from structure_net_data.search import *  # noqa: F403
from structure_net_data.search import __all__ as _all

__all__ = list(_all)
