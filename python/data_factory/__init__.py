"""``data_factory``: the user guide's import name for structure_net_data.

Everything here is structure_net_data itself; the submodules (``config``,
``datasets``, ``factory``, ``metadata``, ``search``, ``time_series_storage``,
``nal_integration``) re-export the matching modules so the guide's imports
work verbatim.
"""

from __future__ import annotations

from structure_net_data import *  # noqa: F403
from structure_net_data import __all__ as _all
from structure_net_data import __getattr__ as __getattr__  # noqa: F401

__all__ = list(_all)
