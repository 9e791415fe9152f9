"""The scale benchmark of the dashboard: `python -m benchmarks.run` (see benchmarks/README.md)."""
