"""Benchmark scripts: each prints figures (time, memory); none is a test. See bench/README.md."""
