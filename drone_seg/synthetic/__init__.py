"""Procedural drone-footage-like scenes in the AeroScapes layout: the offline demo and test dataset.

By default the label statistics are AeroScapes' (`drone_seg.aeroscapes_reference`): flights
as long as its 141 flights, and each class allotted to whole flights so that its share of images is
AeroScapes' (`cast`). A flight is filmed in shots of a few frames; each shot is a small 3-D world in
metres (ground with land cover, water, roads and fields; buildings, vehicles, boats, people, bikes,
animals, obstacles, trees; drones) seen by a pinhole camera that drifts a little from frame to
frame, either oblique (horizon and sky at the top, perspective) or nadir (straight down). A frame
is rasterised once into a per-pixel *material* map; the RGB image and the class mask are both
derived from that one map, so every mask pixel is exactly a pixel the object covers in the image
(blur, noise and JPEG only touch the image).

    python -m drone_seg.synthesize dir=data/synthetic num_images=400 seed=0

One module per stage, in the order a frame is made: `cast` draws the flights and their classes,
`scenes` plans each sequence and composes the world of each shot (`builder` holds the state,
`terrain` lays the ground, `placement` puts `objects` in it, built from `solids` and sprites of
`world`), `camera` films it, `render` turns each frame into an image and a mask (through `raster`,
`materials`, `noise` and `light`), and `writer` writes the dataset.
"""

from drone_seg.synthetic.scenes import plan_sequences
from drone_seg.synthetic.writer import generate_dataset

__all__ = ["generate_dataset", "plan_sequences"]
