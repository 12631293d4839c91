"""What people read about a model: per-class score tables and pictures (masks, overlays,
confusion matrices)."""
