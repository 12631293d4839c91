"""Benchmarks that print figures: `python -m drone_seg.bench suite=SUITE` (conf/bench.yaml).

Each suite measures throughput as a median over repeats after warm-up (the memory suite: peak
memory), prints a Markdown table and writes the same rows as JSON. Targets live here and in
docs/benchmarks.md, never in tests.
"""
