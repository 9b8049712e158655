"""Alias of :mod:`structure_net_data.time_series_storage`."""

from __future__ import annotations

import sys

from structure_net_data import time_series_storage as _module

sys.modules[__name__] = _module
