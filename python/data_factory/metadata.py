"""Alias of :mod:`structure_net_data.metadata`."""

from __future__ import annotations

import sys

from structure_net_data import metadata as _module

sys.modules[__name__] = _module
