"""The network registry and the torchvision adapter: shapes, heads, weights, errors."""

from urllib.error import URLError

import pytest
import torch
import torchvision

from drone_seg.errors import ConfigError
from drone_seg.models.adapter import SegmentationNetwork
from drone_seg.models.networks import NETWORKS, build_network
from drone_seg.models.smp_networks import SMP_ARCHITECTURES
from drone_seg.models.torchvision_networks import HAS_AUX_HEAD, TorchvisionNetwork

from helpers.networks import SMALL_ENCODERS


def test_every_registered_network_has_its_model_config(train_config) -> None:
    assert set(SMALL_ENCODERS) == set(SMP_ARCHITECTURES) <= set(NETWORKS)
    for name in NETWORKS:
        model = train_config(f"model={name}").model
        assert model.name == name
        assert (model.encoder is None) == (name not in SMP_ARCHITECTURES)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_outputs_twelve_class_logits_at_any_input_size(name: str) -> None:
    """64x90 is not a multiple of any output stride: smp networks pad and crop."""
    network = build_network(name, num_classes=12, encoder=SMALL_ENCODERS.get(name)).eval()
    assert isinstance(network, SegmentationNetwork)
    with torch.no_grad():
        outputs = network(torch.rand(1, 3, 64, 90))
    assert outputs.out.shape == (1, 12, 64, 90)
    assert (outputs.aux is not None) == (name in HAS_AUX_HEAD or name in SMP_ARCHITECTURES)
    if outputs.aux is not None:
        assert outputs.aux.shape == (1, 12, 64, 90)
    assert network.without_aux()(torch.rand(1, 3, 32, 32)).aux is None


@pytest.mark.parametrize("name", ["deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"])
def test_torchvision_adapter_keeps_torchvisions_keys_and_logits(name: str) -> None:
    """Checkpoints written before the adapter load into it, and give the same logits."""
    builder = getattr(torchvision.models.segmentation, name)
    reference = builder(num_classes=12, weights_backbone=None).eval()
    adapter = TorchvisionNetwork(reference).eval()
    assert list(adapter.state_dict()) == list(reference.state_dict())
    images = torch.rand(2, 3, 64, 90)
    with torch.no_grad():
        expected, outputs = reference(images), adapter(images)
    torch.testing.assert_close(outputs.out, expected["out"], rtol=0, atol=0)
    if "aux" in expected:
        torch.testing.assert_close(outputs.aux, expected["aux"], rtol=0, atol=0)
    assert adapter.backbone is reference.backbone


def test_aux_loss_off_builds_no_aux_head() -> None:
    network = build_network("deeplabv3_mobilenet_v3_large", num_classes=12, aux_loss=False)
    assert network.aux_classifier is None
    assert network(torch.rand(2, 3, 32, 32)).aux is None


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


@pytest.mark.parametrize("name", ["lraspp_mobilenet_v3_large", "segformer"])
def test_bn_momentum_override_reaches_every_batchnorm(name: str) -> None:
    network = build_network(name, 12, bn_momentum=0.1, encoder=SMALL_ENCODERS.get(name))
    momenta = {m.momentum for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.1}


def test_unknown_network_weights_and_encoder_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"model.weights=IMAGENET_V9"):
        build_network("fcn_resnet50", num_classes=12, weights="IMAGENET_V9")
    with pytest.raises(ConfigError, match=r"model.encoder=resnet18: .* set model.encoder=null"):
        build_network("fcn_resnet50", num_classes=12, encoder="resnet18")


def test_weights_that_cannot_be_downloaded_give_one_clear_error(monkeypatch, tmp_path) -> None:
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError, match=r"model.weights=DEFAULT.*model.weights=null"):
        build_network("deeplabv3_resnet101", num_classes=12, weights="DEFAULT")
