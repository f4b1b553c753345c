"""Benchmarks of the platform against its physical floor."""
