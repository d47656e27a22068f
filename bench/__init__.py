"""Benchmarks: each of ours measured beside a floor doing the same work (see README.md)."""
