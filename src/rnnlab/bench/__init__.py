"""Benchmarks: speed and accuracy goals, measured on demand (``rnnlab bench NAME``), never in tests."""
