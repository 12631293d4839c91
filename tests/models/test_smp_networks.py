"""smp networks through the registry: offline builds, encoder and weight errors, the aux head,
freezing the encoder, and training -> checkpoint -> export (ONNX, TorchScript) -> predict."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import huggingface_hub
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from drone_seg.cli import CONFIG_DIR
from drone_seg.errors import ConfigError
from drone_seg.export import export
from drone_seg.models.networks import build_network
from drone_seg.models.pooling import BoxSumAdaptiveAvgPool2d
from drone_seg.models.smp_networks import SMP_ARCHITECTURES
from drone_seg.predict import predict
from drone_seg.train import train

from helpers.networks import SMALL_ENCODERS
from helpers.snapshots import SNAPSHOT_CALLBACK, SNAPSHOTS, changed

ONE_BATCH = (
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
)


def compose_command(name: str, run_dir: Path, *overrides: str) -> DictConfig:
    """`conf/<name>.yaml` composed as its command line would, writing into `run_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(name, [f"hydra.run.dir={run_dir}", *overrides], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object) -> None:
        raise AssertionError(f"tried the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", sorted(SMP_ARCHITECTURES))
def test_each_config_default_encoder_builds_without_the_network(
    name: str, train_config, no_network
) -> None:
    model = train_config(f"model={name}").model
    network = build_network(name, 12, encoder=model.encoder, weights_backbone=None).eval()
    assert network.backbone is network.model.encoder
    assert network(torch.rand(1, 3, 40, 72)).out.shape == (1, 12, 40, 72)


def test_missing_encoder_weights_offline_are_one_line(monkeypatch, tmp_path, no_network) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match=r"could not load model.weights_backbone=imagenet .*"):
        build_network("unet", 12, encoder="resnet18", weights_backbone="imagenet")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"encoder": "resnet9"},
            r"model.encoder=resnet9 is not an smp encoder: use one of resnet18",
        ),
        ({"encoder": "tu-nope_net"}, r"model.encoder=tu-nope_net is not a timm model"),
        ({"encoder": None}, r"model.encoder=None is not an smp encoder"),
        (
            {"encoder": "vgg11", "name": "deeplabv3plus"},
            r"model.encoder=vgg11 does not fit .*dilated",
        ),
        ({"weights": "DEFAULT"}, r"model.weights=DEFAULT: unet has no whole-network"),
        (
            {"weights_backbone": "DEFAULT"},
            r"model.weights_backbone=DEFAULT .* null or one of imagenet",
        ),
        (
            {"encoder": "tu-resnet18", "weights_backbone": "ssl"},
            r"model.weights_backbone=ssl: timm encoders take null or imagenet",
        ),
    ],
)
def test_wrong_encoder_or_weights_are_one_line_config_errors(options: dict, message: str) -> None:
    arguments = {"name": "unet", "encoder": "resnet18", **options}
    with pytest.raises(ConfigError, match=message) as error:
        build_network(num_classes=12, **arguments)
    assert "\n" not in str(error.value)


def test_aux_head_reads_the_stride_16_stage_and_is_optional() -> None:
    network = build_network("segformer", 12, encoder="mit_b0")
    assert network.aux_head[0].in_channels == network.model.encoder.out_channels[-2] == 160
    outputs = network(torch.rand(2, 3, 50, 70))
    assert outputs.aux.shape == outputs.out.shape == (2, 12, 50, 70)
    assert build_network("segformer", 12, encoder="mit_b0", aux_loss=False).aux_head is None


@pytest.mark.parametrize("size", [1, 2, 3, 6])
@pytest.mark.parametrize("shape", [(7, 11), (2, 3), (23, 40), (1, 1)])
def test_box_sum_pooling_matches_adaptive_average_pooling(size: int, shape: tuple) -> None:
    features = torch.randn(2, 5, *shape)
    expected = torch.nn.AdaptiveAvgPool2d(size)(features)
    torch.testing.assert_close(BoxSumAdaptiveAvgPool2d(size)(features), expected)


def test_upernet_pyramid_pooling_is_swapped_for_the_exportable_form() -> None:
    network = build_network("upernet", 12, encoder="resnet18")
    kinds = [type(m) for m in network.modules()]
    assert kinds.count(BoxSumAdaptiveAvgPool2d) == 3  # bins 2, 3 and 6; bin 1 exports as is
    assert torch.nn.AdaptiveAvgPool2d in kinds


def test_freeze_backbone_freezes_the_smp_encoder_first_epoch(train_config) -> None:
    cfg = train_config(
        "model=unet",
        f"model.encoder={SMALL_ENCODERS['unet']}",
        "callbacks.freeze_backbone.epochs=1",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        SNAPSHOT_CALLBACK,
    )
    train(cfg)
    start, first, second = SNAPSHOTS["start"], SNAPSHOTS["epoch0"], SNAPSHOTS["epoch1"]
    assert not changed(start, first, "model.encoder."), "weights and BatchNorm statistics stay"
    assert changed(start, first, "model.decoder.") and changed(start, first, "aux_head.")
    trained = changed(first, second, "model.encoder.")
    assert any(k.endswith("running_mean") for k in trained)
    assert any(k.endswith(".weight") for k in trained)


@pytest.mark.slow  # networks beyond the default (make test-all)
@pytest.mark.parametrize("name", sorted(SMP_ARCHITECTURES))
def test_trains_offline_and_exports_with_a_passing_parity_check(
    name: str, train_config, tmp_path: Path
) -> None:
    """One training step to a checkpoint, then ONNX and TorchScript at other batch and image
    sizes than the example (checked against eager PyTorch inside export), then predict."""
    cfg = train_config(f"model={name}", f"model.encoder={SMALL_ENCODERS[name]}", *ONE_BATCH)
    train(cfg)
    checkpoint = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()
    for fmt in ("onnx", "torchscript"):
        overrides = [f"ckpt_path={checkpoint}", f"format={fmt}", "size=[64,96]"]
        result = export(
            compose_command("export", tmp_path / fmt, *overrides, "check_shapes=[[2,50,70]]")
        )
        assert result.path.is_file() and result.max_difference < 1e-4
    image = np.random.default_rng(0).integers(0, 256, (90, 150, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "x.png"), image)
    for model in (checkpoint, result.path):
        output = tmp_path / f"predicted-{model.suffix}"
        overrides = [f"ckpt_path={model}", f"input={tmp_path / 'x.png'}", f"output={output}"]
        tiled = ["tile.enabled=true", "tile.size=[48,64]", "tile.overlap=16", "tta.hflip=true"]
        assert predict(compose_command("predict", tmp_path / "p", *overrides, *tiled)).predicted
        assert cv2.imread(str(output / "x.png"), cv2.IMREAD_UNCHANGED).shape == (90, 150)
