"""Alias of :mod:`structure_net_data.lab`."""

from __future__ import annotations

import sys

from structure_net_data import lab as _module

sys.modules[__name__] = _module
