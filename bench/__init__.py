"""Benchmarks: the relay harness (``python -m bench.relay``) and the storage micro-benchmark."""
