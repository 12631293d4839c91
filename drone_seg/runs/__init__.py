"""The run directory: what training writes (config, split, checkpoints, metrics, logs) and how every
other command reads it back, safely."""
