"""drone_seg: semantic segmentation of drone imagery with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
