"""Helpers shared by the engine tests (the compiled loops' and the reference's)."""

from __future__ import annotations

import numpy as np

from rnnlab.scratch import _lanes


def as64(tree):
    """float64 copies of an array, a dict of arrays or a tuple of them (None stays None)."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {k: v.astype(np.float64) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(as64(v) for v in tree)
    return tree.astype(np.float64)


def spy_on_lanes(monkeypatch) -> list[bool]:
    """Record, for every engine Lane opened from now on, whether a helper thread ran its tasks
    (``Lane.parallel``); returns the list the flags are appended to."""
    parallel: list[bool] = []

    class SpyLane(_lanes.Lane):
        def __init__(self, enabled=True):
            super().__init__(enabled)
            parallel.append(self.parallel)

    monkeypatch.setattr(_lanes, "Lane", SpyLane)
    return parallel
