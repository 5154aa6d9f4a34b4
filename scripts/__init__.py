"""Developer scripts: benchmarks, screenshots, catalogues (run with python -m scripts.NAME)."""
