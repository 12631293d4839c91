"""Using a trained model: loading an artifact, whole/tiled/TTA prediction, run-length encoding."""
