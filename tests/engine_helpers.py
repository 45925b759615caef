"""Helpers shared by the engine tests (the compiled loops' and the reference's)."""

from __future__ import annotations

import numpy as np


def as64(tree):
    """float64 copies of an array, a dict of arrays or a tuple of them (None stays None)."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {k: v.astype(np.float64) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(as64(v) for v in tree)
    return tree.astype(np.float64)
