"""Alias of :mod:`structure_net_data.architecture`."""

from __future__ import annotations

import sys

from structure_net_data import architecture as _module

sys.modules[__name__] = _module
