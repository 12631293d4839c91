"""`tune_lr=true` runs the LR range test, keeps its plot and suggestion, and trains nothing."""

from __future__ import annotations

import json
from pathlib import Path

from drone_seg.train import train


def test_tune_lr_saves_plot_and_suggestion_without_training(train_config, caplog) -> None:
    cfg = train_config("tune_lr=true", "trainer.max_epochs=20")  # room for 100 steps
    caplog.set_level("INFO")
    assert train(cfg) == {}
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / "lr_finder.png").stat().st_size > 1000
    results = json.loads((run_dir / "lr_finder.json").read_text())
    assert len(results["lr"]) == len(results["loss"]) > 10
    assert min(results["lr"]) <= results["suggestion"] <= max(results["lr"])
    assert f"optimizer.lr={results['suggestion']}" in caplog.text
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "metrics.json").exists()
