"""callbacks.validate_last_epoch: validating every N epochs still validates the last one."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from drone_seg.callbacks.validate_last_epoch import ValidateLastEpoch


class Recorder(L.LightningModule):
    """A one-weight model that records which epochs it was validated at."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.validated: list[int] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return (self.weight - batch[0]).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        if batch_idx == 0:
            self.validated.append(self.current_epoch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def validated_epochs(max_epochs: int, every: int, callbacks: list[L.Callback]) -> list[int]:
    loader = DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)
    model = Recorder()
    trainer = L.Trainer(
        max_epochs=max_epochs, check_val_every_n_epoch=every, callbacks=callbacks,
        num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, loader, loader)
    return model.validated


@pytest.mark.parametrize(
    ("max_epochs", "every", "expected"),
    [(4, 3, [2, 3]), (6, 3, [2, 5]), (2, 3, [1]), (3, 1, [0, 1, 2])],
)
def test_every_nth_epoch_and_the_last_are_validated(
    max_epochs: int, every: int, expected: list[int]
) -> None:
    assert validated_epochs(max_epochs, every, [ValidateLastEpoch()]) == expected


def test_without_it_lightning_leaves_the_last_epoch_unvalidated() -> None:
    assert validated_epochs(4, 3, []) == [2]
