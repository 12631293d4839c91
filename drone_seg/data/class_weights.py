"""Class weights for the loss from a dataset's class statistics, and the table
`python -m drone_seg.stats` prints.

Gives, per class, its pixel and image counts, then two sets of weights normalized to mean 1 over
the classes present, as `loss.class_weights=[...]` overrides: inverse frequency (1 / the class's
share of all labelled pixels) and median frequency balancing (Eigen and Fergus, 2015: the median
class frequency over the class's frequency, a class's frequency being its pixels over the pixels of
the images it appears in). Absent classes get weight 0; with no labelled pixel at all there is no
weight to give (`DataError`; the scan refuses such a dataset first). Counts come from the
statistics cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drone_seg.classes import CLASS_NAMES
from drone_seg.errors import DataError


def present_classes(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels per class and which classes have any; no labelled pixel at all is a `DataError`."""
    pixels = counts.sum(axis=0).astype(float)
    present = pixels > 0
    if not present.any():
        raise DataError("no labelled pixel in the dataset: class weights are undefined")
    return pixels, present


def normalized(weights: np.ndarray, present: np.ndarray) -> np.ndarray:
    """`weights` scaled to mean 1 over the present classes, 0 for the absent ones."""
    out = np.zeros_like(weights, dtype=float)
    out[present] = weights[present] / weights[present].mean()
    return out


def inverse_frequency(counts: np.ndarray) -> np.ndarray:
    """Per-class weights 1 / (class pixels / labelled pixels), normalized to mean 1, 0 if absent."""
    pixels, present = present_classes(counts)
    weights = np.zeros_like(pixels)
    weights[present] = pixels.sum() / pixels[present]
    return normalized(weights, present)


def median_frequency(counts: np.ndarray) -> np.ndarray:
    """Per-class median frequency balancing weights, normalized to mean 1, 0 if absent."""
    pixels, present = present_classes(counts)
    image_pixels = counts.sum(axis=1).astype(float)
    pixels_where_present = (counts > 0).astype(float).T @ image_pixels
    frequency = np.zeros_like(pixels)
    frequency[present] = pixels[present] / pixels_where_present[present]
    weights = np.zeros_like(pixels)
    weights[present] = np.median(frequency[present]) / frequency[present]
    return normalized(weights, present)


def as_override(weights: np.ndarray) -> str:
    """The weights as a Hydra override, e.g. `loss.class_weights=[0.1,2.5,...]`."""
    return "loss.class_weights=[" + ",".join(f"{w:.4g}" for w in weights) + "]"


def stats_text(counts: np.ndarray, ignored: int, root: Path) -> str:
    """The printed report: a table per class, then the two weight overrides."""
    pixels, images = counts.sum(axis=0), (counts > 0).sum(axis=0)
    inverse, median = inverse_frequency(counts), median_frequency(counts)
    lines = [
        f"{root}: {len(counts)} images, {int(pixels.sum())} labelled pixels, {ignored} ignored",
        "",
        "| class | pixels | images | inverse frequency | median frequency |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {int(pixels[c])} | {int(images[c])} | {inverse[c]:.4g} | {median[c]:.4g} |"
        for c, name in enumerate(CLASS_NAMES)
    ]
    lines += [
        "",
        "Class weights, mean 1 over the classes present (absent classes 0):",
        f"inverse frequency:  {as_override(inverse)}",
        f"median frequency:   {as_override(median)}",
    ]
    return "\n".join(lines)
