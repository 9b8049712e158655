"""``seed_search``: the guide's import name for the architecture generator."""

from __future__ import annotations

from structure_net_data.architecture import ArchitectureGenerator

__all__ = ["ArchitectureGenerator"]
