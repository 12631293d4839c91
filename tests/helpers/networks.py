"""The smallest encoder each smp network is tested with, so its tests stay cheap on a CPU."""

from __future__ import annotations

# One timm (tu-) encoder among them, so the timm path is exercised too.
SMALL_ENCODERS: dict[str, str] = {
    "unet": "tu-mobilenetv3_small_100",
    "deeplabv3plus": "resnet18",
    "upernet": "resnet18",
    "segformer": "mit_b0",
}
