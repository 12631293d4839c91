from urllib.error import URLError

import pytest
import torch
import torchvision

from drone_seg.errors import ConfigError
from drone_seg.models.networks import HAS_AUX_HEAD, NETWORKS, build_network


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_outputs_twelve_class_logits_at_input_size(name: str) -> None:
    network = build_network(name, num_classes=12).eval()
    with torch.no_grad():
        outputs = network(torch.rand(1, 3, 64, 96))
    assert outputs["out"].shape == (1, 12, 64, 96)
    assert ("aux" in outputs) == (name in HAS_AUX_HEAD)
    if "aux" in outputs:
        assert outputs["aux"].shape == (1, 12, 64, 96)


def test_pretrained_architecture_gets_new_final_convolutions(monkeypatch) -> None:
    """COCO weights have 21 outputs; the loaded network must end in 12-class 1x1 convolutions."""
    reference = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        num_classes=21, weights_backbone=None
    )
    monkeypatch.setattr(
        torchvision.models._api, "load_state_dict_from_url", lambda *a, **k: reference.state_dict()
    )
    network = build_network("lraspp_mobilenet_v3_large", num_classes=12, weights="DEFAULT")
    assert network.classifier.low_classifier.out_channels == 12
    assert network.classifier.high_classifier.out_channels == 12
    kept = network.classifier.cbr[0].weight
    assert torch.equal(kept, reference.classifier.cbr[0].weight)


def test_bn_momentum_override_reaches_every_batchnorm() -> None:
    network = build_network("lraspp_mobilenet_v3_large", num_classes=12, bn_momentum=0.1)
    momenta = {m.momentum for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.1}


def test_unknown_network_and_unknown_weights_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"model.name=unet"):
        build_network("unet", num_classes=12)
    with pytest.raises(ConfigError, match=r"model.weights=IMAGENET_V9"):
        build_network("fcn_resnet50", num_classes=12, weights="IMAGENET_V9")


def test_weights_that_cannot_be_downloaded_give_one_clear_error(monkeypatch, tmp_path) -> None:
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError, match=r"model.weights=DEFAULT.*model.weights=null"):
        build_network("deeplabv3_resnet101", num_classes=12, weights="DEFAULT")
