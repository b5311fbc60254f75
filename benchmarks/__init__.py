"""Benchmarks: `python -m benchmarks [suite ...]` (or `make bench`); results go to benchmarks/RESULTS.md."""
