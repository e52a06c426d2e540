"""Benchmarks: each script prints a table with its peers measured in the same run (see README.md here)."""
