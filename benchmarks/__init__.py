"""Throughput benchmarks for the README (`make bench`)."""
