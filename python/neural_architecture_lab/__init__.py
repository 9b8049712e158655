"""``neural_architecture_lab``: the guide's import name for :mod:`structure_net_data.lab`."""

from __future__ import annotations

from structure_net_data.lab import *  # noqa: F403
from structure_net_data.lab import __all__  # noqa: F401
