"""segmentation_models_pytorch (smp) networks with smp or timm encoders, as adapters.

Images of any size run: they are padded on the bottom and right to the encoder's output stride
and the logits cropped back; pyramid pooling is swapped for a form ONNX exports at any size.
The auxiliary head is torchvision's FCN head on the stride-16
encoder stage (smp's own `aux_params` head classifies whole images, it does not segment).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models.segmentation.fcn import FCNHead

from drone_seg.errors import ConfigError
from drone_seg.models.adapter import SegmentationLogits, SegmentationNetwork
from drone_seg.models.pooling import replace_adaptive_pools
from drone_seg.models.spec import NetworkSpec

# model.name -> smp architecture (smp.create_model's `arch`).
SMP_ARCHITECTURES: dict[str, str] = {
    "unet": "unet",
    "deeplabv3plus": "deeplabv3plus",
    "upernet": "upernet",
    "segformer": "segformer",
}
EXAMPLE_ENCODERS = (
    "resnet18, resnet34, resnet50, mit_b0, tu-convnext_tiny, tu-mobilenetv3_small_100"
)
# Encoder weights by name for timm (tu-) encoders: the timm model's default pretrained tag.
TIMM_WEIGHTS = "imagenet"


class SmpNetwork(SegmentationNetwork):
    """An smp encoder-decoder network; `backbone` is its encoder."""

    def __init__(self, model: nn.Module, aux_head: nn.Module | None) -> None:
        super().__init__()
        self.model = model
        self.aux_head = aux_head
        self.stride = model.encoder.output_stride if model.requires_divisible_input_shape else 1

    @property
    def backbone(self) -> nn.Module:
        return self.model.encoder

    def forward(self, images: torch.Tensor) -> SegmentationLogits:
        height, width = images.shape[-2:]
        padded = F.pad(images, (0, (-width) % self.stride, 0, (-height) % self.stride))
        features = self.model.encoder(padded)
        logits = self.model.segmentation_head(self.model.decoder(features))
        out = logits[..., :height, :width]
        if self.aux_head is None:
            return SegmentationLogits(out)
        aux = self.aux_head(features[-2])
        aux = F.interpolate(aux, size=padded.shape[-2:], mode="bilinear", align_corners=False)
        return SegmentationLogits(out, aux[..., :height, :width])

    def without_aux(self) -> SmpNetwork:
        self.aux_head = None
        return self


def build_smp(spec: NetworkSpec) -> SmpNetwork:
    """smp architecture `spec.name` on encoder `spec.encoder` for `spec.num_classes` classes.

    `weights_backbone` names the encoder's pretrained weights (downloaded from the Hugging Face
    hub when not cached); smp has no whole-network weights for these, so `weights` must be null.
    """
    import segmentation_models_pytorch as smp

    if spec.weights is not None:
        raise ConfigError(
            f"model.weights={spec.weights}: {spec.name} has no whole-network pretrained weights; "
            "set model.weights=null (model.weights_backbone=imagenet pretrains its encoder)"
        )
    encoder_weights = _encoder_weights(smp, spec.encoder, spec.weights_backbone)
    try:
        model = smp.create_model(
            SMP_ARCHITECTURES[spec.name],
            encoder_name=spec.encoder,
            encoder_weights=encoder_weights,
            classes=spec.num_classes,
        )
    except (OSError, RuntimeError) as error:
        raise ConfigError(
            f"could not load model.weights_backbone={spec.weights_backbone} for model.encoder="
            f"{spec.encoder} ({error}): connect to the internet once (Hugging Face hub), or set "
            "model.weights_backbone=null"
        ) from error
    except (ValueError, KeyError, AttributeError, TypeError) as error:
        raise ConfigError(
            f"model.encoder={spec.encoder} does not fit model.name={spec.name} ({error}): try "
            f"another encoder, e.g. {EXAMPLE_ENCODERS}"
        ) from error
    replace_adaptive_pools(model)  # UPerNet's pyramid pooling, so ONNX keeps dynamic sizes
    aux_head = None
    if spec.aux_loss:
        aux_head = FCNHead(model.encoder.out_channels[-2], spec.num_classes)
    return SmpNetwork(model, aux_head)


def _encoder_weights(smp, encoder: str | None, weights: str | None) -> str | bool | None:
    """smp's `encoder_weights` for our names, after checking the encoder and weights exist."""
    if encoder is not None and encoder.startswith("tu-"):
        import timm

        if not timm.is_model(encoder.removeprefix("tu-")):
            raise ConfigError(
                f"model.encoder={encoder} is not a timm model: use tu-<name> with a name from "
                "timm.list_models(), e.g. tu-convnext_tiny, tu-mobilenetv3_large_100"
            )
        if weights not in (None, TIMM_WEIGHTS):
            raise ConfigError(
                f"model.weights_backbone={weights}: timm encoders take null or {TIMM_WEIGHTS} "
                f"(pick a pretrained tag in the name, e.g. model.encoder={encoder}.<tag>)"
            )
        return True if weights is not None else None
    if encoder not in smp.encoders.encoders:
        raise ConfigError(
            f"model.encoder={encoder} is not an smp encoder: use one of {EXAMPLE_ENCODERS}, any "
            "timm model as tu-<name>, or see smp.encoders.get_encoder_names()"
        )
    available = smp.encoders.encoders[encoder]["pretrained_settings"]
    if weights is not None and weights not in available:
        raise ConfigError(
            f"model.weights_backbone={weights} is not available for model.encoder={encoder}: "
            f"use null or one of {', '.join(available)}"
        )
    return weights
