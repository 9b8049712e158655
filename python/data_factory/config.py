"""Alias of :mod:`structure_net_data.config`."""

from __future__ import annotations

import sys

from structure_net_data import config as _module

sys.modules[__name__] = _module
