"""Factory of torchvision segmentation networks with their classifiers resized to our classes."""

from __future__ import annotations

from urllib.error import URLError

import torchvision
from torch import nn
from torchvision.models import segmentation

from drone_seg.errors import ConfigError

NETWORKS: tuple[str, ...] = (
    "deeplabv3_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
    "fcn_resnet50",
)
# Networks that can carry an auxiliary FCN head on an intermediate feature map.
HAS_AUX_HEAD: frozenset[str] = frozenset(NETWORKS) - {"lraspp_mobilenet_v3_large"}


def build_network(
    name: str,
    num_classes: int,
    weights: str | None = None,
    weights_backbone: str | None = None,
    aux_loss: bool = True,
    bn_momentum: float | None = None,
) -> nn.Module:
    """Build torchvision network `name` for `num_classes` classes.

    Pretrained `weights` (e.g. "DEFAULT", COCO) keep their architecture and get new final 1x1
    convolutions; `bn_momentum` overrides BatchNorm momentum (MobileNetV3 uses 0.01, too slow to
    settle when training from scratch for a few hundred steps).
    """
    if name not in NETWORKS:
        raise ConfigError(f"model.name={name} is not one of {', '.join(NETWORKS)}")
    _check_weights_name(name, weights)
    aux = aux_loss and name in HAS_AUX_HEAD
    builder = getattr(segmentation, name)
    kwargs = {"aux_loss": aux} if name in HAS_AUX_HEAD else {}
    if weights is None:
        kwargs["num_classes"] = num_classes
    try:
        network = builder(weights=weights, weights_backbone=weights_backbone, **kwargs)
    except (URLError, OSError, RuntimeError) as error:
        raise ConfigError(
            f"could not load model.weights={weights} / model.weights_backbone={weights_backbone} "
            f"for {name} ({error}): connect to the internet once, or copy the file into "
            "$TORCH_HOME/hub/checkpoints, or set model.weights=null model.weights_backbone=null"
        ) from error
    _replace_classifiers(network, num_classes)
    if bn_momentum is not None:
        for module in network.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = bn_momentum
    return network


def _check_weights_name(name: str, weights: str | None) -> None:
    """Fail at start-up, not at download time, on a weights name the network does not have."""
    if weights is None:
        return
    available = torchvision.models.get_model_weights(name).__members__
    if weights.split(".")[-1] not in available:
        raise ConfigError(
            f"model.weights={weights} is not available for {name}: use null or one of "
            f"{', '.join(available)}"
        )


def _replace_classifiers(network: nn.Module, num_classes: int) -> None:
    """Swap every final 1x1 classifier convolution whose output is not `num_classes` wide."""
    head = network.classifier
    owners = (
        [(head, "low_classifier"), (head, "high_classifier")]
        if hasattr(head, "low_classifier")
        else [(head, str(len(head) - 1))]
    )
    aux = getattr(network, "aux_classifier", None)
    if aux is not None:
        owners.append((aux, str(len(aux) - 1)))
    for owner, attr in owners:
        conv = getattr(owner, attr)
        if conv.out_channels != num_classes:
            setattr(owner, attr, nn.Conv2d(conv.in_channels, num_classes, kernel_size=1))
