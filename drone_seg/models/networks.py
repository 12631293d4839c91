"""The network registry: `model.name` -> the builder that makes it, wrapped in the adapter.

Adding a network from another library is one builder (a `NetworkSpec` in, a
`SegmentationNetwork` out) registered in `BUILDERS`, plus one `conf/model/<name>.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from drone_seg.models.adapter import SegmentationNetwork
from drone_seg.models.smp_networks import SMP_ARCHITECTURES, build_smp
from drone_seg.models.spec import NetworkSpec
from drone_seg.models.torchvision_networks import TORCHVISION_NETWORKS, build_torchvision

NetworkBuilder = Callable[[NetworkSpec], SegmentationNetwork]

BUILDERS: dict[str, NetworkBuilder] = {
    **dict.fromkeys(TORCHVISION_NETWORKS, build_torchvision),
    **dict.fromkeys(SMP_ARCHITECTURES, build_smp),
}
NETWORKS: tuple[str, ...] = tuple(BUILDERS)


def build_network(
    name: str,
    num_classes: int,
    weights: str | None = None,
    weights_backbone: str | None = None,
    aux_loss: bool = True,
    bn_momentum: float | None = None,
    encoder: str | None = None,
) -> SegmentationNetwork:
    """Build registered network `name` for `num_classes` classes.

    `bn_momentum` overrides every BatchNorm's momentum (MobileNetV3 uses 0.01, too slow to settle
    when training from scratch for a few hundred steps); null keeps the library's.
    """
    spec = NetworkSpec(name, num_classes, weights, weights_backbone, aux_loss, encoder)
    network = BUILDERS[name](spec)
    if bn_momentum is not None:
        for module in network.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = bn_momentum
    return network
