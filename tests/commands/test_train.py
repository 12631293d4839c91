"""End-to-end tests of `drone_seg.train`: composed configs through the real train() and the CLI.

The command line's outputs are read from the session's shared run (helpers.trained.SHARED_RUN:
the demo, small, 2 epochs, trained through `python -m drone_seg.train`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from drone_seg.classes import CLASS_NAMES
from drone_seg.models.module import module_from_config
from drone_seg.models.networks import NETWORKS
from drone_seg.runs.run_dir import RunDir, read_metrics
from drone_seg.train import train

from helpers.cli import one_line_error, run_command
from helpers.config import TINY_TRAIN
from helpers.networks import SMALL_ENCODERS
from helpers.trained import SHARED_EPOCHS, printed

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_takes_a_training_step_through_the_module(train_config, network) -> None:
    """The module's loss, parameter groups and optimizer move the backbone and the rest of each
    registered network, on a tiny batch (the whole command runs once, in the shared run)."""
    encoder = [f"model.encoder={SMALL_ENCODERS[network]}"] if network in SMALL_ENCODERS else []
    module = module_from_config(train_config(f"model={network}", *encoder)).train()
    optimizer, _ = module.optimizer_and_schedule(total_steps=10)
    generator = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randint(0, 256, (2, 3, 64, 64), generator=generator, dtype=torch.uint8),
        "mask": torch.randint(0, len(CLASS_NAMES), (2, 64, 64), generator=generator),
    }
    before = [parameter.detach().clone() for parameter in module.net.parameters()]
    loss = module.training_step(batch, 0)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    backbone = {id(parameter) for parameter in module.net.backbone.parameters()}
    moved = {
        id(parameter) in backbone
        for parameter, start in zip(module.net.parameters(), before, strict=True)
        if not torch.equal(parameter, start)
    }
    assert moved == {True, False}, "the step must move the backbone and the head"


@pytest.fixture(scope="module")
def demo_run(shared_run: RunDir) -> Path:
    """The shared run: the demo experiment through the real command line."""
    stdout, _ = printed(shared_run)
    assert f"Run directory: {shared_run.path}" in stdout
    assert "| person |" in stdout and "mean (12 classes)" in stdout
    return shared_run.path


def test_demo_writes_checkpoints_metrics_and_split(demo_run: Path) -> None:
    assert (demo_run / "checkpoints" / "best.ckpt").is_file()
    assert (demo_run / "checkpoints" / "last.ckpt").is_file()
    metrics = read_metrics(demo_run / "metrics.json")
    dice = [metrics[f"val/dice_{name}"] for name in CLASS_NAMES]
    assert metrics["val/dice"] == pytest.approx(float(np.nanmean(dice)), abs=1e-6)
    assert metrics["val/dice"] > 0  # it learned a class or more
    assert {"val/iou", "val/dice_fg", "val/loss", "epoch"} <= metrics.keys()
    rows = (demo_run / "split.csv").read_text().splitlines()
    assert rows[0] == "image,subset" and len(rows) == 41
    assert sum(row.endswith(",val") for row in rows) == 8


def test_best_metrics_match_the_best_checkpoint(demo_run: Path) -> None:
    metrics = read_metrics(demo_run / "metrics.json")
    best = torch.load(demo_run / "checkpoints" / "best.ckpt", weights_only=False)
    checkpoint_callback = next(v for k, v in best["callbacks"].items() if "'val/dice'" in k)
    assert metrics["val/dice"] == pytest.approx(float(checkpoint_callback["best_model_score"]))
    assert best["epoch"] == metrics["epoch"]


def test_tensorboard_holds_losses_dice_per_class_and_learning_rate(demo_run: Path) -> None:
    events = EventAccumulator(str(demo_run / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"train/loss_step", "train/loss_epoch", "val/loss", "val/dice", "val/dice_person"}
    assert expected <= tags
    assert {"train/dice", "val/iou", "val/dice_fg"} <= tags
    assert any(tag.startswith("lr-") for tag in tags)


def test_last_checkpoint_has_three_parameter_groups(demo_run: Path) -> None:
    checkpoint = torch.load(demo_run / "checkpoints" / "last.ckpt", weights_only=False)
    groups = {g["name"]: g for g in checkpoint["optimizer_states"][0]["param_groups"]}
    assert groups.keys() == {"decay", "norm", "bias"}
    assert groups["decay"]["weight_decay"] > 0
    assert groups["norm"]["weight_decay"] == groups["bias"]["weight_decay"] == 0
    names = set(checkpoint["state_dict"])
    params = {n for n in names if n.startswith("net.") and not n.endswith(BUFFERS)}
    norm_weights = {n for n in params if n.removesuffix(".weight") + ".running_mean" in names}
    biases = {n for n in params if n.endswith(".bias")}
    assert len(groups["norm"]["params"]) == len(norm_weights) > 0
    assert len(groups["bias"]["params"]) == len(biases) > 0
    assert len(groups["decay"]["params"]) == len(params - norm_weights - biases) > 0


def test_baseline_recipe_runs_one_step_offline(train_config) -> None:
    """The reference recipe (DeepLabV3-ResNet101, heavy augments, sequence split), no weights."""
    cfg = train_config(
        "experiment=baseline",
        "model.weights=null",
        "model.weights_backbone=null",
        "trainer.fast_dev_run=true",
        "data.num_workers=0",
        "augment.crop_size=[64,64]",
        "augment.val_size=[96,160]",
        # 10 flights of 4, each class allotted to whole flights (the AeroScapes twin): val needs
        # half of them to hold every class
        "data.val_fraction=0.5",
    )
    assert cfg.model.name == "deeplabv3_resnet101" and cfg.data.split == "sequence"
    train(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    sequences = {
        subset: {image.split("_")[0] for image in ids}
        for subset, ids in (("train", datamodule.train_ids), ("val", datamodule.val_ids))
    }
    assert sequences["train"] and sequences["val"] and not sequences["train"] & sequences["val"]


@pytest.mark.slow  # the AeroScapes experiments with smp networks (make test-all)
@pytest.mark.parametrize(
    ("experiment", "network"),
    [("aeroscapes_deeplabv3plus", "deeplabv3plus"), ("aeroscapes_upernet_convnext", "upernet")],
)
def test_the_strong_aeroscapes_recipes_run_one_step_offline(
    train_config, experiment: str, network: str
) -> None:
    """Their smp network, rare-class sampling, class-aware crops and EMA, without weights."""
    cfg = train_config(
        f"experiment={experiment}",
        "model.weights_backbone=null",
        "trainer.fast_dev_run=true",
        "data.num_workers=0",
        "augment.crop_size=[64,64]",
        "augment.val_size=[96,160]",
        "data.val_fraction=0.5",  # as in the baseline test: every class's flights in val
    )
    assert cfg.model.name == network and cfg.data.sampler == "rare_class"
    assert cfg.augment.class_aware_crop.p == 0.5 and "ema" in cfg.callbacks
    assert train(cfg)["epoch"] == 0


def test_the_train_log_holds_what_the_console_showed(demo_run: Path) -> None:
    log = (demo_run / "train.log").read_text()
    stopped = f"`Trainer.fit` stopped: `max_epochs={SHARED_EPOCHS}` reached"
    assert "Seed set to" in log and stopped in log
    assert "Total params" in log and "| person |" in log and "mean (12 classes)" in log
    assert "Best validation epoch" in log and log.rstrip().endswith(f"Run directory: {demo_run}")


def test_lightning_s_lines_are_shown_once_and_logged_once(shared_run: RunDir) -> None:
    """The command imports Lightning after Hydra has set up logging (a new interpreter, as a user
    runs it): each of Lightning's records still reaches the console once and the log once."""
    console = "".join(printed(shared_run))
    log = (shared_run.path / "train.log").read_text()
    for line in ("GPU available: False", f"`max_epochs={SHARED_EPOCHS}` reached"):
        assert console.count(line) == 1 and log.count(line) == 1, line


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_refused_run_leaves_the_run_folder_as_it_was(demo_run: Path, synthetic_root) -> None:
    """Hydra's record (.hydra/) and the log of the run are untouched by a command that refuses."""
    before = files_of(demo_run)
    assert {".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml"} <= before.keys()
    result = run_command(
        "drone_seg.train", f"data.root={synthetic_root}", f"hydra.run.dir={demo_run}",
        "optimizer.lr=0.5", *TINY_TRAIN, expect_ok=False,
    )  # fmt: skip
    assert "already holds checkpoints of another run" in one_line_error(result)
    assert files_of(demo_run) == before


def test_a_command_refused_at_start_up_leaves_no_folder(tmp_path: Path) -> None:
    result = run_command(
        "drone_seg.train", "optimizer.lr=-1", "hydra.run.dir=mk/7", cwd=tmp_path, expect_ok=False
    )
    assert one_line_error(result).startswith("error: optimizer.lr=-1 must be")
    assert list(tmp_path.iterdir()) == []


def test_tune_lr_warns_nothing_against_the_weights_only_promise(tmp_path, synthetic_root) -> None:
    """Lightning saves the full state before the sweep and restores it, weights_only, after it;
    its notes about that temporary file (which it deletes) are not shown."""
    run = tmp_path / "run"
    result = run_command(
        "drone_seg.train", f"data.root={synthetic_root}", f"hydra.run.dir={run}", "tune_lr=true",
        "lr_finder.num_steps=13", *TINY_TRAIN,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "weights_only" in output  # our line saying how the state came back
    assert "`weights_only` was not set" not in output and ".lr_find_" not in output
    assert "read weights_only, then deleted" in (run / "train.log").read_text()
    assert not list(run.glob(".lr_find*")) and (run / "lr_finder.json").is_file()
