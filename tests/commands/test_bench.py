"""The benchmark command runs its suites end to end on tiny settings and reports its figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from drone_seg.bench import timing
from drone_seg.bench.config import train_overrides
from drone_seg.bench.data import crop_last
from drone_seg.bench.paths import build_path_module, timed_in_turns
from drone_seg.bench.results import results_table
from drone_seg.cli import CONFIG_DIR
from drone_seg.errors import ConfigError

from helpers.cli import one_line_error, run_command
from helpers.config import compose_config
from helpers.networks import SMALL_ENCODERS

TINY_TIMING = ("warmup=1", "repeats=2", "batch_size=2")
SMP_NETWORKS = ["unet", "deeplabv3plus", "upernet", "segformer"]
DECODE_ROWS = [
    f"decode image ({name})"
    for name in ("opencv", "pil", "torchvision", "simplejpeg", "simplejpeg, 1/2 scale")
]


def run_bench(tmp_path: Path, *overrides: str) -> dict:
    """Run `python -m drone_seg.bench` with tiny timing and its files under `tmp_path`; return
    the JSON document it wrote."""
    out = tmp_path / f"bench-{len(list(tmp_path.glob('bench-*.json')))}.json"
    result = run_command(
        "drone_seg.bench", *overrides, *TINY_TIMING, f"paths.root_dir={tmp_path}", f"out={out}"
    )
    assert f"Wrote {out}" in result.stdout
    document = json.loads(out.read_text())
    assert document["machine"]["torch"] == torch.__version__
    return document


def test_results_table_has_a_column_per_key_and_blank_cells() -> None:
    table = results_table(
        [
            {"suite": "x", "name": "a", "img/s": 1234.56, "ratio": 1.04567},
            {"suite": "x", "name": "b", "img/s": 12.345, "workers": 2},
        ]
    )
    assert table.splitlines() == [
        "| name | img/s | ratio | workers |",
        "| --- | ---: | ---: | ---: |",
        "| a | 1235 | 1.05 |  |",
        "| b | 12.3 |  | 2 |",
    ]


def test_throughput_is_the_median_rate_after_warmup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls take 1, 2 and 4 clock seconds for 8 items; the warm-up call is not timed."""
    clock = iter([0.0, 1.0, 10.0, 12.0, 20.0, 24.0])
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    calls = []
    rate = timing.throughput(lambda: calls.append(1) or 8, warmup=1, repeats=3)
    assert len(calls) == 4
    assert rate == pytest.approx(4.0)  # rates 8, 4, 2 items/s


def test_peak_memory_sees_an_allocation_after_reset() -> None:
    cpu = torch.device("cpu")
    timing.reset_peak_memory(cpu)
    before = timing.peak_memory_mb(cpu)
    block = np.ones(200 * 2**20, dtype=np.uint8)  # 200 MB, touched
    assert timing.peak_memory_mb(cpu) >= before + 190
    del block


def test_the_default_networks_include_the_smp_ones_and_each_is_a_model_config() -> None:
    cfg = compose_config("bench", "suite=train")
    models = {path.stem for path in (Path(CONFIG_DIR) / "model").glob("[!_]*.yaml")}
    assert set(SMP_NETWORKS) <= set(cfg.networks) <= models
    assert cfg.data.synthetic is not None  # the train config is composed in: data=... overrides


def test_train_overrides_are_every_key_but_the_bench_s_own() -> None:
    command_line = ["suite=data", "data=aeroscapes", "data.root=/d", "crop_size=[64,64]", "seed=1"]
    assert train_overrides(command_line) == ["data=aeroscapes", "data.root=/d", "seed=1"]
    with pytest.raises(ConfigError, match=r"^model=unet is not read: .* networks=\[unet\]$"):
        train_overrides(["suite=train", "model=unet"])


def test_data_suite_measures_decoders_augments_and_the_loader(tmp_path: Path) -> None:
    document = run_bench(
        tmp_path, "suite=data", "image_size=[96,128]", "num_images=12", "crop_size=[64,64]",
        "data_batches=2", "data.num_workers=1",
    )  # fmt: skip
    rows = document["rows"]
    assert [row["name"] for row in rows] == [
        *DECODE_ROWS, "none", "light", "baseline", "baseline, crop last (the seed's way)",
        "baseline loader",
    ]  # fmt: skip
    assert all(row["img/s"] > 0 for row in rows)
    assert [row["workers"] for row in rows] == [1] * 9 + [1]
    # The baseline row's rate over the seed's way's, a median of ratios of rounds taken in turns.
    baseline, seed_way = rows[7], rows[8]
    assert baseline["x seed's way"] > 0 and "x seed's way" not in seed_way
    # The synthetic set rendered at image_size x num_images: 128 wide, 96 high.
    images = tmp_path / "data" / "synthetic-12x128x96-seed0" / "JPEGImages"
    assert len(list(images.glob("*.jpg"))) == 12
    settings = document["settings"]
    assert settings["suite"] == "data" and settings["crop_size"] == [64, 64]
    assert settings["overrides"] == ["data.num_workers=1", f"paths.root_dir={tmp_path}"]


def test_the_seeds_way_is_baselines_own_list_with_its_crop_moved_last() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["augment=baseline", "seed=7"])
    train = cfg.augment.train
    seed_way = crop_last(train)
    targets = [transform._target_ for transform in train.transforms]
    assert targets[0] == "drone_seg.data.class_aware_crop.ClassAwareRandomResizedCrop"
    assert [transform._target_ for transform in seed_way.transforms] == [*targets[1:], targets[0]]
    assert seed_way.transforms[-1].size == list(cfg.augment.crop_size) and seed_way.seed == 7
    flip_first = OmegaConf.create({"transforms": [{"_target_": "albumentations.HorizontalFlip"}]})
    with pytest.raises(ValueError, match="HorizontalFlip, not a crop"):
        crop_last(flip_first)


def test_data_suite_reads_a_real_data_root(tmp_path: Path, synthetic_root: Path) -> None:
    """The documented real-data command: the synthetic sizes leave data=aeroscapes alone."""
    document = run_bench(
        tmp_path, "suite=data", "data=aeroscapes", f"data.root={synthetic_root}",
        "augments=[none]", "crop_size=[64,64]", "data_batches=1", "data.num_workers=0",
    )  # fmt: skip
    names = [row["name"] for row in document["rows"]]
    assert names == [*DECODE_ROWS, "none"]  # no baseline: no seed's-way row
    assert not (tmp_path / "data").exists()  # no synthetic set rendered
    assert f"data.root={synthetic_root}" in document["settings"]["overrides"]


def test_train_suite_counts_flops_that_scale_with_pixels(tmp_path: Path) -> None:
    networks = "networks=[lraspp_mobilenet_v3_large,fcn_resnet50]"
    roofline, small = _split_roofline(run_bench(tmp_path, "suite=train", networks, SMALL)["rows"])
    large = run_bench(tmp_path, "suite=train", networks, "train_size=[128,128]")["rows"][2:]
    assert [row["name"] for row in small] == ["lraspp_mobilenet_v3_large", "fcn_resnet50"]
    for low, high in zip(small, large, strict=True):
        assert high["fwd GFLOP/img"] / low["fwd GFLOP/img"] == pytest.approx(4.0, rel=0.1)
        assert low["img/s"] > 0 and low["peak MB"] > 0
        expected = 3 * low["fwd GFLOP/img"] * low["img/s"] / 1e3
        assert low["TFLOP/s"] == pytest.approx(expected)
        # On a CPU, MFU is the share of the float32 matmul roofline measured in the same run.
        assert low["MFU"] == pytest.approx(low["TFLOP/s"] / roofline["32"])
    assert small[1]["fwd GFLOP/img"] > 10 * small[0]["fwd GFLOP/img"]  # ResNet-50 vs MobileNet


SMALL = "train_size=[64,64]"


def _split_roofline(rows: list[dict]) -> tuple[dict[str, float], list[dict]]:
    """The CPU train suite's first two rows, the float32 and bfloat16 matmul roofline (their
    TFLOP/s by precision), and the network rows after them."""
    assert [row["name"] for row in rows[:2]] == ["matmul 2048 (float32)", "matmul 2048 (bfloat16)"]
    assert all(row["TFLOP/s"] > 0 for row in rows[:2])
    return {row["precision"]: row["TFLOP/s"] for row in rows[:2]}, rows[2:]


def test_train_suite_measures_the_smp_networks_offline(tmp_path: Path) -> None:
    """Each smp network of the default list, with its default encoder and random weights."""
    networks = f"networks=[{','.join(SMP_NETWORKS)}]"
    _, rows = _split_roofline(run_bench(tmp_path, "suite=train", networks, SMALL)["rows"])
    encoders = {"unet": "resnet34", "deeplabv3plus": "resnet34"}
    encoders |= {"upernet": "tu-convnext_tiny", "segformer": "mit_b0"}
    assert [row["name"] for row in rows] == [f"{n} ({encoders[n]})" for n in SMP_NETWORKS]
    for row in rows:
        assert row["img/s"] > 0 and row["peak MB"] > 0 and row["fwd GFLOP/img"] > 0
        assert row["TFLOP/s"] == pytest.approx(3 * row["fwd GFLOP/img"] * row["img/s"] / 1e3)


def test_overhead_suite_reports_the_trainer_to_plain_loop_ratio(tmp_path: Path) -> None:
    document = run_bench(tmp_path, "suite=overhead", "overhead_size=[64,64]", "overhead_steps=3")
    plain, lightning = document["rows"]
    assert (plain["name"], lightning["name"]) == ("plain loop", "lightning")
    assert plain["steps"] == lightning["steps"] == 3 * 2  # timed steps over the 2 repeats
    assert lightning["ratio"] == pytest.approx(lightning["step ms"] / plain["step ms"])
    assert plain["img/s"] == pytest.approx(2 / (plain["step ms"] / 1e3))  # batch size 2
    assert lightning["fit s"] > 3 * lightning["step ms"] / 1e3


def test_infer_suite_runs_an_smp_network_as_predict_loads_it(tmp_path: Path) -> None:
    encoder = SMALL_ENCODERS["unet"]
    rows = run_bench(
        tmp_path, "suite=infer", "networks=[unet]", f"model.encoder={encoder}",
        "infer_size=[72,128]",
    )["rows"]  # fmt: skip
    assert [row["runtime"] for row in rows] == ["eager", "torchscript", "onnxruntime"]
    assert {row["name"] for row in rows} == {f"unet ({encoder})"}
    assert rows[0]["vs eager"] == 1.0
    for row in rows[1:]:
        assert row["vs eager"] == pytest.approx(row["img/s"] / rows[0]["img/s"])


def test_memory_suite_measures_each_size_in_its_own_process(tmp_path: Path) -> None:
    """Without `out`, the JSON goes to a new file under paths.log_dir/bench."""
    run_command(
        "drone_seg.bench", "suite=memory", "memory_sizes=[[96,160],[192,320]]", "memory_tile=64",
        "memory_overlap=16", "memory_batch_size=2", f"paths.root_dir={tmp_path}",
    )  # fmt: skip
    [path] = (tmp_path / "logs" / "bench").glob("memory-*.json")
    rows = json.loads(path.read_text())["rows"]
    assert [row["image"] for row in rows] == ["160x96", "320x192"]
    for row in rows:
        assert row["name"] == "lraspp_mobilenet_v3_large"
        assert row["peak MB after"] >= row["peak MB before"] > 0
        growth = row["peak MB after"] - row["peak MB before"]
        assert abs(row["growth MB"] - growth) <= 1  # each figure rounded on its own


def test_paths_suite_times_each_path_in_turns_against_the_first(tmp_path: Path) -> None:
    """Without compile, which takes a minute: the rows in the order asked, each its own switches."""
    paths = ["fp32", "channels_last", "bf16", "channels_last+bf16"]
    document = run_bench(
        tmp_path, "suite=paths", "paths_size=[32,32]", "paths_batch_size=2",
        f"paths_compared=[{','.join(paths)}]",
    )  # fmt: skip
    rows = document["rows"]
    assert [row["name"] for row in rows] == paths
    assert [row["precision"] for row in rows] == ["32", "32", "bf16-mixed", "bf16-mixed"]
    assert [row["channels_last"] for row in rows] == [False, True, False, True]
    assert not any(row["compile"] for row in rows)
    assert rows[0]["x fp32"] == 1.0
    for row in rows:
        assert row["x fp32"] == pytest.approx(row["img/s"] / rows[0]["img/s"])
        # Two rounds: the median step is the mean of the fastest and the slowest; batch 2.
        assert row["img/s"] == pytest.approx(2 / ((row["min step s"] + row["max step s"]) / 2))
        assert 0 < row["min step s"] <= row["max step s"] and row["warm-up s"] > 0
    settings = document["settings"]
    assert settings["paths_compared"] == paths and settings["paths_size"] == [32, 32]


def test_paths_take_turns_going_first() -> None:
    calls: list[int] = []
    steps = [lambda index=index: calls.append(index) or 1 for index in range(3)]
    seconds = timed_in_turns(steps, rounds=3, device=torch.device("cpu"))
    assert calls == [0, 1, 2, 1, 2, 0, 2, 0, 1]
    assert [len(times) for times in seconds] == [3, 3, 3]


def test_every_path_starts_from_the_same_weights() -> None:
    network = "lraspp_mobilenet_v3_large"
    plain, fast = (
        build_path_module(network, path, [], 3) for path in ("fp32", "channels_last+bf16")
    )
    other = build_path_module(network, "fp32", [], 4)
    convolutions = [
        next(weight for weight in module.parameters() if weight.dim() == 4)
        for module in (plain, fast)
    ]
    assert [conv.is_contiguous(memory_format=torch.channels_last) for conv in convolutions] == [
        False, True,
    ]  # fmt: skip
    weights = plain.state_dict()
    assert fast.state_dict().keys() == weights.keys()
    assert all(torch.equal(value, weights[key]) for key, value in fast.state_dict().items())
    assert not all(torch.equal(value, weights[key]) for key, value in other.state_dict().items())


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (["suite=everything"], "error: suite=everything must be one of data, train, overhead, "
         "infer, memory, paths, all"),
        (["suite=train", "train_size=[64]"], "error: train_size=[64] must be [height, width], "
         "two integers >= 1"),
        (["suite=infer", "runtimes=[tensorrt]"], "error: runtimes=[tensorrt] must be a non-empty "
         "list of values, each one of eager, torchscript, onnxruntime"),
        (["suite=paths", "paths_compared=[fp32,fast]"], "error: paths_compared=[fp32,fast] has "
         "fast: a path is fp32 or switches from channels_last, bf16, compile joined by +, each at "
         "most once (e.g. channels_last+bf16)"),
        (["suite=train", "model=unet"], "error: model=unet is not read: the bench measures the "
         "configs listed in networks, e.g. networks=[unet]"),
    ],
)  # fmt: skip
def test_config_mistakes_stop_the_bench_in_one_line(overrides: list[str], error: str) -> None:
    result = run_command("drone_seg.bench", *overrides, expect_ok=False)
    assert one_line_error(result) == error


def test_the_bench_refuses_to_overwrite_a_results_file(tmp_path: Path) -> None:
    existing = tmp_path / "results.json"
    existing.write_text("{}")
    result = run_command("drone_seg.bench", "suite=data", f"out={existing}", expect_ok=False)
    assert one_line_error(result) == (
        f"error: out={existing} exists: name a new file (out=FILE), nothing is overwritten"
    )
    assert existing.read_text() == "{}"
