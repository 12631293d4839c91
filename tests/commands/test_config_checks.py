"""Config mistakes stop every command at start-up, in one line naming the key (config_checks).

Unit tests check configs composed from conf/ as the commands compose them, and compare every
group's YAML keys with its schema; the end-to-end tests run the real commands and check that the
error comes alone, in a line or two, before torch, Lightning or any data scan.
"""

from __future__ import annotations

import subprocess
import typing
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel

from drone_seg import schema
from drone_seg.classes import NUM_CLASSES
from drone_seg.cli import CONFIG_DIR
from drone_seg.config_checks import COMMANDS, built, check_config
from drone_seg.errors import ConfigError

from helpers.cli import run_command, run_python
from helpers.config import compose_config

CONF = Path(CONFIG_DIR)


def composed(config_name: str, *overrides: str) -> DictConfig:
    """`conf/<config_name>.yaml` with `overrides`, composed as the command line would, with
    Hydra's runtime set so that `${hydra:runtime.output_dir}` resolves (to a folder not made)."""
    return compose_config(config_name, *overrides)


def options(group: str) -> list[str]:
    """The selectable options of a config group (files not starting with `_`)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


def config_error(config_name: str, *overrides: str, command: str | None = None) -> str:
    """The message check_config raises for the composed config; it must be one line."""
    with pytest.raises(ConfigError) as caught:
        check_config(composed(config_name, *overrides), command or config_name)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A file where a checkpoint is expected (its contents are not the checks' business)."""
    path = tmp_path / "run" / "checkpoints" / "best.ckpt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not read by the checks")
    return path


# Every valid config in conf/ passes.


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        *([f"experiment={name}"] for name in options("experiment")),
        *([f"{group}={name}"] for group in ("model", "loss", "optimizer", "scheduler", "trainer",
            "augment", "data", "logger", "callbacks", "debug") for name in options(group)),
        *(["experiment=ablation", f"ablation={name}"] for name in options("ablation")),
        ["hparams_search=optuna"],
        ["~logger"],
        ["experiment=baseline", "trainer=gpu"],
        ["trainer=ddp_cpu", "scheduler=none"],
    ],
    ids=lambda overrides: " ".join(overrides) or "defaults",
)  # fmt: skip
def test_every_train_config_in_conf_passes(overrides: list[str]) -> None:
    check_config(composed("train", *overrides), "train")


@pytest.mark.parametrize("command", ["eval", "predict", "export"])
def test_the_other_commands_defaults_pass_once_given_their_mandatory_keys(
    command: str, checkpoint: Path
) -> None:
    given = [f"ckpt_path={checkpoint}"] + (["input=photos/"] if command == "predict" else [])
    check_config(composed(command, *given), command)


@pytest.mark.parametrize("command", ["stats", "split"])
def test_the_data_commands_defaults_pass(command: str) -> None:
    check_config(composed(command), command)


@pytest.mark.parametrize(
    "override",
    [
        "trainer.max_epochs=null", "trainer.max_steps=100", "trainer.precision=bf16-mixed",
        "+trainer.max_time=00:01:00", "data.val_batch_size=2", "data.sampler=rare_class",
        "data.rare_class_temperature=0.5", "data=aeroscapes", "data.split=official",
        "loss.class_weights=[0,1,2,3,4,5,6,7,8,9,10,11.5]", "model.bn_momentum=0.1",
        "optimizer.lr=1e-3", "data.num_workers=0", "augment.crop_scale=[0.5,0.5]",
    ],
)  # fmt: skip
def test_valid_values_of_every_accepted_kind_pass(override: str) -> None:
    check_config(composed("train", override), "train")


# Types and ranges: the message names the key, the value and what is expected.


def test_a_word_for_an_integer_names_the_key_the_value_and_what_it_must_be() -> None:
    assert config_error("train", "data.batch_size=abc") == (
        "data.batch_size=abc must be an integer >= 1"
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.batch_size=two", "must be an integer >= 1"),
        ("data.batch_size=0", "must be an integer >= 1"),
        ("data.batch_size=8.5", "must be an integer >= 1"),
        ("data.batch_size=true", "must be an integer >= 1"),
        ("data.val_batch_size=0", "must be an integer >= 1 or null"),
        ("data.num_workers=-1", "must be an integer >= 0"),
        ("data.prefetch_factor=0", "must be an integer >= 1"),
        ("data.val_fraction=1.0", "must be a number in (0, 1)"),
        ("data.val_fraction=0", "must be a number in (0, 1)"),
        ("data.split_seed=abc", "must be an integer"),
        ("data.pin_memory=yes", "must be true or false"),
        ("data.split=random", "must be one of presence, pixels, sequence, official"),
        ("data.sampler=rare", "must be one of uniform, rare_class"),
        ("data.rare_class_temperature=0", "must be a number > 0"),
        ("data.official_split.train=''", "must be a non-empty string"),
        ("data.synthetic.num_images=0", "must be an integer >= 1"),
        ("data.synthetic.frames_per_sequence=0", "must be an integer >= 1 or null"),
        ("augment.crop_size=[256]", "must be [height, width], two integers >= 1"),
        ("augment.crop_size=[256,-1]", "must be [height, width], two integers >= 1"),
        ("augment.val_size=272", "must be [height, width], two integers >= 1"),
        ("augment.crop_scale=[0.9,0.2]", "low <= high"),
        ("augment.crop_scale=[0,0.5]", "two area fractions in (0, 1]"),
        ("model.name=pspnet", "must be one of deeplabv3_resnet101,"),
        ("model.aux_weight=-0.5", "must be a number >= 0"),
        ("model.bn_momentum=2", "must be a number in [0, 1] or null"),
        ("model.mean=[0.5,0.5]", "must be 3 numbers (R, G, B)"),
        ("model.std=[0.2,0.2,0]", "must be 3 numbers > 0 (R, G, B)"),
        ("model.channels_last=1", "must be true or false"),
        ("model.compile=maybe", "must be true or false"),
        ("loss.gamma=-1", "must be a number >= 0"),
        ("loss.smooth=soft", "must be a number >= 0"),
        ("loss.focal_weight=-0.5", "must be a number >= 0"),
        ("optimizer.lr=0", "must be a number > 0"),
        ("optimizer.lr=fast", "must be a number > 0"),
        ("optimizer.weight_decay=-0.5", "must be a number >= 0"),
        ("optimizer.momentum=1.0", "must be a number in [0, 1)"),
        ("scheduler.pct_start=1.5", "must be a number in (0, 1)"),
        ("scheduler.div_factor=0", "must be a number > 0"),
        ("scheduler.final_div_factor=-1", "must be a number > 0"),
        ("seed=abc", "must be an integer"),
        ("tune_lr=sometimes", "must be true or false"),
    ],
)
def test_a_wrong_type_or_range_names_the_key_and_what_is_expected(
    override: str, expected: str
) -> None:
    key, value = override.split("=", 1)
    message = config_error("train", override)
    assert message.startswith(f"{key}="), message
    assert expected in message
    if not value.startswith(("[", "'")):
        assert message.startswith(f"{key}={value} "), message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("batch_size=0", "batch_size=0 must be an integer >= 1"),
        ("size=[272]", "size=[272] must be a positive integer or [height, width]"),
        ("tile.size=big", "tile.size=big must be a positive integer or [height, width]"),
        ("tile.overlap=-1", "tile.overlap=-1 must be an integer >= 0"),
        ("tile.scale=0", "tile.scale=0 must be a number > 0"),
        ("tta.hflip=1", "tta.hflip=1 must be true or false"),
        ("tta.scales=[]", "tta.scales=[] must be a non-empty list of numbers > 0"),
        ("tta.scales=[1.0,-0.5]", "tta.scales=[1.0,-0.5] must be a non-empty list"),
        ("submission=json", "submission=json must be one of csv or null"),
        ("overlay_alpha=2", "overlay_alpha=2 must be a number in [0, 1]"),
        ("overwrite=yes", "overwrite=yes must be true or false"),
        ("tile.enabled=true", "tile.overlap=600 must be smaller than tile.size=[512,512]"),
    ],
)
def test_predict_settings_are_checked(override: str, expected: str, checkpoint: Path) -> None:
    extra = ["tile.overlap=600"] if override == "tile.enabled=true" else []
    message = config_error("predict", f"ckpt_path={checkpoint}", "input=x", override, *extra)
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("format=tflite", "format=tflite must be one of onnx, torchscript"),
        ("opset=six", "opset=six must be an integer >= 7"),
        ("tolerance=-1", "tolerance=-1 must be a number >= 0"),
        ("size=[272]", "size=[272] must be [height, width], two integers >= 1 or null"),
        ("check_shapes=[[2,181]]", "check_shapes=[[2,181]] must be a list of [batch, height"),
        (
            "+default_size=[1,1]",
            "default_size=[1,1] is not a setting of this command: did you mean size?",
        ),
        ("seed=x", "seed=x must be an integer"),
    ],
)
def test_export_settings_are_checked(override: str, expected: str, checkpoint: Path) -> None:
    message = config_error("export", f"ckpt_path={checkpoint}", override)
    assert message.startswith(expected), message


def test_eval_checks_its_trainer_and_data_keys(checkpoint: Path) -> None:
    message = config_error("eval", f"ckpt_path={checkpoint}", "+trainer.device=1")
    assert message.startswith("trainer.device=1 is not a setting of lightning.pytorch.Trainer")
    message = config_error("eval", f"ckpt_path={checkpoint}", "data.batch_size=two")
    assert message.startswith("data.batch_size=two must be")


def test_the_data_commands_check_the_data_keys() -> None:
    assert config_error("stats", "data.val_fraction=2").startswith("data.val_fraction=2 must")
    assert config_error("split", "augment.crop_size=[0,1]").startswith("augment.crop_size=")


def test_a_quoted_number_says_why_it_is_refused(tmp_path: Path) -> None:
    (tmp_path / "optimizer").mkdir()
    adamw = "_target_: torch.optim.AdamW\nlr: 1.0e-3\nweight_decay: '0.01'\n"
    (tmp_path / "optimizer" / "mine.yaml").write_text(adamw)
    cfg = composed("train", f"hydra.searchpath=[file://{tmp_path}]", "optimizer=mine")
    with pytest.raises(ConfigError) as caught:
        check_config(cfg, "train")
    assert str(caught.value) == (
        "optimizer.weight_decay=0.01 must be a number >= 0; "
        "0.01 was quoted, which makes it text: write it without quotes"
    )
    assert config_error("train", "data.batch_size='16'").endswith(
        "was quoted, which makes it text: write it without quotes"
    )


# Per-class lists.


def test_class_weights_of_the_wrong_length_name_the_key_not_alpha() -> None:
    message = config_error("train", "loss.class_weights=[1,2]")
    assert message.startswith("loss.class_weights=[1,2] must be null or a list of 12 numbers >= 0")
    assert "alpha" not in message
    assert NUM_CLASSES == 12


def test_class_weights_must_not_be_negative() -> None:
    weights = ",".join(["1.0"] * (NUM_CLASSES - 1) + ["-0.5"])
    message = config_error("train", f"loss.class_weights=[{weights}]")
    assert message.startswith(f"loss.class_weights=[{weights}] must be null or a list of 12")


def test_class_weights_of_every_class_pass() -> None:
    weights = ",".join(str(i) for i in range(NUM_CLASSES))
    check_config(composed("train", f"loss.class_weights=[{weights}]"), "train")


# Files the config names.


def test_a_missing_checkpoint_to_resume_from(tmp_path: Path) -> None:
    message = config_error("train", f"ckpt_path={tmp_path / 'none.ckpt'}")
    assert message == (
        f"ckpt_path={tmp_path / 'none.ckpt'} does not exist: point it at an existing file, "
        "or set it to null"
    )


def test_a_folder_as_checkpoint(tmp_path: Path) -> None:
    assert config_error("train", f"ckpt_path={tmp_path}").startswith(
        f"ckpt_path={tmp_path} is a folder, not a file"
    )


@pytest.mark.parametrize("command", ["eval", "predict", "export"])
def test_the_other_commands_refuse_a_missing_checkpoint(command: str, tmp_path: Path) -> None:
    given = ["input=x"] if command == "predict" else []
    message = config_error(command, f"ckpt_path={tmp_path / 'x.onnx'}", *given)
    assert message.startswith(f"ckpt_path={tmp_path / 'x.onnx'} does not exist")


def test_an_existing_checkpoint_to_resume_from_passes(checkpoint: Path) -> None:
    check_config(composed("train", f"ckpt_path={checkpoint}"), "train")


def test_a_missing_split_file(tmp_path: Path) -> None:
    split = tmp_path / "split.csv"
    message = config_error("train", f"data.split_file={split}")
    assert message.startswith(f"data.split_file={split} does not exist")
    split.write_text("image,subset\n")
    check_config(composed("train", f"data.split_file={split}"), "train")


def test_an_ids_file_is_read_relative_to_the_data_root(tmp_path: Path) -> None:
    (tmp_path / "ImageSets").mkdir()
    overrides = ["data=folders", f"data.root={tmp_path}", "data.ids_file=ImageSets/ids.txt"]
    message = config_error("train", *overrides)
    assert message.startswith(
        f"data.ids_file=ImageSets/ids.txt does not exist ({tmp_path / 'ImageSets' / 'ids.txt'};"
    )
    (tmp_path / "ImageSets" / "ids.txt").write_text("000001\n")
    check_config(composed("train", *overrides), "train")


def test_an_absolute_ids_file_is_checked_whatever_the_root(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    message = config_error("train", f"data.root={tmp_path / 'nowhere'}", f"data.ids_file={ids}")
    assert message.startswith(f"data.ids_file={ids} does not exist")


def test_a_relative_ids_file_under_a_missing_root_is_left_to_the_data_checks(
    tmp_path: Path,
) -> None:
    cfg = composed("train", f"data.root={tmp_path / 'nowhere'}", "data.ids_file=ids.txt")
    check_config(cfg, "train")


# Mandatory keys.


@pytest.mark.parametrize("command", ["predict", "export", "eval"])
def test_a_command_without_its_checkpoint_says_how_to_pass_it(command: str) -> None:
    assert config_error(command, *(["input=x"] if command == "predict" else [])) == (
        "ckpt_path is not set: pass ckpt_path=<run>/checkpoints/best.ckpt"
    )


def test_predict_without_input(checkpoint: Path) -> None:
    assert config_error("predict", f"ckpt_path={checkpoint}").startswith(
        "input is not set: pass input=<an image, a video, a folder or a quoted glob>"
    )


def test_any_value_left_mandatory_is_named() -> None:
    assert config_error("train", "model.name=???").startswith("model.name is not set: pass")
    assert config_error("train", "data.images_dir=???").startswith(
        "data.images_dir is not set: pass data.images_dir=<value>"
    )


# Unknown keys: a key no schema or target argument names is refused, with the closest one.


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("+trainer.max_epoch=3", "trainer.max_epoch=3 is not a setting of lightning.pytorch.Trainer"
            ": did you mean trainer.max_epochs?"),
        ("+data.batchsize=3", "data.batchsize=3 is not a setting of data: did you mean "
            "data.batch_size?"),
        ("+model.aux=true", "model.aux=true is not a setting of model: did you mean "
            "model.aux_loss?"),
        ("+lr_finder.steps=3", "lr_finder.steps=3 is not a setting of lr_finder: did you mean "
            "lr_finder.num_steps?"),
        ("+sed=1", "sed=1 is not a setting of this command: did you mean seed?"),
        ("+augment.train.transforms.1.prob=0.5", "augment.train.transforms.1.prob=0.5 is not a "
            "setting of albumentations.HorizontalFlip: remove it"),
        ("+callbacks.best_checkpoint.mointor=x", "callbacks.best_checkpoint.mointor=x is not a "
            "setting of lightning.pytorch.callbacks.ModelCheckpoint: did you mean "
            "callbacks.best_checkpoint.monitor?"),
    ],
)  # fmt: skip
def test_an_unknown_key_is_refused_naming_the_closest(override: str, expected: str) -> None:
    assert config_error("train", override) == expected


def test_adamw_takes_no_momentum() -> None:
    message = config_error("train", "optimizer=adamw", "+optimizer.momentum=0.9")
    assert message == "optimizer.momentum=0.9 is not a setting of optimizer: remove it"


def test_a_target_with_keyword_arguments_takes_any_key() -> None:
    check_config(composed("train", "+logger.tensorboard.flush_secs=30"), "train")


def test_an_optimizer_of_no_schema_is_named() -> None:
    message = config_error("train", "optimizer._target_=torch.optim.Adam")
    assert message == (
        "optimizer._target_=torch.optim.Adam must be one of torch.optim.SGD, torch.optim.AdamW"
    )


def test_official_split_needs_its_lists() -> None:
    message = config_error("train", "data=folders", "data.root=/x", "data.split=official")
    assert message.startswith("data.split=official needs data.official_split")


def test_an_interpolation_of_a_wrong_value_names_the_value() -> None:
    assert config_error("train", "augment.val_size=272").startswith(
        "augment.val_size=272 must be [height, width], two integers >= 1"
    )


# Lightning's and albumentations' own checks, run when the objects are built before the data scan.


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.precision=17", "Precision 17 is invalid"),
        ("trainer.strategy=ddpp", "ddpp"),
        ("+trainer.max_time=soon", "soon"),
        ("trainer.devices=0", "devices"),
    ],
)
def test_the_trainers_own_checks_end_in_one_line_naming_the_trainer(
    override: str, expected: str
) -> None:
    cfg = composed("train", "trainer=ddp_cpu", override)
    check_config(cfg, "train")
    with pytest.raises(ConfigError) as caught:
        built("trainer", cfg.trainer, logger=False)
    message = str(caught.value)
    assert message.startswith(
        "trainer (lightning.pytorch.trainer.trainer.Trainer) refused its settings: "
    )
    assert expected in message
    assert "\n" not in message


def test_a_transforms_own_check_ends_in_one_line_naming_the_group() -> None:
    cfg = composed("train", "augment.train.transforms.1.p=2")
    check_config(cfg, "train")
    with pytest.raises(ConfigError) as caught:
        built("augment.train", cfg.augment.train)
    message = str(caught.value)
    assert message.startswith(
        "augment.train (albumentations.augmentations.geometric.flip.HorizontalFlip) refused its "
        "settings: 1 validation error for InitSchema: p: Input should be less than or equal to 1"
    )
    assert "\n" not in message


# Settings that only fail together.


def test_nesterov_without_momentum() -> None:
    message = config_error("train", "optimizer.momentum=0")
    assert message.startswith("optimizer.nesterov=true needs optimizer.momentum > 0")


def test_an_endless_run_cannot_plan_its_schedule() -> None:
    message = config_error("train", "trainer.max_epochs=-1")
    assert message.startswith("trainer.max_epochs=-1 and trainer.max_steps=-1 make an endless run")
    check_config(composed("train", "trainer.max_epochs=-1", "scheduler=none"), "train")
    check_config(composed("train", "trainer.max_epochs=-1", "trainer.max_steps=500"), "train")


def test_a_run_too_short_to_validate_is_refused() -> None:
    """Refused only without callbacks.validate_last_epoch, which validates the last epoch."""
    short = ("trainer.max_epochs=1", "trainer.check_val_every_n_epoch=2")
    message = config_error("train", *short, "callbacks.validate_last_epoch=null")
    assert message.startswith("trainer.check_val_every_n_epoch=2 with trainer.max_epochs=1: the")
    assert message.endswith("=1 or more epochs, or keep callbacks.validate_last_epoch")
    check_config(composed("train", *short), "train")
    check_config(
        composed(
            "train", "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=2",
            "callbacks.validate_last_epoch=null",
        ),
        "train",
    )  # fmt: skip
    check_config(
        composed(
            "train", *short, "trainer.limit_val_batches=0", "callbacks.validate_last_epoch=null"
        ),
        "train",
    )


def test_an_unknown_command_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no config checks for command 'serve'"):
        check_config(composed("train"), "serve")


# Through the real commands: one line, before any data scan.


def run_in(folder: Path, module: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    """`python -m drone_seg.<module> overrides...` from `folder`, its runs under `folder`."""
    return run_command(
        f"drone_seg.{module}", *overrides, f"paths.root_dir={folder}",
        f"hydra.run.dir={folder / 'run'}", cwd=folder, expect_ok=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["+trainer.max_epoch=3"], "error: trainer.max_epoch=3 is not a setting of lightning"),
        (["data.batch_size=two"], "error: data.batch_size=two must be an integer >= 1"),
        (["loss.class_weights=[1,2]"], "error: loss.class_weights=[1,2] must be null or a list"),
        (["ckpt_path=/nonexistent.ckpt"], "error: ckpt_path=/nonexistent.ckpt does not exist"),
    ],
    ids=["max_epoch", "batch_size", "class_weights", "ckpt_path"],
)
def test_train_stops_in_one_line_before_the_data_scan(
    overrides: list[str], expected: str, tmp_path: Path
) -> None:
    result = run_in(tmp_path, "train", *overrides, "data.root=/nonexistent")
    assert result.returncode != 0
    assert result.stderr.strip().startswith(expected), result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert "data.root" not in result.stderr  # the data error would name data.root
    assert not (tmp_path / "run" / "split.csv").exists()


NO_CHECKPOINT = "ckpt_path is not set: pass ckpt_path=<run>/checkpoints/best.ckpt"


@pytest.mark.parametrize(
    ("command", "overrides"),
    [("predict", ["input=x"]), ("export", []), ("eval", ["data.root=/nonexistent"])],
)
def test_commands_without_a_checkpoint_are_refused(command: str, overrides: list[str]) -> None:
    assert config_error(command, *overrides) == NO_CHECKPOINT


def test_a_refused_command_prints_one_line_and_nothing_else(tmp_path: Path) -> None:
    """The commands' one wrapper (drone_seg.cli) turns the refusal into that line."""
    result = run_in(tmp_path, "predict", "input=x")
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: {NO_CHECKPOINT}", result.stderr[-2000:]
    assert "Traceback" not in result.stdout


def test_a_config_error_and_help_come_before_torch_and_lightning_are_imported(
    tmp_path: Path,
) -> None:
    probe = (
        "import sys\n"
        "from drone_seg.train import main\n"
        "try:\n    main()\nexcept SystemExit as end:\n    print(end)\n"
        "print(sorted({'torch', 'lightning', 'albumentations'} & set(sys.modules)))\n"
    )
    for arguments in (["optimizer.lr=-1"], ["--help"]):
        argv = ["train", *arguments, f"hydra.run.dir={tmp_path / 'run'}"]
        code = f"import sys; sys.argv = {argv!r}\n{probe}"
        result = run_python("-c", code, cwd=tmp_path, expect_ok=False)
        lines = result.stdout.strip().splitlines()
        assert lines[-1] == "[]", result.stdout[-2000:] + result.stderr[-2000:]
        if arguments == ["--help"]:
            assert "== Config ==" in result.stdout
            assert "optimizer: adamw, sgd" in result.stdout
        else:
            assert lines[-2] == "error: optimizer.lr=-1 must be a number > 0"


# Every group's YAML keys have a field in its schema, and every field a key in some YAML file.


def schema_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """The dotted keys of `model`, nested models' keys too."""
    keys = set()
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        nested = [a for a in (info.annotation, *typing.get_args(info.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]  # fmt: skip
        keys |= schema_keys(nested[0], f"{key}.") if nested else {key}
    return keys


def yaml_keys(node: dict, model: type[BaseModel], prefix: str = "") -> set[str]:
    """The dotted keys of a YAML `node`, read as deep as `model` has nested models."""
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    keys = set()
    for key, value in node.items():
        info = fields.get(key)
        nested = [a for a in (info.annotation, *typing.get_args(info.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)] if info else []  # fmt: skip
        if nested and isinstance(value, dict):
            keys |= yaml_keys(value, nested[0], f"{prefix}{key}.")
        elif not (nested and value is None):  # a group set to null holds none of its keys
            keys.add(prefix + key)
    return keys


@pytest.mark.parametrize("group", ["data", "augment", "model", "loss", "optimizer", "scheduler",
                                   "paths", "debug"])  # fmt: skip
def test_every_group_key_has_a_schema_field_and_every_field_a_yaml_default(group: str) -> None:
    choices = COMMANDS["train"].groups[group]
    found: dict[type[BaseModel], set[str]] = {}
    for option in options(group):
        node = composed("train", f"{group}={option}").get(group)
        node = OmegaConf.to_container(node) if node else {}
        schema = choices.get(node.get("_target_")) if isinstance(choices, dict) else choices
        found.setdefault(schema, set()).update(yaml_keys(node, schema))
    for schema, keys in found.items():
        assert keys == schema_keys(schema), schema.__name__


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_key_has_a_schema_field_and_every_field_a_yaml_default(command: str) -> None:
    checks = COMMANDS[command]
    cfg = OmegaConf.to_container(composed(command))
    own = {k: v for k, v in cfg.items() if k not in {"hydra", *checks.groups, *checks.targets}}
    assert yaml_keys(own, checks.own) == schema_keys(checks.own)


def test_the_choices_in_the_schemas_are_the_codes() -> None:
    from drone_seg.bench.infer import RUNTIMES
    from drone_seg.bench.suites import SUITES
    from drone_seg.bench.training import PRECISIONS
    from drone_seg.models.networks import NETWORKS

    assert set(typing.get_args(schema.Network)) == set(NETWORKS)
    fields = schema.Bench.model_fields
    assert typing.get_args(fields["suite"].annotation) == (*SUITES, "all")
    assert {str(p) for p in typing.get_args(fields["precision"].annotation)} == set(PRECISIONS)
    runtimes = typing.get_args(typing.get_args(fields["runtimes"].annotation)[0])
    assert runtimes == RUNTIMES
    augments = typing.get_args(typing.get_args(fields["augments"].annotation)[0])
    assert set(augments) == set(options("augment"))
