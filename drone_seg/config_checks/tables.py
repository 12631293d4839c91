"""What each config key must hold, one table per config group (TRAINER, DATA, AUGMENT, MODEL...)
and per command's own keys (PREDICT, EVAL, EXPORT, BENCH); a table maps a full key to its Rule."""

from __future__ import annotations

from drone_seg.classes import CLASS_NAMES, NUM_CLASSES
from drone_seg.config_checks.rules import (
    BATCH_LIMIT,
    PAIR,
    POSITIVE_INT,
    PRECISIONS,
    Rule,
    accelerators,
    bench_names,
    boolean,
    config_names,
    either,
    integer,
    is_devices,
    is_number,
    list_of,
    names,
    network_names,
    nullable,
    number,
    one_of,
    text,
    under,
)
from drone_seg.data.splitting.assignment import STRATEGIES

TOP: dict[str, Rule] = {
    "seed": integer(example="42"),
    "paths.data_dir": Rule(
        lambda v: isinstance(v, str) and bool(v),
        "the folder that holds the datasets, not empty (DRONE_SEG_DATA set to nothing? unset it)",
        "data",
    ),
}
TRAIN: dict[str, Rule] = {
    "tune_lr": boolean(),
    "lr_finder.num_steps": integer(13, "40"),
    "lr_finder.min_lr": number(0, open_low=True, example="1.0e-6"),
    "lr_finder.max_lr": number(0, open_low=True, example="1.0"),
    "lr_finder.mode": one_of(["exponential", "linear"], "exponential"),
    "lr_finder.early_stop_threshold": nullable(number(1, open_low=True, example="4.0")),
    "debug.profiler": one_of(["simple", "advanced", "pytorch"], "advanced"),
    "callbacks.early_stopping.patience": integer(0, "5"),
}
TRAINER = under(
    "trainer",
    {
        "accelerator": one_of(accelerators, "cpu"),
        "devices": Rule(is_devices, "a positive integer, -1 (all), auto or device indices", "1"),
        "num_nodes": integer(1, "1"),
        "precision": one_of(PRECISIONS, "16-mixed"),
        "max_epochs": nullable(integer(-1, "10")),
        "max_steps": integer(-1, "1000"),
        "limit_train_batches": BATCH_LIMIT,
        "limit_val_batches": BATCH_LIMIT,
        "limit_test_batches": BATCH_LIMIT,
        "limit_predict_batches": BATCH_LIMIT,
        "fast_dev_run": either(
            boolean(), integer(0), expected="true, false or a number of batches", example="true"
        ),
        "num_sanity_val_steps": integer(-1, "2"),
        "accumulate_grad_batches": integer(1, "2"),
        "gradient_clip_val": nullable(number(0, example="1.0")),
        "check_val_every_n_epoch": nullable(integer(1, "1")),
        "log_every_n_steps": integer(0, "10"),
        "enable_progress_bar": boolean(),
        "deterministic": either(
            boolean(), one_of(["warn"], "warn"), expected="true, false or warn", example="true"
        ),
        "sync_batchnorm": boolean(),
    },
)
DATA = under(
    "data",
    {
        "root": nullable(text("data/aeroscapes")),
        "images_dir": text("JPEGImages"),
        "masks_dir": text("SegmentationClass"),
        "ids_file": nullable(text("ImageSets/trn.txt")),
        "split": one_of(STRATEGIES, "sequence"),
        "split_file": nullable(text("logs/train/runs/<run>/split.csv")),
        "val_fraction": number(0, 1, open_low=True, open_high=True, example="0.2"),
        "seed": integer(example="42"),
        "split_seed": integer(example="42"),
        "cache_dir": nullable(text("~/.cache/drone_seg")),
        "batch_size": integer(1, "8"),
        "val_batch_size": nullable(integer(1, "2")),
        "num_workers": integer(0, "2"),
        "pin_memory": boolean(),
        "prefetch_factor": integer(1, "2"),
        "synthetic.num_images": integer(1, "400"),
        "synthetic.seed": integer(example="0"),
        "synthetic.width": integer(1, "480"),
        "synthetic.height": integer(1, "272"),
        "synthetic.frames_per_sequence": nullable(integer(1, "5")),
    },
)
CLASS_LIST = Rule(
    lambda v: isinstance(v, list) and bool(v) and all(name in CLASS_NAMES for name in v),
    "a non-empty list of class names among " + ", ".join(CLASS_NAMES),
    "[person,boat]",
)
AUGMENT = under(
    "augment",
    {
        "crop_size": PAIR,
        "val_size": PAIR,
        "crop_scale": list_of(
            2,
            number(0, 1, open_low=True, example="0.5"),
            "[low, high], two area fractions in (0, 1], low <= high",
            "[0.25,1.0]",
            ascending=True,
        ),
        "class_aware_crop.p": number(0, 1, example="0.5"),
        "class_aware_crop.classes": CLASS_LIST,
        "copy_paste.p": number(0, 1, example="0.5"),
        "copy_paste.classes": CLASS_LIST,
        "copy_paste.connected": boolean(),
        "copy_paste.placement": one_of(["same", "random"], "random"),
    },
)
MODEL = under(
    "model",
    {
        "name": one_of(network_names, "lraspp_mobilenet_v3_large"),
        "weights": nullable(text("DEFAULT")),
        "weights_backbone": nullable(text("DEFAULT")),
        "encoder": nullable(text("resnet34")),
        "aux_loss": boolean(),
        "aux_weight": number(0, example="0.5"),
        "bn_momentum": nullable(number(0, 1, example="0.1")),
        "mean": list_of(3, number(example="0.5"), "3 numbers (R, G, B)", "[0.485,0.456,0.406]"),
        "std": list_of(
            3,
            number(0, open_low=True, example="0.2"),
            "3 numbers > 0 (R, G, B)",
            "[0.229,0.224,0.225]",
        ),
        "channels_last": boolean(),
        "compile": boolean(),
    },
)
LOSS = under(
    "loss",
    {
        "focal_weight": number(0, example="0.5"),
        "dice_weight": number(0, example="0.5"),
        "gamma": number(0, example="2.0"),
        "smooth": number(0, example="1.0"),
        "class_weights": either(
            Rule(lambda v: v is None, "null", "null"),
            list_of(NUM_CLASSES, number(0, example="1.0"), "", ""),
            expected=f"null or a list of {NUM_CLASSES} numbers >= 0, one per class (python -m "
            "drone_seg.stats prints them for a dataset)",
            example="[" + ",".join(["1.0"] * NUM_CLASSES) + "]",
        ),
        "log_dice": boolean(),
        "ignore_index": integer(example="255"),
    },
)
OPTIMIZER = under(
    "optimizer",
    {
        "lr": number(0, open_low=True, example="0.01"),
        "weight_decay": number(0, example="5.0e-4"),
        "momentum": number(0, 1, open_high=True, example="0.9"),
        "nesterov": boolean(),
    },
)
SCHEDULER = under(
    "scheduler",
    {
        "pct_start": number(0, 1, open_low=True, open_high=True, example="0.1"),
        "div_factor": number(0, open_low=True, example="25.0"),
        "final_div_factor": number(0, open_low=True, example="1.0e4"),
        "anneal_strategy": one_of(["cos", "linear"], "cos"),
        "cycle_momentum": boolean(),
    },
)
SIZE = either(
    POSITIVE_INT, PAIR, expected="a positive integer or [height, width]", example="[272,480]"
)
STATS: dict[str, Rule] = {
    "compare": nullable(one_of(["aeroscapes"], "aeroscapes")),
}
PREDICT: dict[str, Rule] = {
    "input": text("photos/"),
    "output": text("predictions/"),
    "overwrite": boolean(),
    "device": text("cpu"),
    "batch_size": integer(1, "8"),
    "size": nullable(SIZE),
    "default_size": SIZE,
    "tile.enabled": boolean(),
    "tile.size": SIZE,
    "tile.overlap": integer(0, "128"),
    "tile.scale": number(0, open_low=True, example="1.0"),
    "tta.hflip": boolean(),
    "tta.scales": Rule(
        lambda v: isinstance(v, list) and bool(v) and all(is_number(s) and s > 0 for s in v),
        "a non-empty list of numbers > 0",
        "[0.75,1.0,1.25]",
    ),
    "submission": nullable(one_of(["csv"], "csv")),
    "overlay_alpha": number(0, 1, example="0.5"),
}
# eval's own keys: its protocol reads predict's device, batch_size, tile and tta the same way.
PREDICTOR_KEYS = (
    "device", "batch_size", "tile.enabled", "tile.size", "tile.overlap", "tile.scale",
    "tta.hflip", "tta.scales",
)  # fmt: skip
EVAL: dict[str, Rule] = {
    "overwrite": boolean(),
    "protocol.enabled": boolean(),
    "protocol.size": nullable(
        either(
            one_of(["native"], "native"),
            SIZE,
            expected="native, a positive integer or [height, width]",
            example="native",
        )
    ),
    **under("protocol", {key: PREDICT[key] for key in PREDICTOR_KEYS}),
}
BATCH_SHAPE = list_of(3, POSITIVE_INT, "[batch, height, width]", "[2,181,333]")
EXPORT: dict[str, Rule] = {
    "format": one_of(["onnx", "torchscript"], "onnx"),
    "opset": integer(7, "17"),
    "size": nullable(PAIR),
    "default_size": PAIR,
    "check_shapes": Rule(
        lambda v: isinstance(v, list) and all(BATCH_SHAPE.accepts(s) for s in v),
        "a list of [batch, height, width] lists of positive integers",
        "[[2,181,333]]",
    ),
    "seed": integer(example="0"),
    "tolerance": number(0, example="1.0e-4"),
}

MODELS = config_names("model")
BENCH: dict[str, Rule] = {
    "suite": one_of(lambda: [*bench_names("suites", "SUITES")(), "all"], "train"),
    "device": text("cpu"),
    "warmup": integer(0, "2"),
    "repeats": integer(1, "5"),
    "out": text("bench.json"),
    "batch_size": integer(1, "8"),
    "image_size": PAIR,
    "num_images": integer(1, "40"),
    "augments": names(config_names("augment"), "[none,light]"),
    "crop_size": PAIR,
    "data_batches": integer(1, "4"),
    "networks": names(MODELS, "[lraspp_mobilenet_v3_large,unet]"),
    "train_size": PAIR,
    "precision": Rule(
        lambda v: not isinstance(v, bool) and str(v) in bench_names("training", "PRECISIONS")(),
        lambda: "one of " + ", ".join(bench_names("training", "PRECISIONS")()),
        "bf16-mixed",
    ),
    "channels_last": boolean(),
    "compile": boolean(),
    "peak_tflops": nullable(number(0, open_low=True, example="989")),
    "overhead_network": one_of(MODELS, "lraspp_mobilenet_v3_large"),
    "overhead_size": PAIR,
    "overhead_steps": integer(1, "40"),
    "infer_size": PAIR,
    "infer_batch_size": integer(1, "1"),
    "runtimes": names(bench_names("infer", "RUNTIMES"), "[eager,onnxruntime]"),
    "opset": integer(7, "17"),
    "memory_network": one_of(MODELS, "lraspp_mobilenet_v3_large"),
    "memory_sizes": Rule(
        lambda v: isinstance(v, list) and bool(v) and all(PAIR.accepts(s) for s in v),
        "a non-empty list of [height, width] pairs of integers >= 1",
        "[[1500,2000]]",
    ),
    "memory_tile": integer(1, "512"),
    "memory_overlap": integer(0, "128"),
    "memory_batch_size": integer(1, "8"),
}
