"""Adaptive average pooling that ONNX exports with a dynamic input size.

torch.onnx (dynamo=False) exports `nn.AdaptiveAvgPool2d(k)` for k > 1 only at a fixed input size,
so UPerNet's pyramid pooling would pin the exported image size. The same bins from box sums of
an integral image export with symbolic height and width.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BoxSumAdaptiveAvgPool2d(nn.Module):
    """`nn.AdaptiveAvgPool2d(size)` (square output): bin i spans floor(i*n/k) to ceil((i+1)*n/k)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        height, width = features.shape[-2:]
        integral = F.pad(features.cumsum(-2).cumsum(-1), (1, 0, 1, 0))
        row_start, row_end = _bins(height, self.size, features.device)
        col_start, col_end = _bins(width, self.size, features.device)
        top, bottom = integral.index_select(-2, row_start), integral.index_select(-2, row_end)
        sums = (
            bottom.index_select(-1, col_end)
            - bottom.index_select(-1, col_start)
            - top.index_select(-1, col_end)
            + top.index_select(-1, col_start)
        )
        areas = (row_end - row_start).view(-1, 1) * (col_end - col_start).view(1, -1)
        return sums / areas.to(features.dtype)


def _bins(length: int, bins: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    index = torch.arange(bins, device=device)
    return (index * length) // bins, ((index + 1) * length + bins - 1) // bins


def replace_adaptive_pools(network: nn.Module) -> int:
    """Swap every `nn.AdaptiveAvgPool2d(k)`, k > 1 an int (smp's pyramid pooling), in `network`
    for the box-sum form (no parameters: the state dict is unchanged); return how many."""
    swapped = 0
    for parent in list(network.modules()):
        for name, child in parent.named_children():
            size = getattr(child, "output_size", None)
            if isinstance(child, nn.AdaptiveAvgPool2d) and isinstance(size, int) and size > 1:
                setattr(parent, name, BoxSumAdaptiveAvgPool2d(size))
                swapped += 1
    return swapped
