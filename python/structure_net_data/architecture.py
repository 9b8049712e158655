"""Seed architectures sized from a dataset's config."""

from __future__ import annotations

import random

from .config import get_dataset_config

__all__ = ["ArchitectureGenerator"]


class ArchitectureGenerator:
    """Generates MLP layer-width lists ``[input_size, hidden..., num_classes]``.

    >>> ArchitectureGenerator(784, 10).generate_seed_architecture()
    [784, 128, 10]
    """

    def __init__(self, input_size: int, num_classes: int, dataset_name: str | None = None) -> None:
        if input_size <= 0 or num_classes <= 0:
            raise ValueError("input_size and num_classes must be positive")
        self.input_size, self.num_classes, self.dataset_name = input_size, num_classes, dataset_name

    @classmethod
    def from_dataset(cls, dataset_name: str) -> ArchitectureGenerator:
        """Reads input and output sizes from the registered dataset config."""
        config = get_dataset_config(dataset_name)
        return cls(config.input_size, config.num_classes, dataset_name)

    def generate_seed_architecture(self, hidden_layers: int = 1, width: int | None = None) -> list[int]:
        """A funnel of ``hidden_layers`` widths, halving from ``width`` (default:
        a power of two near a quarter of the input, within [32, 1024])."""
        if hidden_layers < 0:
            raise ValueError("hidden_layers must not be negative")
        if width is None:
            width = 1 << max(5, min(10, (self.input_size // 4).bit_length() - 1))
        hidden = [max(self.num_classes, width >> i) for i in range(hidden_layers)]
        return [self.input_size, *hidden, self.num_classes]

    def generate_systematic_batch(self, n: int, seed: int = 0) -> list[list[int]]:
        """``n`` distinct architectures of 0-3 hidden layers and varied widths (seeded)."""
        rng = random.Random(seed)
        seen: list[list[int]] = []
        widths = [32, 64, 128, 256, 512, 1024]
        attempts = 0
        while len(seen) < n and attempts < 100 * n:
            attempts += 1
            arch = self.generate_seed_architecture(rng.randint(0, 3), rng.choice(widths))
            if arch not in seen:
                seen.append(arch)
        return seen
