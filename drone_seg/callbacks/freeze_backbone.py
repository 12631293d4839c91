"""Trains the head alone for the first epochs, then the whole network (as the reference did)."""

from __future__ import annotations

import lightning as L
from torch import nn


class FreezeBackbone(L.Callback):
    """Freeze `net.backbone` (weights and BatchNorm statistics) for the first `epochs` epochs:
    the pretrained feature extractor of any registered network (an smp network's encoder).

    The backbone's parameters stay in the optimizer; while frozen they get no gradient, so SGD
    leaves them (and their weight decay) alone. Decided from the epoch number, so resuming works.
    """

    def __init__(self, epochs: int) -> None:
        if epochs < 0:
            raise ValueError(f"callbacks.freeze_backbone.epochs={epochs} must be >= 0")
        self.epochs = epochs

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        backbone: nn.Module = pl_module.net.backbone
        frozen = trainer.current_epoch < self.epochs
        backbone.requires_grad_(not frozen)
        if not frozen:
            backbone.train()  # Lightning restores per-module modes after validation: undo eval
            return
        for module in backbone.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
