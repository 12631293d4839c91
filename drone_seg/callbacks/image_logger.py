"""Sends a confusion matrix and prediction overlays of fixed val images to TensorBoard."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from drone_seg.reporting.pictures import confusion_image, prediction_grid


class ValidationImageLogger(L.Callback):
    """Every `every_n_epochs` validation epochs, log what the model sees on the same images.

    The images are the first `num_images` of the val set, so successive pictures are comparable.
    Runs before the module resets its epoch metrics, and computes them on every rank (a collective
    under DDP) though only rank 0 draws.
    """

    def __init__(self, every_n_epochs: int = 1, num_images: int = 4) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"callbacks.images.every_n_epochs={every_n_epochs} must be >= 1")
        self.every_n_epochs = every_n_epochs
        self.num_images = num_images

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        confusion = pl_module.val_scores.compute().cpu().numpy()
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not trainer.is_global_zero or not loggers:
            return
        writer, step = loggers[0].experiment, trainer.global_step
        writer.add_image(
            "val/confusion_matrix", confusion_image(confusion), step, dataformats="HWC"
        )
        writer.add_image("val/predictions", self._grid(trainer, pl_module), step, dataformats="HWC")

    def _grid(self, trainer: L.Trainer, pl_module: L.LightningModule) -> np.ndarray:
        dataset = trainer.datamodule.val_set
        samples = [dataset[i] for i in range(min(self.num_images, len(dataset)))]
        images = torch.stack([s["image"] for s in samples])
        with torch.no_grad():
            predictions = pl_module(images.to(pl_module.device)).argmax(dim=1).cpu()
        return prediction_grid(
            images.permute(0, 2, 3, 1).numpy(),
            torch.stack([s["mask"] for s in samples]).numpy().astype(np.uint8),
            predictions.numpy().astype(np.uint8),
        )
