"""Running torchvision transforms on the core's tensors.

The guide lets users pass a torchvision ``Compose`` (with ``ToTensor``). The
core already yields float tensors in [0, 1], so the PIL-to-tensor steps are
dropped and the rest is applied to each sample of a batch (per sample, so
random transforms draw independently for every image, as in a DataLoader).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

_TENSOR_CONVERSIONS = ("ToTensor", "PILToTensor", "ToImage", "ToDtype", "ConvertImageDtype")


def _steps(transform: Any) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    if isinstance(transform, (list, tuple)):
        items = list(transform)
    elif hasattr(transform, "transforms") and isinstance(transform.transforms, (list, tuple)):
        items = list(transform.transforms)
    else:
        items = [transform]
    out = []
    for t in items:
        if type(t).__name__ in _TENSOR_CONVERSIONS:
            continue
        if not callable(t):
            raise TypeError(f"transform {t!r} is not callable")
        out.append(t)
    return out


def per_sample_transform(transform: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wraps a torchvision transform (or list of them) to run on a [B, C, H, W] batch."""
    steps = _steps(transform)

    def apply(batch: torch.Tensor) -> torch.Tensor:
        if not steps:
            return batch
        outs = []
        for sample in batch:
            for step in steps:
                sample = step(sample)
            outs.append(sample)
        return torch.stack(outs)

    return apply
