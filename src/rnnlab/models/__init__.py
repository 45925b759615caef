"""PyTorch models (parameters named and laid out as torch's own recurrent layers)."""
