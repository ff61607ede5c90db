"""Benchmarks: load, index and search for both backends, side by side, against their limits."""
