"""Alias of :mod:`structure_net_data.nal_integration`."""

from __future__ import annotations

import sys

from structure_net_data import nal_integration as _module

sys.modules[__name__] = _module
