"""Alias of :mod:`structure_net_data.factory`."""

from __future__ import annotations

import sys

from structure_net_data import factory as _module

sys.modules[__name__] = _module
