"""The CPU's training precision: bf16-mixed only with native bfloat16 instructions, float32 else."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from drone_seg.cpu_features import cpu_flags, cpu_precision, precision_note

EPYC_FLAGS = "fpu sse2 avx2 avx512f avx512_vnni"


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: EPYC\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


def test_flags_are_read_from_the_first_processor(tmp_path: Path) -> None:
    flags = cpu_flags(_cpuinfo(tmp_path, EPYC_FLAGS + " avx512_bf16"))
    assert flags == frozenset({"fpu", "sse2", "avx2", "avx512f", "avx512_vnni", "avx512_bf16"})


def test_no_cpuinfo_means_no_flags_and_float32(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "absent") == frozenset()
    assert cpu_precision(frozenset()) == "32"


def test_bf16_is_chosen_only_with_native_bfloat16_instructions(tmp_path: Path) -> None:
    without = cpu_flags(_cpuinfo(tmp_path, EPYC_FLAGS))
    assert cpu_precision(without) == "32"
    assert cpu_precision(without | {"avx512_bf16"}) == "bf16-mixed"
    assert cpu_precision(without | {"amx_bf16"}) == "bf16-mixed"


def test_the_log_line_names_the_path_and_why() -> None:
    native = frozenset({"avx512_bf16"})
    assert precision_note("bf16-mixed", False, native) == (
        "CPU training path: bf16-mixed autocast, contiguous (NCHW) layout (the CPU has avx512_bf16)"
    )
    assert precision_note("32", True, frozenset()) == (
        "CPU training path: float32, channels_last layout (no avx512_bf16 or amx_bf16 instructions)"
    )
    assert precision_note("32", False, native) == (
        "CPU training path: float32, contiguous (NCHW) layout (set in the config)"
    )


def test_the_resolver_gives_this_machines_choice() -> None:
    node = OmegaConf.create({"precision": "${drone_seg.cpu_precision:}"})
    assert node.precision == cpu_precision()
