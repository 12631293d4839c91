"""Export to ONNX and TorchScript: the self-check, dynamic shapes, predictions as eager PyTorch."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest
import torch

from drone_seg.errors import DroneSegError
from drone_seg.export import export
from drone_seg.inference.artifacts import load_model
from drone_seg.inference.exporting import export_difference, random_images
from drone_seg.inference.predictor import Predictor
from drone_seg.predict import predict
from drone_seg.runs.checkpoint import inference_network
from drone_seg.runs.run_dir import RunDir

from helpers.cli import run_command
from helpers.config import compose_config
from helpers.trained import agreement

EXPORT_SIZE = (96, 160)


@pytest.fixture(scope="module")
def checkpoint(shared_run: RunDir) -> Path:
    """The best checkpoint of the session's shared run."""
    return shared_run.best_checkpoint


@pytest.fixture(scope="module")
def eager(checkpoint: Path) -> torch.nn.Module:
    return inference_network(checkpoint, torch.device("cpu"))[0]


@pytest.fixture(scope="module")
def onnx_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.onnx written by the real command line into its run directory."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    result = run_command(
        "drone_seg.export", f"ckpt_path={checkpoint}", "format=onnx", f"hydra.run.dir={run_dir}",
        f"size=[{EXPORT_SIZE[0]},{EXPORT_SIZE[1]}]", "check_shapes=[[2,50,70]]",
    )  # fmt: skip
    assert f"Exported {run_dir / 'model.onnx'} (max |logit difference| vs eager: " in result.stdout
    return run_dir / "model.onnx"


def test_onnx_runs_at_other_batch_sizes_and_image_sizes(onnx_file: Path, eager) -> None:
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    images = random_images((3, 131, 250), torch.Generator().manual_seed(1))
    logits = session.run(None, {"images": images.numpy()})[0]
    with torch.no_grad():
        expected = eager(images).numpy()
    assert logits.shape == (3, 12, 131, 250)
    difference = float(np.abs(logits - expected).max())
    print(f"ONNX vs eager max |logit difference| at 3x3x131x250: {difference:.3g}")
    assert difference < 1e-4


def test_onnx_and_eager_predictions_agree(onnx_file: Path, checkpoint: Path, synthetic_root):
    images = [
        (path.name, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        for path in sorted((synthetic_root / "JPEGImages").glob("*.jpg"))[:8]
    ]
    onnx_model = load_model(onnx_file, "cpu")
    assert onnx_model.size == EXPORT_SIZE
    masks = {}
    for name, model in [("onnx", onnx_model), ("eager", load_model(checkpoint, "cpu"))]:
        predictor = Predictor(model, size=(120, 200), batch_size=4)
        masks[name] = [mask for _, _, mask in predictor.predict(images)]
    share = agreement(masks["onnx"], masks["eager"])
    print(f"ONNX vs eager prediction agreement: {share:.4%}")
    assert share >= 0.999


def test_the_check_sees_an_export_that_differs_from_eager(onnx_file: Path, checkpoint) -> None:
    inputs = [random_images((1, *EXPORT_SIZE), torch.Generator().manual_seed(2))]
    module = inference_network(checkpoint, torch.device("cpu"))[0]
    assert export_difference(onnx_file, module, inputs) < 1e-4
    with torch.no_grad():
        module.net.classifier.high_classifier.bias += 1e-3
    assert export_difference(onnx_file, module, inputs) == pytest.approx(1e-3, rel=1e-2)


def test_torchscript_export_checks_itself_and_predicts(checkpoint: Path, tmp_path: Path) -> None:
    overrides = [
        f"ckpt_path={checkpoint}", "format=torchscript", "size=[64,96]", "check_shapes=[[2,50,70]]",
    ]  # fmt: skip
    result = export(compose_config("export", *overrides, run_dir=tmp_path / "run"))
    assert result.path == tmp_path / "run" / "model.pt" and result.path.is_file()
    assert result.max_difference < 1e-4
    image = np.random.default_rng(0).integers(0, 256, (90, 150, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "x.png"), image)
    output = tmp_path / "out"
    prediction = compose_config(
        "predict", f"ckpt_path={result.path}", f"input={tmp_path / 'x.png'}",
        f"output={output}", run_dir=tmp_path / "predict",
    )  # fmt: skip
    assert predict(prediction).predicted == 1
    assert cv2.imread(str(output / "x.png"), cv2.IMREAD_UNCHANGED).shape == (90, 150)


def test_an_export_that_fails_its_check_leaves_no_model_file_and_names_none(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def differs(path: Path, *args: object) -> float:
        assert path.is_file()  # written, under its temporary name, before the check
        return 0.5

    monkeypatch.setattr("drone_seg.export.export_difference", differs)
    run = tmp_path / "run"
    overrides = [f"ckpt_path={checkpoint}", "format=torchscript", "size=[64,96]"]
    with pytest.raises(DroneSegError, match=r"differs from eager PyTorch by up to 0\.5") as failed:
        export(compose_config("export", *overrides, run_dir=run))
    assert list(run.iterdir()) == []
    named = [word.rstrip(",:;") for word in str(failed.value).split() if "/" in word]
    assert named == [str(checkpoint), str(run)] and all(Path(p).exists() for p in named)
