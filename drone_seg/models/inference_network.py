"""The network as predict, export and the bench run it: normalization inside, no auxiliary head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from drone_seg.models.adapter import SegmentationNetwork


class InputNormalization(nn.Module):
    """Scales 0..255 RGB (uint8 or float) and normalizes it with per-channel `mean` and `std`.

    Given in 0..1 units (ImageNet's, by default); the buffers are not saved, the config is.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) * 255.0, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - self.mean) / self.std


class InferenceNetwork(nn.Module):
    """Class logits (N, C, H, W) for 0..255 RGB images (N, 3, H, W): a trained network in eval
    mode without its auxiliary head, which only the training loss reads."""

    def __init__(
        self,
        net: SegmentationNetwork,
        normalization: InputNormalization,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.net = net.without_aux()
        self.normalization = normalization
        self.channels_last = channels_last
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        normalized = self.normalization(images)
        if self.channels_last:
            normalized = normalized.contiguous(memory_format=torch.channels_last)
        return self.net(normalized).out
