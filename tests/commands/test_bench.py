"""The benchmark suites run end to end on tiny settings and report what they measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from drone_seg.bench import timing
from drone_seg.bench.__main__ import main
from drone_seg.bench.results import markdown_table

TINY_TIMING = ["--warmup", "1", "--repeats", "2", "--batch-size", "2"]


def run_bench(tmp_path: Path, *args: str) -> list[dict]:
    """Run `python -m drone_seg.bench` in this process; return the rows of its JSON."""
    GlobalHydra.instance().clear()
    out = tmp_path / f"bench-{len(list(tmp_path.glob('bench-*.json')))}.json"
    path = main([*args, *TINY_TIMING, "--out", str(out)])
    document = json.loads(path.read_text())
    assert document["machine"]["torch"] == torch.__version__
    return document["rows"]


def test_markdown_table_has_a_column_per_key_and_blank_cells() -> None:
    table = markdown_table(
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


def test_data_suite_measures_decoders_augments_and_the_loader(tmp_path: Path) -> None:
    rows = run_bench(
        tmp_path, "data", "--image-size", "96", "128", "--num-images", "12",
        "--crop-size", "64", "64", "--data-batches", "2",
        f"paths.data_dir={tmp_path}", "data.num_workers=1",
    )  # fmt: skip
    names = [row["name"] for row in rows]
    assert names == [
        "decode image (opencv)", "decode image (pil)", "decode image (torchvision)",
        "none", "light", "baseline", "baseline loader",
    ]  # fmt: skip
    assert all(row["img/s"] > 0 for row in rows)
    assert [row["workers"] for row in rows] == [1, 1, 1, 1, 1, 1, 1]
    assert (tmp_path / "synthetic-12x128x96-seed0" / "JPEGImages").is_dir()


def test_train_suite_counts_flops_that_scale_with_pixels(tmp_path: Path) -> None:
    args = ["train", "--networks", "lraspp_mobilenet_v3_large", "fcn_resnet50"]
    small = run_bench(tmp_path, *args, "--train-size", "64", "64")
    large = run_bench(tmp_path, *args, "--train-size", "128", "128")
    assert [row["name"] for row in small] == ["lraspp_mobilenet_v3_large", "fcn_resnet50"]
    for low, high in zip(small, large, strict=True):
        assert high["fwd GFLOP/img"] / low["fwd GFLOP/img"] == pytest.approx(4.0, rel=0.1)
        assert low["img/s"] > 0 and low["peak MB"] > 0
        expected = 3 * low["fwd GFLOP/img"] * low["img/s"] / 1e3
        assert low["TFLOP/s"] == pytest.approx(expected)
        assert "MFU" not in low  # no known peak on a CPU
    assert small[1]["fwd GFLOP/img"] > 10 * small[0]["fwd GFLOP/img"]  # ResNet-50 vs MobileNet


def test_overhead_suite_reports_the_trainer_to_plain_loop_ratio(tmp_path: Path) -> None:
    rows = run_bench(tmp_path, "overhead", "--overhead-size", "64", "64", "--overhead-steps", "3")
    plain, lightning = rows
    assert (plain["name"], lightning["name"]) == ("plain loop", "lightning")
    assert plain["steps"] == lightning["steps"] == 3 * 2  # timed steps over the 2 repeats
    assert lightning["ratio"] == pytest.approx(lightning["step ms"] / plain["step ms"])
    assert plain["img/s"] == pytest.approx(2 / (plain["step ms"] / 1e3))  # batch size 2
    assert lightning["fit s"] > 3 * lightning["step ms"] / 1e3


def test_infer_suite_runs_each_runtime_as_predict_loads_it(tmp_path: Path) -> None:
    rows = run_bench(
        tmp_path, "infer", "--networks", "lraspp_mobilenet_v3_large", "--infer-size", "72", "128"
    )
    assert [row["runtime"] for row in rows] == ["eager", "torchscript", "onnxruntime"]
    assert rows[0]["vs eager"] == 1.0
    for row in rows[1:]:
        assert row["vs eager"] == pytest.approx(row["img/s"] / rows[0]["img/s"])


def test_cli_refuses_to_overwrite_a_results_file(tmp_path: Path) -> None:
    existing = tmp_path / "results.json"
    existing.write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "drone_seg.bench", "data", "--out", str(existing)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: --out {existing} exists: name a new file, nothing is overwritten"
    )
    assert existing.read_text() == "{}"
