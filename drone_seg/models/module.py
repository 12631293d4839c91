"""SegmentationModule: the network, its loss, optimizer, schedule and epoch-level metrics."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import MeanMetric

from drone_seg.allowlist import check_targets
from drone_seg.classes import IGNORE_INDEX, NUM_CLASSES
from drone_seg.models.adapter import SegmentationLogits
from drone_seg.models.inference_network import InferenceNetwork, InputNormalization
from drone_seg.models.metrics import SegmentationScores
from drone_seg.models.networks import build_network
from drone_seg.models.optim import parameter_groups
from drone_seg.schema import Model

log = logging.getLogger(__name__)

Batch = dict[str, Any]


class SegmentationModule(L.LightningModule):
    """Trains a registered segmentation network (`drone_seg.models.networks`) on uint8 batches.

    Images arrive as uint8 (4x fewer bytes to the device) and are scaled and normalized here, so
    training, evaluation, prediction and export all share one input convention. The configs are
    kept as hyperparameters; train's RunRecordKeeper adds the run record to every checkpoint, so
    that a checkpoint alone rebuilds its network and its evaluation (`drone_seg.runs.checkpoint`).
    """

    def __init__(
        self,
        model: dict[str, Any],
        loss: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        seed: int,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        spec = Model.model_validate(model)  # the defaults are conf/model's, checked once
        self.net = build_network(
            name=spec.name,
            num_classes=num_classes,
            weights=spec.weights,
            weights_backbone=spec.weights_backbone,
            aux_loss=spec.aux_loss,
            bn_momentum=spec.bn_momentum,
            encoder=spec.encoder,
        )
        self.aux_weight = spec.aux_weight
        self.channels_last = spec.channels_last
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        if spec.compile:
            self.net.compile()
        self.normalization = InputNormalization(spec.mean, spec.std)
        check_targets(loss, "loss")
        self.criterion: nn.Module = instantiate(loss)
        self.seed = seed
        self.train_loss = MeanMetric()
        self.train_scores = SegmentationScores(num_classes, ignore_index)
        self.val_scores = SegmentationScores(num_classes, ignore_index)
        self.val_loss = MeanMetric()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return class logits (N, C, H, W) for uint8 or 0..255 float images (N, 3, H, W)."""
        return self._outputs(images).out

    def _outputs(self, images: torch.Tensor) -> SegmentationLogits:
        normalized = self.normalization(images)
        if self.channels_last:
            normalized = normalized.contiguous(memory_format=torch.channels_last)
        return self.net(normalized)

    def for_inference(self) -> InferenceNetwork:
        """The network and normalization as predict and export run them (no aux head)."""
        return InferenceNetwork(self.net, self.normalization, self.channels_last)

    def _loss(self, outputs: SegmentationLogits, masks: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(outputs.out, masks)
        if outputs.aux is not None:
            loss = loss + self.aux_weight * self.criterion(outputs.aux, masks)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """The loss of one batch: logged as this rank's `train/loss_step`, and accumulated for
        `train/loss_epoch`, the mean over the epoch's images on every rank."""
        masks = class_ids(batch)
        outputs = self._outputs(batch["image"])
        loss = self._loss(outputs, masks)
        self.log("train/loss_step", loss, prog_bar=True)
        self.train_loss.update(loss.detach(), weight=masks.shape[0])
        self.train_scores.update(outputs.out.detach().argmax(dim=1), masks)
        return loss

    def on_train_epoch_start(self) -> None:
        """Seed torch's generator (dropout) from (seed, epoch, rank): a resumed run draws what an
        uninterrupted one would, whatever the loaders drew before."""
        state = np.random.SeedSequence([self.seed, self.current_epoch, self.global_rank])
        torch.manual_seed(int(state.generate_state(1)[0]))

    def on_train_epoch_end(self) -> None:
        """Log the epoch's loss and scores (equal on every rank: see `on_validation_epoch_end`).

        The epoch loss is a metric of ours rather than Lightning's `on_epoch` mean: Lightning
        would reduce that one over the ranks when first read, which the progress bar does on
        rank 0 alone before this hook, and the ranks' collectives would no longer pair up.
        """
        self.log("train/loss_epoch", self.train_loss.compute(), prog_bar=True, sync_dist=True)
        self.log_dict(self.train_scores.scores("train"), sync_dist=True)
        self.train_loss.reset()
        self.train_scores.reset()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Accumulate the per-image loss and the confusion matrix.

        The loss is taken image by image (its Dice term depends on what shares a batch), so
        `val/loss` is the mean over val images whatever the batch size or number of GPUs.
        """
        masks = class_ids(batch)
        outputs = self._outputs(batch["image"])
        for index in range(masks.shape[0]):
            one = SegmentationLogits(
                *(None if logits is None else logits[index : index + 1] for logits in outputs)
            )
            self.val_loss.update(self._loss(one, masks[index : index + 1]))
        self.val_scores.update(outputs.out.argmax(dim=1), masks)

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's scores. They come from metric states already summed over the DDP
        ranks, so every rank holds the same values: `sync_dist` averages equal numbers (a no-op)
        and tells Lightning they are the whole epoch's, not one rank's."""
        scores = self.val_scores.scores("val")
        self.log("val/loss", self.val_loss.compute(), prog_bar=True, sync_dist=True)
        self.log("val/dice", scores.pop("val/dice"), prog_bar=True, sync_dist=True)
        self.log_dict(scores, sync_dist=True)
        self.val_scores.reset()
        self.val_loss.reset()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resuming a longer run: re-plan its 1-cycle schedule over the new number of steps."""
        if self._trainer is None:
            return
        states = checkpoint.get("lr_schedulers") or []
        if not states or "total_steps" not in states[0]:
            return
        planned, total = states[0]["total_steps"], int(self.trainer.estimated_stepping_batches)
        if planned != total:
            replan_schedule(states[0], self.optimizer_and_schedule(total)[1], planned)

    def configure_optimizers(self) -> dict[str, Any]:
        """SGD (or any torch optimizer from config) over three groups, OneCycle stepped per step."""
        optimizer, scheduler = self.optimizer_and_schedule(self.trainer.estimated_stepping_batches)
        if scheduler is None:
            return {"optimizer": optimizer}
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }

    def optimizer_and_schedule(
        self, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The configured optimizer over the three parameter groups, and its schedule (None
        without one) over `total_steps` optimizer steps."""
        config = dict(self.hparams.optimizer)
        groups = parameter_groups(self.net, float(config["weight_decay"]))
        optimizer = instantiate(config, _partial_=True)(groups)
        if not self.hparams.scheduler:
            return optimizer, None
        scheduler = instantiate(self.hparams.scheduler, _partial_=True)(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],
            total_steps=total_steps,
        )
        return optimizer, scheduler


def class_ids(batch: Batch) -> torch.Tensor:
    """The batch's masks as int64 class ids for the loss and metrics: they cross to the device
    as uint8 (8x fewer bytes) and are widened there, in the step, whatever loop feeds it."""
    return batch["mask"].long()


def replan_schedule(state: dict[str, Any], fresh: LRScheduler, planned: int) -> None:
    """Give a resumed OneCycleLR state the phases of `fresh`, planned for the new step count.

    The step counter is kept, so the learning rate continues as the new, longer (or shorter)
    cycle has it at that step: a run extended from E to E' epochs anneals as if planned for E'.
    """
    new = fresh.state_dict()
    state["total_steps"], state["_schedule_phases"] = new["total_steps"], new["_schedule_phases"]
    log.warning(
        "Re-planned the 1-cycle schedule from %d to %d optimizer steps, continuing at step %d",
        planned,
        new["total_steps"],
        state["last_epoch"],
    )


def module_from_config(cfg: DictConfig) -> SegmentationModule:
    """The module a composed training config describes (its model, loss, optimizer, scheduler)."""

    def plain(node: DictConfig) -> dict[str, Any]:
        return OmegaConf.to_container(node, resolve=True)

    return SegmentationModule(
        model=plain(cfg.model),
        loss=plain(cfg.loss),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler) if cfg.scheduler else None,
        seed=int(cfg.seed),
    )
