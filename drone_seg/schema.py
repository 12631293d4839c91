"""One pydantic model per config group this project owns, and per command's own keys.

The YAML files under conf/ hold every default; these models hold none of them (a field without a
default is required, `None` marks a key only some presets of a group have). Values are checked
strictly, as typed in YAML: `'16'` is text, not a number. Third-party `_target_` nodes (trainer,
callbacks, loggers, transforms) are plain dicts here: `targets.py` checks their keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from drone_seg.classes import CLASS_NAMES, NUM_CLASSES

Node = dict[str, Any]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Text = Annotated[str, Field(min_length=1)]
Pair = Annotated[
    list[PosInt],
    Field(min_length=2, max_length=2, description="[height, width], two integers >= 1"),
]
Size = Annotated[PosInt | Pair, Field(description="a positive integer or [height, width]")]
ClassName = Literal[CLASS_NAMES]  # type: ignore[valid-type]
Classes = Annotated[list[ClassName], Field(min_length=1)]
Network = Literal[
    "deeplabv3_resnet101", "deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large", "fcn_resnet50", "unet", "deeplabv3plus", "upernet", "segformer",
]  # fmt: skip
Strategy = Literal["presence", "pixels", "sequence", "official"]
Sampler = Literal["uniform", "rare_class"]


def _a_file(value: str | None) -> str | None:
    """A path that names an existing file (null passes: the key is optional)."""
    if value is not None and not Path(value).expanduser().is_file():
        kind = "is a folder, not a file" if Path(value).expanduser().is_dir() else "does not exist"
        raise ValueError(f"{kind}: point it at an existing file, or set it to null")
    return value


File = Annotated[Text | None, AfterValidator(_a_file)]

# The switches a training path of the bench's paths suite joins with `+` (`fp32`: none of them).
PATH_SWITCHES: tuple[str, ...] = ("channels_last", "bf16", "compile")


def check_training_path(value: str) -> str:
    """`value` if it is `fp32`, or switches of PATH_SWITCHES joined by `+`, each at most once."""
    switches = value.split("+")
    known = set(switches) <= set(PATH_SWITCHES) and len(set(switches)) == len(switches)
    if value != "fp32" and not known:
        raise ValueError(
            f"has {value}: a path is fp32 or switches from {', '.join(PATH_SWITCHES)} joined by "
            "+, each at most once (e.g. channels_last+bf16)"
        )
    return value


TrainingPath = Annotated[
    str,
    Field(min_length=1, description="fp32 or switches joined by +"),
    AfterValidator(check_training_path),
]


class Schema(BaseModel):
    """Strict, closed: every key known, every value of its YAML type."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Synthetic(Schema):
    dir: Text
    num_images: PosInt
    seed: int
    width: PosInt
    height: PosInt
    frames_per_sequence: PosInt | None


class OfficialSplit(Schema):
    train: Text
    val: Text


class Data(Schema):
    """conf/data: where the images are, how they are split and served."""

    target: Literal["drone_seg.data.datamodule.DroneDataModule"] = Field(alias="_target_")
    root: Text | None
    synthetic: Synthetic | None
    images_dir: Text
    masks_dir: Text
    ids_file: Text | None
    split: Strategy
    split_file: File
    official_split: OfficialSplit | None
    val_fraction: Annotated[float, Field(gt=0, lt=1)]
    seed: int
    sampler: Sampler
    rare_class_temperature: Positive
    split_seed: int
    cache_dir: Text | None
    batch_size: PosInt
    val_batch_size: PosInt | None
    num_workers: NonNegInt
    pin_memory: bool
    prefetch_factor: PosInt
    train_transform: Node  # augment.train, checked there
    val_transform: Node
    copy_paste: Node | None  # augment.copy_paste

    @model_validator(mode="after")
    def _consistent(self) -> Data:
        if self.root is None and self.synthetic is None:
            raise ValueError("data.root=null with data.synthetic=null: set data.root=DIR")
        if self.split == "official" and self.official_split is None:
            raise ValueError(
                "data.split=official needs data.official_split (its train and val id lists): "
                "set data.official_split.train=FILE and data.official_split.val=FILE, or "
                "choose data.split=presence, pixels or sequence"
            )
        return self


class ClassAwareCrop(Schema):
    p: Probability
    classes: Classes


class CopyPaste(Schema):
    p: Probability
    classes: Classes
    connected: bool
    placement: Literal["same", "random"]


CropScale = Annotated[
    list[Annotated[float, Field(gt=0, le=1)]],
    Field(min_length=2, max_length=2, description="[low, high], two area fractions in (0, 1]"),
]


class Augment(Schema):
    """conf/augment: crop and validation sizes, rare-class tools, the two pipelines."""

    crop_size: Pair
    crop_scale: CropScale
    val_size: Pair
    class_aware_crop: ClassAwareCrop
    copy_paste: CopyPaste
    train: Node
    val: Node

    @model_validator(mode="after")
    def _ascending(self) -> Augment:
        low, high = self.crop_scale
        if low > high:
            raise ValueError(f"augment.crop_scale=[{low},{high}] must be [low, high], low <= high")
        return self


class Model(Schema):
    """conf/model: the network and its input normalization."""

    name: Network
    encoder: Text | None
    weights: Text | None
    weights_backbone: Text | None
    aux_loss: bool
    aux_weight: NonNegative
    bn_momentum: Probability | None
    mean: Annotated[
        list[float], Field(min_length=3, max_length=3, description="3 numbers (R, G, B)")
    ]
    std: Annotated[
        list[Positive], Field(min_length=3, max_length=3, description="3 numbers > 0 (R, G, B)")
    ]
    channels_last: bool
    compile: bool


class Loss(Schema):
    """conf/loss: the focal + Dice loss and its weights."""

    target: Literal["drone_seg.models.losses.FocalDiceLoss"] = Field(alias="_target_")
    focal_weight: NonNegative
    dice_weight: NonNegative
    gamma: NonNegative
    class_weights: Annotated[
        list[NonNegative] | None,
        Field(
            min_length=NUM_CLASSES,
            max_length=NUM_CLASSES,
            description=f"null or a list of {NUM_CLASSES} numbers >= 0, one per class (python -m "
            "drone_seg.stats prints them for a dataset)",
        ),
    ]
    smooth: NonNegative
    log_dice: bool
    ignore_index: int


class SGD(Schema):
    """conf/optimizer/sgd.yaml."""

    target: Literal["torch.optim.SGD"] = Field(alias="_target_")
    lr: Positive
    momentum: Annotated[float, Field(ge=0, lt=1)]
    nesterov: bool
    weight_decay: NonNegative

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGD:
        if self.nesterov and self.momentum == 0:
            raise ValueError(
                "optimizer.nesterov=true needs optimizer.momentum > 0 (e.g. "
                "optimizer.momentum=0.9), or set optimizer.nesterov=false"
            )
        return self


class AdamW(Schema):
    """conf/optimizer/adamw.yaml."""

    target: Literal["torch.optim.AdamW"] = Field(alias="_target_")
    lr: Positive
    weight_decay: NonNegative


class OneCycle(Schema):
    """conf/scheduler/onecycle.yaml (scheduler=none is an empty group)."""

    target: Literal["drone_seg.models.schedule.OneCycleLR"] = Field(alias="_target_")
    pct_start: Annotated[float, Field(gt=0, lt=1)]
    div_factor: Positive
    final_div_factor: Positive
    anneal_strategy: Literal["cos", "linear"]
    cycle_momentum: bool


class NoScheduler(Schema):
    """conf/scheduler/none.yaml: a constant learning rate."""


class Paths(Schema):
    """conf/paths: where every command reads and writes."""

    root_dir: Text
    data_dir: Annotated[
        str,
        Field(
            min_length=1,
            description="the folder that holds the datasets, not empty (DRONE_SEG_DATA set to "
            "nothing? unset it)",
        ),
    ]
    log_dir: Text
    output_dir: Text


class Debug(Schema):
    """conf/debug's `debug` keys: the preset's name, and debug=profiler's profiler."""

    preset: Literal["fdr", "limit", "overfit", "profiler"] | None = None
    profiler: Literal["simple", "advanced", "pytorch"] | None = None
    profilers: dict[str, Text] | None = None


class Tile(Schema):
    enabled: bool
    size: Size
    overlap: NonNegInt
    scale: Positive

    def check_overlap(self, prefix: str) -> None:
        """Tiles must advance: the overlap is smaller than the tile."""
        smallest = self.size if isinstance(self.size, int) else min(self.size)
        if self.enabled and self.overlap >= smallest:
            size = self.size if isinstance(self.size, int) else f"[{self.size[0]},{self.size[1]}]"
            raise ValueError(
                f"{prefix}tile.overlap={self.overlap} must be smaller than {prefix}tile.size="
                f"{size} (e.g. {prefix}tile.overlap={smallest // 4})"
            )


class Tta(Schema):
    hflip: bool
    scales: Annotated[list[Positive], Field(min_length=1)]


class Command(Schema):
    """The keys every command has."""

    task_name: Text


class LrFinder(Schema):
    num_steps: Annotated[int, Field(ge=13)]
    min_lr: Positive
    max_lr: Positive
    mode: Literal["exponential", "linear"]
    early_stop_threshold: Annotated[float, Field(gt=1)] | None


class Train(Command):
    """conf/train.yaml's own keys."""

    seed: int
    ckpt_path: File
    tune_lr: bool
    lr_finder: LrFinder


class Protocol(Schema):
    """eval's protocol: images predicted as predict does, scored at native size."""

    enabled: bool
    size: Annotated[
        Literal["native"] | PosInt | Pair | None,
        Field(description="native, a positive integer or [height, width], or null"),
    ]
    device: Text
    batch_size: PosInt
    tile: Tile
    tta: Tta


class Eval(Command):
    """conf/eval.yaml's own keys."""

    seed: int
    ckpt_path: File
    overwrite: bool
    protocol: Protocol

    @model_validator(mode="after")
    def _tiles_advance(self) -> Eval:
        self.protocol.tile.check_overlap("protocol.")
        return self


class Predict(Command):
    """conf/predict.yaml's own keys."""

    ckpt_path: File
    input: Text
    output: Text
    overwrite: bool
    device: Text
    batch_size: PosInt
    size: Size | None
    default_size: Size
    tile: Tile
    tta: Tta
    submission: Literal["csv"] | None
    overlay_alpha: Probability

    @model_validator(mode="after")
    def _tiles_advance(self) -> Predict:
        self.tile.check_overlap("")
        return self


class Export(Command):
    """conf/export.yaml's own keys."""

    ckpt_path: File
    format: Literal["onnx", "torchscript"]
    opset: Annotated[int, Field(ge=7)]
    size: Pair | None
    check_shapes: Annotated[
        list[Annotated[list[PosInt], Field(min_length=3, max_length=3)]],
        Field(description="a list of [batch, height, width] lists of integers >= 1"),
    ]
    seed: int
    tolerance: NonNegative


class Stats(Command):
    seed: int
    compare: Literal["aeroscapes"] | None


class Split(Command):
    seed: int
    split_file: Text


class Prepare(Command):
    url: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None
    size: PosInt | None
    dest: Text
    archive: Text
    keep_archive: bool


class Synthesize(Command):
    dir: Text
    num_images: PosInt
    seed: int
    width: PosInt
    height: PosInt
    frames_per_sequence: PosInt | None
    overwrite: bool


class Bench(Train):
    """conf/bench.yaml's own keys, on top of the training config the rows are built from."""

    suite: Literal["data", "train", "overhead", "infer", "memory", "paths", "all"]
    device: Text
    warmup: NonNegInt
    repeats: PosInt
    out: Text
    batch_size: PosInt
    image_size: Pair
    num_images: PosInt
    augments: Annotated[list[Literal["none", "light", "baseline"]], Field(min_length=1)]
    crop_size: Pair
    data_batches: PosInt
    networks: Annotated[list[Network], Field(min_length=1)]
    train_size: Pair
    precision: Literal[32, "32", "bf16-mixed", "16-mixed"]
    channels_last: bool
    compile: bool
    peak_tflops: Positive | None
    overhead_network: Network
    overhead_size: Pair
    overhead_steps: PosInt
    infer_size: Pair
    infer_batch_size: PosInt
    runtimes: Annotated[list[Literal["eager", "torchscript", "onnxruntime"]], Field(min_length=1)]
    opset: Annotated[int, Field(ge=7)]
    memory_network: Network
    memory_sizes: Annotated[list[Pair], Field(min_length=1)]
    memory_tile: PosInt
    memory_overlap: NonNegInt
    memory_batch_size: PosInt
    paths_network: Network
    paths_size: Pair
    paths_batch_size: PosInt
    paths_compared: Annotated[list[TrainingPath], Field(min_length=1)]

    @model_validator(mode="after")
    def _bench(self) -> Bench:
        if Path(self.out).expanduser().exists():
            raise ValueError(
                f"out={self.out} exists: name a new file (out=FILE), nothing is overwritten"
            )
        if self.memory_overlap >= self.memory_tile:
            raise ValueError(
                f"memory_overlap={self.memory_overlap} must be smaller than memory_tile="
                f"{self.memory_tile} (e.g. memory_overlap={self.memory_tile // 4})"
            )
        return self
