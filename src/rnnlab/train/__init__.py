"""Training loops, checkpoints and the per-epoch records they emit."""
