"""torchvision's segmentation networks, their classifiers resized to our classes, as adapters.

The adapter keeps torchvision's attribute names (`backbone`, `classifier`, `aux_classifier`), so
the state dict keys are torchvision's own and checkpoints from before the adapter still load.
"""

from __future__ import annotations

from urllib.error import URLError

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.models import segmentation
from torchvision.models.segmentation.lraspp import LRASPP

from drone_seg.errors import ConfigError
from drone_seg.models.adapter import SegmentationLogits, SegmentationNetwork
from drone_seg.models.spec import NetworkSpec

TORCHVISION_NETWORKS: tuple[str, ...] = (
    "deeplabv3_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
    "fcn_resnet50",
)
# Networks that can carry an auxiliary FCN head on an intermediate feature map.
HAS_AUX_HEAD: frozenset[str] = frozenset(TORCHVISION_NETWORKS) - {"lraspp_mobilenet_v3_large"}


class TorchvisionNetwork(SegmentationNetwork):
    """A torchvision DeepLabV3, FCN or LR-ASPP network, running torchvision's own forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.backbone = model.backbone
        self.classifier = model.classifier
        self.aux_classifier: nn.Module | None = getattr(model, "aux_classifier", None)
        # LR-ASPP's classifier reads the backbone's whole feature dict, the others its "out".
        self.classifier_reads_all_features = isinstance(model, LRASPP)

    def forward(self, images: torch.Tensor) -> SegmentationLogits:
        size = images.shape[-2:]
        features = self.backbone(images)
        head_input = features if self.classifier_reads_all_features else features["out"]
        out = _resize(self.classifier(head_input), size)
        if self.aux_classifier is None:
            return SegmentationLogits(out)
        return SegmentationLogits(out, _resize(self.aux_classifier(features["aux"]), size))

    def without_aux(self) -> TorchvisionNetwork:
        self.aux_classifier = None
        return self


def build_torchvision(spec: NetworkSpec) -> TorchvisionNetwork:
    """torchvision network `spec.name` for `spec.num_classes` classes.

    Pretrained `weights` (e.g. "DEFAULT", COCO) keep their architecture and get new final 1x1
    convolutions; the backbone is fixed by the name, so `encoder` must be null.
    """
    if spec.encoder is not None:
        raise ConfigError(
            f"model.encoder={spec.encoder}: {spec.name} has a fixed backbone; set "
            "model.encoder=null (encoders are for smp networks such as model=unet)"
        )
    _check_weights_name(spec.name, spec.weights)
    aux = spec.aux_loss and spec.name in HAS_AUX_HEAD
    builder = getattr(segmentation, spec.name)
    kwargs = {"aux_loss": aux} if spec.name in HAS_AUX_HEAD else {}
    if spec.weights is None:
        kwargs["num_classes"] = spec.num_classes
    try:
        model = builder(weights=spec.weights, weights_backbone=spec.weights_backbone, **kwargs)
    except (URLError, OSError, RuntimeError) as error:
        raise ConfigError(
            f"could not load model.weights={spec.weights} / model.weights_backbone="
            f"{spec.weights_backbone} for {spec.name} ({error}): connect to the internet once, or "
            "copy the file into $TORCH_HOME/hub/checkpoints, or set model.weights=null "
            "model.weights_backbone=null"
        ) from error
    _replace_classifiers(model, spec.num_classes)
    return TorchvisionNetwork(model)


def _resize(logits: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


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
