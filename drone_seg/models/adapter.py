"""The one interface every network is wrapped in, whatever library builds it.

The module, FreezeBackbone, inference and export use only this: logits (and optional auxiliary
logits) at the input size, a `backbone` to freeze, and `without_aux()` for inference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import nn


class SegmentationLogits(NamedTuple):
    """Class logits (N, C, H, W) at the input size, and those of the auxiliary head if any."""

    out: torch.Tensor
    aux: torch.Tensor | None = None


class SegmentationNetwork(nn.Module, ABC):
    """A segmentation network as the rest of drone_seg sees it.

    Subclasses set `backbone` (the pretrained feature extractor FreezeBackbone freezes) and
    implement `forward` and `without_aux`.
    """

    backbone: nn.Module

    @abstractmethod
    def forward(self, images: torch.Tensor) -> SegmentationLogits:
        """Logits for normalized float images (N, 3, H, W) of any height and width."""

    @abstractmethod
    def without_aux(self) -> SegmentationNetwork:
        """Drop the auxiliary head in place (only the training loss reads it); return self."""
