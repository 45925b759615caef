"""Pure NumPy measurements: gradient flow, weight statistics, saturation, insights."""
