"""Band-wise assembly of the class map: the Predictor holds float buffers only for the rows tiles
still write, and returns the classes of the straightforward full-buffer computation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from drone_seg.classes import NUM_CLASSES
from drone_seg.inference.artifacts import LoadedModel
from drone_seg.inference.predictor import Predictor, Tiling, blend_window, tile_starts
from drone_seg.inference.rows import linear_taps, resize_rows


def full_buffer_prediction(
    model: LoadedModel,
    image: np.ndarray,
    sizes: list[tuple[int, int]],
    tiling: Tiling | None,
    hflip: bool,
) -> tuple[np.ndarray, torch.Tensor]:
    """The straightforward computation with full-size float buffers: the image resized to each
    of `sizes` (one per TTA scale), cut in tiles (or taken whole), blended, upsampled, summed.
    Returns the class map and the summed probabilities (C, H, W)."""

    def resize(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(batch.shape[2:]) == size:
            return batch
        return torch.nn.functional.interpolate(batch, size, mode="bilinear", align_corners=False)

    full = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    height, width = image.shape[:2]
    total = torch.zeros(NUM_CLASSES, height, width)
    for size in sizes:
        scaled = resize(full, size)
        sums, weights = torch.zeros(NUM_CLASSES, *size), torch.zeros(size)
        tile, overlap = size, 0
        if tiling is not None:
            tile, overlap = (
                (min(tiling.size[0], size[0]), min(tiling.size[1], size[1])),
                tiling.overlap,
            )
        window = blend_window(*tile, device=torch.device("cpu"))
        for top in tile_starts(size[0], tile[0], overlap):
            for left in tile_starts(size[1], tile[1], overlap):
                box = (slice(top, top + tile[0]), slice(left, left + tile[1]))
                for flip in (False, True) if hflip else (False,):
                    crop = scaled[:, :, box[0], box[1]]
                    logits = model.run(crop.flip(-1) if flip else crop).float()
                    probabilities = logits.softmax(dim=1)[0]
                    sums[:, box[0], box[1]] += (
                        probabilities.flip(-1) if flip else probabilities
                    ) * window
                    weights[box] += window
        total += resize((sums / weights)[None], (height, width))[0]
    return total.argmax(dim=0).to(torch.uint8).numpy(), total


def contextual_model() -> LoadedModel:
    """A fixed random network whose output at a pixel depends on its 7x7 neighbourhood, so a tile
    cut from the wrong place, or a band joined at the wrong row, changes the classes."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, padding=2),
        torch.nn.Tanh(),
        torch.nn.Conv2d(16, NUM_CLASSES, 3, padding=1),
    ).eval()

    def run(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return network(images / 64 - 2) * 3

    return LoadedModel(run, torch.device("cpu"), None)


def textured_image(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth colour regions plus noise: several classes under `contextual_model`."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).astype(int)
    return np.clip(smooth + rng.integers(-20, 21, smooth.shape), 0, 255).astype(np.uint8)


def assert_same_classes_but_on_ties(mask: np.ndarray, expected: np.ndarray, total) -> None:
    """`mask` equals `expected` except, at most, where the two best classes' summed
    probabilities are within float32 rounding of each other (ties either way is right)."""
    assert mask.shape == expected.shape and len(np.unique(expected)) >= 4
    best, second = total.topk(2, dim=0).values
    near_ties = (best - second < 1e-5).numpy()
    differ = mask != expected
    print(f"pixels differing: {differ.sum()} (near ties: {near_ties.sum()})")
    assert not (differ & ~near_ties).any()


@pytest.mark.parametrize(
    ("tiling", "scales"),
    [
        (Tiling((32, 24), 10), [1.0, 0.75]),
        (Tiling((20, 28), 6, scale=0.5), [1.0, 1.3]),
        (Tiling((26, 40), 0), [1.0]),
    ],
)
def test_band_wise_tiled_assembly_equals_the_full_buffer_computation(tiling, scales) -> None:
    image = textured_image(77, 101, seed=1)
    model = contextual_model()
    factors = [tiling.scale * scale for scale in scales]
    sizes = [(max(1, round(77 * f)), max(1, round(101 * f))) for f in factors]
    expected, total = full_buffer_prediction(model, image, sizes, tiling, hflip=True)
    predictor = Predictor(model, tiling=tiling, hflip=True, scales=scales, batch_size=3)
    [(key, _, mask)] = predictor.predict([("x", image)])
    assert key == "x"
    assert_same_classes_but_on_ties(mask, expected, total)


def test_band_wise_whole_image_assembly_equals_the_full_buffer_computation() -> None:
    images = [textured_image(203, 131, seed=2), textured_image(90, 150, seed=3)]
    model = contextual_model()
    predictor = Predictor(model, size=(40, 56), hflip=True, scales=[1.0, 0.6], batch_size=4)
    results = list(predictor.predict(enumerate(images)))
    assert [key for key, _, _ in results] == [0, 1]
    for (_, _, mask), image in zip(results, images, strict=True):
        sizes = [(40, 56), (24, 34)]
        expected, total = full_buffer_prediction(model, image, sizes, None, hflip=True)
        assert_same_classes_but_on_ties(mask, expected, total)


@pytest.mark.parametrize(("source", "target"), [(77, 58), (96, 720), (1000, 300), (45, 901)])
def test_rows_of_a_resize_equal_the_whole_resize(source: int, target: int) -> None:
    maps = torch.rand(3, source, 37) * 255
    expected = torch.nn.functional.interpolate(
        maps[None], (target, 53), mode="bilinear", align_corners=False
    )[0]
    taps = linear_taps(source, target)
    middle = target // 3
    parts = [
        resize_rows(lambda rows: maps[:, torch.from_numpy(rows)], taps, 53, start, stop)
        for start, stop in [(0, middle), (middle, target)]
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), expected, rtol=0, atol=1e-4)
