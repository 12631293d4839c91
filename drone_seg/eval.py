"""Score a checkpoint on a val split: `python -m drone_seg.eval ckpt_path=FILE [overrides]`.

Two sets of scores. The validation loop's come from the module's own validation step
(`trainer.validate`), so they are the numbers training logged for the same weights and images
(resized to training's val size): the run directory gets them as `metrics.csv`, `metrics.json`
(training's keys) and `metrics.md`, and their confusion matrix as `confusion_matrix.png`. With
`protocol.enabled=true`, the literature's protocol (`protocol.*`, see
`drone_seg.inference.evaluation`) scores the same images at the masks' native resolution,
single-scale and with TTA, as `protocol.json` and `protocol.md` (off by default: its 12 views per
image make eval about 10x slower than the validation it reproduces). No report file of an earlier
eval in the same folder is replaced unless `overwrite=true`, and then all of them are removed.
"""

from __future__ import annotations

import copy
import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import lightning as L
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from drone_seg.aeroscapes_layout import TRAIN, VAL
from drone_seg.cli import begin_run, command
from drone_seg.data.dataset import SegmentationDataset
from drone_seg.data.splitting.assignment import write_split_file
from drone_seg.errors import ConfigError
from drone_seg.inference.artifacts import load_model
from drone_seg.inference.evaluation import (
    ProtocolScores,
    describe_input,
    input_size,
    protocol_rows,
    score_rows,
)
from drone_seg.models.module import SegmentationModule
from drone_seg.reporting.class_tables import (
    ABSENT_NOTE,
    TITLES,
    class_rows,
    class_table,
    comparison_table,
)
from drone_seg.reporting.pictures import confusion_image
from drone_seg.runs.checkpoint import RunRecord, evaluation_module, val_data
from drone_seg.runs.confinement import check_data_confined
from drone_seg.runs.run_dir import write_metrics
from drone_seg.runs.run_log import show

log = logging.getLogger(__name__)
# The settings that decide which images are scored and how they are resized, taken from training.
DATA_KEYS = ("seed", "data", "augment")
# Keys by which a command line chooses its own split instead of the checkpoint's.
SPLIT_KEYS = ("split", "split_file", "split_seed", "val_fraction", "official_split", "ids_file")
SCORES = tuple(TITLES)
PROTOCOL_SCORES = ("iou", "dice")
# What eval writes into its run directory; none is replaced without overwrite=true.
REPORT_FILES = (
    "split.csv",
    "metrics.json",
    "metrics.csv",
    "metrics.md",
    "confusion_matrix.png",
    "protocol.json",
    "protocol.md",
)


class ConfusionCapture(L.Callback):
    """Keeps the validation epoch's confusion matrix, read before the module resets its scores."""

    def __init__(self) -> None:
        self.matrix: np.ndarray | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.matrix = pl_module.val_scores.compute().cpu().numpy()


@dataclass(frozen=True)
class Evaluation:
    """What eval scored: the validation loop's `val/*` metrics (training's keys), the protocol's
    rows (empty with protocol.enabled=false, and on DDP ranks but 0) and the report's header."""

    metrics: dict[str, float]
    protocol: list[ProtocolScores]
    header: list[str]


def evaluate(cfg: DictConfig) -> Evaluation:
    """Score `cfg.ckpt_path` on its val images, write the report files, return the scores."""
    if not cfg.ckpt_path:
        raise ConfigError("ckpt_path is not set: ckpt_path=<run dir>/checkpoints/best.ckpt")
    out_dir = Path(cfg.paths.output_dir)
    if rank_zero_only.rank == 0:  # DDP's other ranks start later, once rank 0 has written
        check_report_files(out_dir, bool(cfg.overwrite))
    checkpoint = Path(cfg.ckpt_path)
    module, record = evaluation_module(checkpoint)
    cfg, source = with_training_data(cfg, record)
    check_data_confined(cfg, _command_keys(), f"ckpt_path={checkpoint}")
    begin_run()  # checked: from here on the run folder is written
    if rank_zero_only.rank == 0:
        remove_report_files(out_dir)
    split = split_to_score(cfg, record, out_dir / "split.csv")
    datamodule = val_data(cfg, f"ckpt_path={checkpoint}")
    capture = ConfusionCapture()
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=False, callbacks=[capture], enable_checkpointing=False
    )
    metrics = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    height, width = cfg.augment.val_size
    header = [
        f"Checkpoint: {checkpoint}",
        f"Data settings: {source}",
        f"Split: {split}",
        f"Images: {len(datamodule.val_ids)} val images of {datamodule.root}",
    ]
    loop = f"Validation loop: images and masks resized to {height}x{width} (augment.val_size)"
    write_report(metrics, capture.matrix, out_dir, [*header, loop])
    protocol: list[ProtocolScores] = []
    if cfg.protocol.enabled and trainer.is_global_zero:
        protocol, lines = score_protocol(cfg, checkpoint, module, datamodule.val_set)
        header = [*header, *lines]
        write_protocol(protocol, out_dir, header)
    return Evaluation(metrics, protocol, header)


def check_report_files(out_dir: Path, overwrite: bool) -> None:
    """Refuse, before any work, to replace report files an earlier eval left in `out_dir`."""
    existing = [name for name in REPORT_FILES if (out_dir / name).exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{out_dir} already holds {', '.join(existing)} of an earlier eval: pass "
            "overwrite=true to replace them, or choose another hydra.run.dir="
        )


def remove_report_files(out_dir: Path) -> None:
    """Remove the report files an earlier eval left (overwrite=true), so that none this eval does
    not write again (protocol.* with protocol.enabled=false, split.csv) stays beside new ones."""
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def score_protocol(
    cfg: DictConfig, checkpoint: Path, module: SegmentationModule, dataset: SegmentationDataset
) -> tuple[list[ProtocolScores], list[str]]:
    """Score every row of `cfg.protocol` on `dataset`'s images and masks as stored; return the
    rows and the report lines that say how."""
    protocol = cfg.protocol
    model = load_model(checkpoint, str(protocol.device))
    rows = protocol_rows(protocol, model)

    def samples() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (dataset.read(index) for index in range(len(dataset)))

    scores = module.val_scores
    num_classes, ignore_index = int(scores.num_classes), int(scores.ignore_index)
    results = score_rows(rows, samples, num_classes, ignore_index, total=len(dataset))
    lines = [
        f"Protocol input: {describe_input(protocol, input_size(protocol, model))}",
        f"Protocol scoring: each mask at its native resolution, one confusion matrix summed over "
        f"{results[0].images} images ({results[0].pixels} labelled pixels; label "
        f"{ignore_index} skipped)",
        *(f"Protocol {result.row.heading}: {result.row.views}" for result in results),
    ]
    return results, lines


def _command_keys() -> list[str]:
    """The keys this command line sets (`data.root`, `augment.val_size`, `data`, ...)."""
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return [o.key_or_group for o in overrides if not o.is_delete()]


def with_training_data(cfg: DictConfig, record: RunRecord) -> tuple[DictConfig, str]:
    """Return `cfg` with seed, data and augment from the checkpoint's run, this command's on top.

    Only the keys given on this command line (`data.root=...`, `augment.val_size=...`, `data=...`)
    override training's values; the rest of training's data settings stay.
    """
    merged = copy.deepcopy(cfg)
    keys = [key for key in _command_keys() if key.split(".")[0] in DATA_KEYS]
    with open_dict(merged):
        merged.seed = record.seed
        merged.data = record.data
        merged.augment = record.augment
        for key in keys:
            OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
    given = f" with this command's {', '.join(keys)}" if keys else ""
    return merged, f"the checkpoint's run{given}"


def split_to_score(cfg: DictConfig, record: RunRecord, path: Path) -> str:
    """Point `cfg.data.split_file` at the checkpoint's own split, written to `path`, unless this
    command chose a split (`data.split_file`, `data.split`, ...); say which split is scored."""
    chosen = [key for key in _command_keys() if key.split(".")[-1] in SPLIT_KEYS]
    if chosen:
        return f"this command's {', '.join(chosen)}"
    ids = [*record.split_train, *record.split_val]
    subset = np.array([TRAIN] * len(record.split_train) + [VAL] * len(record.split_val))
    write_split_file(path, ids, subset)
    with open_dict(cfg):
        cfg.data.split_file = str(path)
    return f"the checkpoint's own ({record.split_source}), written to {path}"


def write_report(
    metrics: dict[str, float], confusion: np.ndarray, out_dir: Path, header: list[str]
) -> None:
    """Write metrics.json, metrics.csv, metrics.md and confusion_matrix.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics(out_dir / "metrics.json", metrics)
    with (out_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["class", *SCORES])
        for name, values in class_rows(metrics, scores=SCORES):
            writer.writerow([name, *(repr(v) for v in values)])
    lines = [*(f"- {line}" for line in header), "", class_table(metrics, scores=SCORES)]
    (out_dir / "metrics.md").write_text("\n".join(lines) + "\n")
    picture = cv2.cvtColor(confusion_image(confusion), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(out_dir / "confusion_matrix.png"), picture)


def protocol_metrics(protocol: list[ProtocolScores]) -> dict[str, float]:
    """The scores of every protocol row, keyed `single/...` and `tta/...` (protocol.json)."""
    return {key: value for row in protocol for key, value in row.metrics().items()}


def protocol_table(protocol: list[ProtocolScores]) -> str:
    """The protocol's rows side by side: IoU and Dice of each class and the three means."""
    metrics = protocol_metrics(protocol)
    columns = [(result.row.heading, result.row.prefix) for result in protocol]
    return comparison_table(metrics, columns, PROTOCOL_SCORES)


def write_protocol(protocol: list[ProtocolScores], out_dir: Path, header: list[str]) -> None:
    """Write protocol.json (every row's scores, strict JSON) and protocol.md in `out_dir`."""
    write_metrics(out_dir / "protocol.json", protocol_metrics(protocol))
    lines = [*(f"- {line}" for line in header), "", protocol_table(protocol), "", ABSENT_NOTE]
    (out_dir / "protocol.md").write_text("\n".join(lines) + "\n")


@command("eval")
def main(cfg: DictConfig) -> float | None:
    """Score the checkpoint, print the tables; return val/dice."""
    result = evaluate(cfg)
    show(f"\nValidation loop:\n{class_table(result.metrics, scores=SCORES)}")
    if result.protocol:
        lines = "\n".join(line for line in result.header if line.startswith("Protocol"))
        show(f"\n{lines}\n{protocol_table(result.protocol)}\n{ABSENT_NOTE}")
    show(f"\nRun directory: {HydraConfig.get().runtime.output_dir}")
    return result.metrics.get("val/dice")


if __name__ == "__main__":
    main()
