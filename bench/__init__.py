"""Benchmarks: `python -m bench.run --quick | --full` (see docs/benchmarks.md)."""
