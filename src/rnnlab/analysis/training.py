"""Convergence and stability measured from training records (pure NumPy).

- :func:`epochs_to_target`: the first epoch whose value reaches a target (accuracy up, error down).
- :func:`loss_spikes`: steps whose loss jumps above ``factor`` times the median of the
  preceding ``window`` steps by a margin that matters on the scale of the task.
- :func:`loss_increases`: epochs whose test loss rose above the previous epoch's.
- :func:`accuracy_standard_error`: the binomial standard error of an accuracy on n examples,
  sqrt(p (1 - p) / n), used to say when two accuracies differ by less than sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def epochs_to_target(
    values: Sequence[float], target: float, higher_is_better: bool = True
) -> int | None:
    """First epoch index whose value reaches ``target`` (None when none does)."""
    v = np.asarray(values, dtype=np.float64)
    hits = np.flatnonzero(v >= target) if higher_is_better else np.flatnonzero(v <= target)
    return int(hits[0]) if hits.size else None


def loss_spikes(
    step_losses: Sequence[float],
    window: int = 20,
    factor: float = 2.0,
    min_rise: float = 0.1,
    min_history: int = 5,
) -> list[int]:
    """Indices of steps whose loss jumps well above the recent level.

    Step t is a spike when loss_t > ``factor`` x m_t and loss_t - m_t > ``min_rise`` x m_0, where
    m_t is the median of the previous ``window`` finite losses (at least ``min_history`` of
    them) and m_0 the median of the first ``window`` losses (the scale of the task). The second
    condition keeps the ordinary batch-to-batch scatter of an almost-zero late loss (0.002 ->
    0.02) from counting as instability. Non-finite losses always count.
    """
    losses = np.asarray(step_losses, dtype=np.float64)
    first = losses[:window][np.isfinite(losses[:window])]
    scale = float(np.median(first)) if first.size else 0.0
    spikes = []
    for t in range(len(losses)):
        if not np.isfinite(losses[t]):
            spikes.append(t)
            continue
        past = losses[max(0, t - window) : t]
        past = past[np.isfinite(past)]
        if past.size < min_history:
            continue
        level = float(np.median(past))
        if losses[t] > factor * level and losses[t] - level > min_rise * scale:
            spikes.append(t)
    return spikes


def loss_increases(test_losses: Sequence[float], tolerance: float = 0.0) -> list[int]:
    """Epochs e >= 1 with test_loss[e] > test_loss[e - 1] * (1 + tolerance)."""
    v = np.asarray(test_losses, dtype=np.float64)
    return [int(e) for e in range(1, len(v)) if v[e] > v[e - 1] * (1.0 + tolerance)]


def accuracy_standard_error(accuracy: float, n: int) -> float:
    """sqrt(p (1 - p) / n): the sampling standard error of an accuracy measured on n examples."""
    if n <= 0:
        return float("nan")
    p = min(max(float(accuracy), 0.0), 1.0)
    return float(np.sqrt(p * (1.0 - p) / n))
