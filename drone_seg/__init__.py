"""drone_seg: semantic segmentation of drone imagery with PyTorch Lightning and Hydra."""

from drone_seg.runs.resolvers import register_resolvers

__version__ = "0.1.0"

register_resolvers()
