"""DRONE_SEG_DATA names the folder that holds the datasets, for every command, the bench and the
notebooks, from any working folder; `paths.data_dir=` wins over it; what is there is only read."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from drone_seg import notebooks

from helpers import cli
from helpers.cli import one_line_error, run_command
from helpers.config import TINY_TRAIN

DEMO_SET = "synthetic-400x480x272-seed0"  # conf/data/synthetic.yaml's default set
# The test session's set (tests/conftest.py), rendered again by training under DRONE_SEG_DATA.
SMALL_SET = (
    "data.synthetic.num_images=40",
    "data.synthetic.width=160",
    "data.synthetic.height=96",
    "data.synthetic.frames_per_sequence=4",
)
# Each command's data paths, relative to the data folder, as `--cfg job --resolve` shows them.
WHERE = {
    ("drone_seg.train",): {"data.synthetic.dir": DEMO_SET},
    ("drone_seg.train", "data=aeroscapes"): {"data.root": "aeroscapes"},
    ("drone_seg.eval",): {"data.synthetic.dir": DEMO_SET},
    ("drone_seg.bench", "suite=data"): {"data.synthetic.dir": DEMO_SET},
    ("drone_seg.synthesize",): {"dir": DEMO_SET},
    ("drone_seg.prepare",): {"dest": "aeroscapes", "archive": "aeroscapes.tar.gz"},
    ("drone_seg.stats",): {"data.root": "aeroscapes"},
    ("drone_seg.split",): {"data.root": "aeroscapes"},
}


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder that is not the repository."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of datasets, named by DRONE_SEG_DATA in the commands' environment."""
    home = tmp_path / "data home"  # a space, as in many users' folders
    home.mkdir()
    monkeypatch.setitem(cli.ONE_THREAD, "DRONE_SEG_DATA", str(home))
    monkeypatch.setitem(cli.ONE_THREAD, "DRONE_SEG_CACHE_DIR", str(tmp_path / "cache"))
    return home


def resolved(module: str, *overrides: str, cwd: Path) -> dict:
    """The job config `python -m <module> <overrides>` would run with, interpolations resolved."""
    result = run_command(module, *overrides, "--cfg", "job", "--resolve", cwd=cwd)
    return yaml.safe_load(result.stdout)


def select(config: dict, key: str) -> object:
    for part in key.split("."):
        config = config[part]
    return config


@pytest.mark.parametrize("command", WHERE, ids=" ".join)
def test_every_command_finds_the_data_folder_in_DRONE_SEG_DATA(
    command: tuple[str, ...], data_home: Path, elsewhere: Path
) -> None:
    config = resolved(*command, cwd=elsewhere)
    assert config["paths"]["data_dir"] == str(data_home)
    for key, inside in WHERE[command].items():
        assert select(config, key) == str(data_home / inside)


def test_paths_data_dir_wins_over_DRONE_SEG_DATA(
    data_home: Path, elsewhere: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    config = resolved("drone_seg.train", f"paths.data_dir={other}", cwd=elsewhere)
    assert config["data"]["synthetic"]["dir"] == str(other / DEMO_SET)
    config = resolved("drone_seg.stats", f"paths.data_dir={other}", cwd=elsewhere)
    assert config["data"]["root"] == str(other / "aeroscapes")


def test_without_DRONE_SEG_DATA_the_data_folder_is_data_in_the_working_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(cli.ONE_THREAD, "DRONE_SEG_DATA", raising=False)
    config = resolved("drone_seg.train", cwd=elsewhere)
    assert config["data"]["synthetic"]["dir"] == f"./data/{DEMO_SET}"


def test_training_from_another_folder_renders_and_reads_its_set_in_DRONE_SEG_DATA(
    data_home: Path, elsewhere: Path, synthetic_root: Path
) -> None:
    notes = data_home / "notes.txt"
    notes.write_text("the user's own file\n")
    users_set = data_home / "aeroscapes"
    shutil.copytree(synthetic_root, users_set)
    before = {p: p.stat().st_mtime_ns for p in users_set.rglob("*")}
    run_command(
        "drone_seg.train", *SMALL_SET, "trainer.fast_dev_run=true", *TINY_TRAIN, cwd=elsewhere
    )
    rendered = data_home / "synthetic-40x160x96-seed0"
    assert len(list((rendered / "JPEGImages").glob("*.jpg"))) == 40
    assert len(list((rendered / "SegmentationClass").glob("*.png"))) == 40
    assert not (elsewhere / "data").exists()  # the run folder is the working folder's, as before
    assert [p.name for p in (elsewhere / "logs" / "train" / "runs").iterdir()]
    # The user's dataset, read by stats with no data.root, and the user's file stay as they were.
    result = run_command("drone_seg.stats", cwd=elsewhere)
    assert "40 images" in result.stdout + result.stderr
    assert {p: p.stat().st_mtime_ns for p in users_set.rglob("*")} == before
    assert notes.read_text() == "the user's own file\n"
    assert sorted(p.name for p in data_home.iterdir()) == [
        "aeroscapes", "notes.txt", "synthetic-40x160x96-seed0",
    ]  # fmt: skip


def test_an_empty_DRONE_SEG_DATA_is_refused_in_one_line(
    data_home: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cli.ONE_THREAD, "DRONE_SEG_DATA", "")
    error = one_line_error(run_command("drone_seg.stats", cwd=elsewhere, expect_ok=False))
    assert error.startswith(
        "error: paths.data_dir= must be the folder that holds the datasets, not empty "
        "(DRONE_SEG_DATA set to nothing? unset it)"
    )


def test_the_notebooks_find_the_dataset_the_commands_read(
    tmp_path: Path, synthetic_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DRONE_SEG_DATA", str(home))
    assert notebooks.data_root() == home / DEMO_SET
    assert notebooks.data_root("data=aeroscapes") == home / "aeroscapes"
    # Its former meaning: a DRONE_SEG_DATA that is a dataset is that dataset.
    monkeypatch.setenv("DRONE_SEG_DATA", str(synthetic_root))
    assert notebooks.data_root() == synthetic_root
    monkeypatch.delenv("DRONE_SEG_DATA")
    assert notebooks.data_root() == notebooks.REPO / "data" / DEMO_SET


def test_the_results_notebook_finds_a_moved_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = SimpleNamespace(data={"root": None, "synthetic": {"dir": f"/gone/data/{DEMO_SET}"}})
    monkeypatch.delenv("DRONE_SEG_DATA", raising=False)
    assert notebooks.moved_data_root(record) is None  # the run's own path
    monkeypatch.setenv("DRONE_SEG_DATA", str(tmp_path))
    assert notebooks.moved_data_root(record) is None  # not there either: the run's own path
    (tmp_path / DEMO_SET).mkdir()
    assert notebooks.moved_data_root(record) == str(tmp_path / DEMO_SET)
