"""Draws a confusion matrix and prediction overlays of fixed val images: PNG files in the run
folder, and to every logger that takes pictures (TensorBoard, wandb, MLflow)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image

from drone_seg.reporting.pictures import confusion_image, prediction_grid
from drone_seg.runs.loggers import log_picture


class ValidationImageLogger(L.Callback):
    """Every `every_n_epochs` validation epochs, and at the last epoch with `last_epoch`, draw
    what the model sees on the same images: `<dirpath>/epoch_<NNN>_confusion.png` and
    `epoch_<NNN>_predictions.png` (NNN: the 0-based epoch, as in metrics.json), also sent to the
    loggers, so that no picture depends on the logger chosen.

    The images are the first `num_images` of the val set, so successive pictures are comparable.
    Runs before the module resets its epoch metrics, and computes them on every rank (a collective
    under DDP) though only rank 0 draws. Nothing is drawn in a `trainer.fast_dev_run`.
    """

    def __init__(
        self,
        dirpath: str | None,
        every_n_epochs: int,
        num_images: int,
        last_epoch: bool = True,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"callbacks.images.every_n_epochs={every_n_epochs} must be >= 1")
        self.dirpath = Path(dirpath) if dirpath else None
        self.every_n_epochs = every_n_epochs
        self.num_images = num_images
        self.last_epoch = last_epoch

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or not self._draws(trainer):
            return
        confusion = pl_module.val_scores.compute().cpu().numpy()
        if not trainer.is_global_zero:
            return
        pictures = {
            "confusion": ("val/confusion_matrix", confusion_image(confusion)),
            "predictions": ("val/predictions", self._grid(trainer, pl_module)),
        }
        folder = self.dirpath or Path(trainer.default_root_dir) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        for name, (tag, picture) in pictures.items():
            file = folder / f"epoch_{trainer.current_epoch:03d}_{name}.png"
            Image.fromarray(picture).save(file)
            for logger in trainer.loggers:
                log_picture(logger, tag, picture, trainer.global_step, file)

    def _draws(self, trainer: L.Trainer) -> bool:
        """Whether this validation epoch is one to draw: every n-th, and the run's last."""
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs == 0:
            return True
        max_epochs, max_steps = trainer.max_epochs or -1, trainer.max_steps
        last = (max_epochs > 0 and epoch >= max_epochs) or (
            max_steps > 0 and trainer.global_step >= max_steps
        )
        return self.last_epoch and last

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
