"""What this CPU can do fast, read from the kernel's feature flags without importing torch: the
training precision `trainer=cpu` picks (`${drone_seg.cpu_precision:}`) and the line saying which
path a run takes and why."""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Instructions that run bfloat16 matrix products natively (oneDNN uses them under autocast);
# without them bf16 is emulated and slower than float32.
BF16_FLAGS: frozenset[str] = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first processor's feature flags; empty where /proc/cpuinfo is absent (macOS, Windows)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_precision(flags: frozenset[str] | None = None) -> str:
    """Lightning's `precision` for CPU training: bf16-mixed where the CPU has native bfloat16
    instructions, else 32 (float32)."""
    flags = cpu_flags() if flags is None else flags
    return "bf16-mixed" if flags & BF16_FLAGS else "32"


def precision_note(precision: str, channels_last: bool, flags: frozenset[str] | None = None) -> str:
    """One log line: which numeric path and memory layout a CPU run takes, and why."""
    flags = cpu_flags() if flags is None else flags
    found = sorted(flags & BF16_FLAGS)
    layout = "channels_last" if channels_last else "contiguous (NCHW)"
    if precision == "bf16-mixed":
        reason = f"the CPU has {', '.join(found)}" if found else "set in the config; no native bf16"
        return f"CPU training path: bf16-mixed autocast, {layout} layout ({reason})"
    reason = "set in the config" if found else "no avx512_bf16 or amx_bf16 instructions"
    return f"CPU training path: float32, {layout} layout ({reason})"
