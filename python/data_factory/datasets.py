"""Alias of :mod:`structure_net_data.datasets`."""

from __future__ import annotations

import sys

from structure_net_data import datasets as _module

sys.modules[__name__] = _module
