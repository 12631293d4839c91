"""Benchmarks that print figures: `python -m drone_seg.bench data|train|overhead|infer|all`.

Each suite measures throughput as a median over repeats after warm-up, prints a Markdown table
and writes the same rows as JSON. Targets live here and in docs/benchmarks.md, never in tests.
"""
