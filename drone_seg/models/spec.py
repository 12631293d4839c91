"""What a network builder is given: the `model` config keys every library's builder maps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkSpec:
    """`model.name`, the class count, and the weight, auxiliary-head and encoder choices."""

    name: str
    num_classes: int
    weights: str | None = None
    weights_backbone: str | None = None
    aux_loss: bool = True
    encoder: str | None = None
