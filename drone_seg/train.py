"""Train a segmentation model: `python -m drone_seg.train [experiment=...] [overrides]`."""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from drone_seg.cli import begin_run, command
from drone_seg.reporting.class_tables import class_table
from drone_seg.runs.debug import debug_label
from drone_seg.runs.run_log import show
from drone_seg.runs.sweep import record_failure

log = logging.getLogger(__name__)
# conf/hydra/launcher/submitit_slurm.yaml takes the plugin's name, so that the command users know
# picks our preset. Hydra still checks it against the plugin's schema and warns that it will stop
# doing so; the file is complete on its own (tests/runs/test_sweep.py checks its keys).
warnings.filterwarnings(
    "ignore", message=r"\s*'hydra/launcher/submitit_slurm' is validated against ConfigStore schema"
)
# Lightning's ModelCheckpoint warns that checkpoints/ "exists and is not empty". A new run into a
# folder holding checkpoints is refused (runs/resume.check_run_folder), so here it can only be a
# resume continuing in its own folder, as documented: no warning against what README promises.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def train(cfg: DictConfig) -> dict[str, float]:
    """Check the data, build module and trainer from `cfg`, fit, and return the best val metrics.

    With `ckpt_path`, the run continues from that checkpoint with the config saved in it and the
    command line's keys on top (see `drone_seg.runs.resume`). The Trainer is built before the data
    scan, so that Lightning's own checks of the `trainer` keys stop a run at once. torch and
    Lightning are imported here, once the config has passed its checks (a fast `--help` too).
    """
    import lightning as L
    from lightning.pytorch.accelerators import CPUAccelerator
    from lightning.pytorch.utilities import rank_zero_only

    from drone_seg.callbacks.best_metrics import BestMetricsWriter
    from drone_seg.callbacks.run_record import RunRecordKeeper
    from drone_seg.config_checks import built
    from drone_seg.cpu_features import precision_note
    from drone_seg.models.module import module_from_config
    from drone_seg.runs.checkpoint import AtomicCheckpointIO, make_record, read_record
    from drone_seg.runs.hparams import log_hparams
    from drone_seg.runs.loggers import callbacks_for_loggers, close_loggers, instantiate_loggers
    from drone_seg.runs.lr_finder import check_lr_range, find_learning_rate
    from drone_seg.runs.resume import check_run_folder, resumed_config
    from drone_seg.runs.run_dir import RunDir

    if cfg.tune_lr:
        check_lr_range(cfg.lr_finder)
    checkpoint, record = read_record(Path(cfg.ckpt_path)) if cfg.ckpt_path else ({}, None)
    choices = _choices()
    if record is not None:
        cfg, choices = resumed_config(cfg, record, _task_overrides(), choices)
    L.seed_everything(cfg.seed, workers=True)
    run = RunDir(Path(cfg.paths.output_dir))
    check_run_folder(run, cfg.ckpt_path)
    unresolved = copy.deepcopy(cfg)  # instantiate resolves the nodes it reads, in place
    # A callback set to null (callbacks.images=null, as the debug presets do) is left out.
    nodes = (cfg.get("callbacks") or {}).items()
    callbacks = [built(f"callbacks.{name}", node) for name, node in nodes if node]
    keeper = RunRecordKeeper()  # given the run record once the split is known
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = built(
        "trainer",
        cfg.trainer,
        callbacks=callbacks_for_loggers([*callbacks, keeper], loggers),
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
    )
    if isinstance(trainer.accelerator, CPUAccelerator) and rank_zero_only.rank == 0:
        log.info(precision_note(str(cfg.trainer.precision), bool(cfg.model.channels_last)))
    datamodule = built("data", cfg.data)
    datamodule.load_state_dict(checkpoint.get(type(datamodule).__qualname__, {}))
    datamodule.prepare_data()
    datamodule.setup("fit")
    begin_run()  # checked: from here on the run folder is written
    if debug_label(cfg) is None:
        datamodule.write_split(run.split)
    val_changed = record is not None and set(record.split_val) != set(datamodule.val_ids)
    if val_changed and rank_zero_only.rank == 0:
        log.warning("The val images differ from those of %s: scores not comparable", record.path)
    module = module_from_config(cfg)
    keeper.record = make_record(unresolved, choices, datamodule.train_ids, datamodule.val_ids)
    if cfg.tune_lr:
        find_learning_rate(trainer, module, datamodule, run.path, cfg.lr_finder)
        close_loggers(trainer.loggers)
        return {}
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path, weights_only=True)
    writers = [c for c in callbacks if isinstance(c, BestMetricsWriter)]
    best = writers[0].best if writers else {}
    log_hparams(trainer.loggers, cfg, best, step=trainer.global_step)
    close_loggers(trainer.loggers)
    return best


def _task_overrides() -> list[str]:
    """This command line's overrides (empty outside a Hydra run)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _choices() -> dict[str, str]:
    """This run's config-group choices (model, data, experiment...), empty outside Hydra."""
    if not HydraConfig.initialized():
        return {}
    return {k: str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def _record_in_sweep(error: Exception) -> None:
    """In a sweep, record a run that raised as failed (None) and let the sweep go on: Hydra's
    sweeper would otherwise re-raise it after the batch, or SystemExit end the sweep at once."""
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        raise error
    record_failure(error, Path(HydraConfig.get().runtime.output_dir))


@command("train", on_failure=_record_in_sweep)
def main(cfg: DictConfig) -> float | None:
    """Train, print the best epoch's table; return the best val/dice for sweepers (None for a
    debug run, which is a check rather than a result)."""
    from lightning.pytorch.utilities import rank_zero_only

    best = train(cfg)
    debug = debug_label(cfg)
    if rank_zero_only.rank == 0:
        if debug and cfg.trainer.get("fast_dev_run"):
            show(f"\n{debug}: every part of the run ran on a few batches; no scores kept")
        elif debug and best:
            title = f"Best validation epoch {best['epoch']} of a debug run ({debug}), not a result"
            show(f"\n{title}:\n{class_table(best)}")
        elif best:
            show(f"\nBest validation epoch {best['epoch']}:\n{class_table(best)}")
        show(f"\nRun directory: {HydraConfig.get().runtime.output_dir}")
    return None if debug else best.get("val/dice")


if __name__ == "__main__":
    main()
