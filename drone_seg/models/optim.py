"""YOLOv5-style parameter groups: decay weights, never normalization weights or biases."""

from __future__ import annotations

from typing import Any

from torch import nn

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def parameter_groups(network: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Return three optimizer groups: "decay" (weights, decayed), "norm" and "bias" (no decay).

    Decaying normalization scales or biases only shrinks them towards zero without regularizing.
    Frozen parameters (requires_grad=False) are left out.
    """
    decay, norm, bias = [], [], []
    for module in network.modules():
        for param_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if param_name == "bias":
                bias.append(param)
            elif isinstance(module, NORM_LAYERS):
                norm.append(param)
            else:
                decay.append(param)
    return [
        {"name": "decay", "params": decay, "weight_decay": weight_decay},
        {"name": "norm", "params": norm, "weight_decay": 0.0},
        {"name": "bias", "params": bias, "weight_decay": 0.0},
    ]
