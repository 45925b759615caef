"""Q1's insights: numbers read off the loss curves (no sentences).

:func:`summarize_runs` turns per-seed loss curves into the table numbers (final loss mean and
spread, epochs and seconds to a loss threshold, cost per epoch); :func:`compare` sets the gap of
two models against the seed-to-seed spread (the sum of the two standard deviations over seeds).
The sentences built on these numbers are in :mod:`rnnlab.observations.q1`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ShapeError

THRESHOLD_MARGIN = 1.1  # automatic threshold: this times the worst model's final mean loss


@dataclass(frozen=True)
class RunCurves:
    """Per-seed curves of one model on one task.

    Attributes
    ----------
    val_loss : ndarray, (S, E+1)
        Validation loss after epochs 0..E for S seeds (epoch 0: before training).
    seconds : ndarray, (S, E+1)
        Cumulative training time at the end of each epoch.
    num_parameters : int
    train_loss : ndarray, (S, E+1), optional
    """

    val_loss: np.ndarray
    seconds: np.ndarray
    num_parameters: int
    train_loss: np.ndarray | None = None

    def __post_init__(self):
        v, s = np.asarray(self.val_loss), np.asarray(self.seconds)
        if v.ndim != 2 or v.shape != s.shape or v.shape[1] < 2:
            raise ShapeError(f"expected val_loss and seconds of one shape (S, E+1) with E >= 1, "
                             f"found {v.shape} and {s.shape}")


def first_crossing(losses: Sequence[float], threshold: float) -> int | None:
    """The first epoch whose loss is at or below ``threshold`` (None when it never is)."""
    hits = np.flatnonzero(np.asarray(losses, dtype=np.float64) <= threshold)
    return int(hits[0]) if hits.size else None


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize_runs(curves: Mapping[str, RunCurves], threshold: float | None = None,
                   margin: float = THRESHOLD_MARGIN) -> dict:
    """Table numbers for several models trained with the same budget and seeds.

    Parameters
    ----------
    curves : mapping model label -> RunCurves
    threshold : float, optional
        Loss threshold for "epochs/seconds to threshold". Default: ``margin`` times the largest
        final mean validation loss among the models, a level every model reaches on average.
    margin : float

    Returns
    -------
    dict
        ``threshold``, ``threshold_rule``, ``n_seeds``, ``epochs``, ``ranking`` (labels, lowest
        final mean loss first), ``pairs`` (consecutive models of the ranking: gap, spread, whether
        the gap exceeds it) and ``models`` (per label: final loss per seed, mean, sd, best epoch
        loss, epochs and seconds to threshold per seed and their means over the seeds that
        reached it, seconds per epoch, parameters).
    """
    if not curves:
        raise ShapeError("expected curves for at least one model, found none")
    finals = {m: np.asarray(c.val_loss, np.float64)[:, -1] for m, c in curves.items()}
    if threshold is None:
        threshold = float(margin * max(float(np.mean(f)) for f in finals.values()))
        rule = f"{margin:g} x the highest final mean validation loss among the models"
    else:
        rule = "given"
    models: dict[str, dict] = {}
    for label, c in curves.items():
        val = np.asarray(c.val_loss, np.float64)
        sec = np.asarray(c.seconds, np.float64)
        E1 = val.shape[1]
        epochs = [first_crossing(v, threshold) for v in val]
        secs = [None if e is None else float(sec[i, e]) for i, e in enumerate(epochs)]
        reached = [e for e in epochs if e is not None]
        models[label] = {
            "final_val_per_seed": finals[label].tolist(),
            "final_val_mean": float(np.mean(finals[label])),
            "final_val_std": _std(finals[label]),
            "best_val_mean": float(np.mean(val.min(axis=1))),
            "initial_val_mean": float(np.mean(val[:, 0])),
            "epochs_to_threshold": epochs,
            "seconds_to_threshold": secs,
            "seeds_reached": len(reached),
            "epochs_to_threshold_mean": float(np.mean(reached)) if reached else None,
            "seconds_to_threshold_mean": float(np.mean([s for s in secs if s is not None])) if reached else None,
            "seconds_per_epoch": float(np.mean(sec[:, -1]) / (E1 - 1)),
            "num_parameters": int(c.num_parameters),
        }
        if c.train_loss is not None:
            models[label]["final_train_mean"] = float(np.mean(np.asarray(c.train_loss)[:, -1]))
    ranking = sorted(models, key=lambda m: models[m]["final_val_mean"])
    pairs = [compare(models, a, b) for a, b in itertools.pairwise(ranking)]
    if len(ranking) > 2:
        pairs.append(compare(models, ranking[0], ranking[-1]))
    first = next(iter(curves.values()))
    return {
        "threshold": float(threshold),
        "threshold_rule": rule,
        "n_seeds": int(np.asarray(first.val_loss).shape[0]),
        "epochs": int(np.asarray(first.val_loss).shape[1] - 1),
        "ranking": ranking,
        "pairs": pairs,
        "models": models,
    }


def compare(models: Mapping[str, dict], a: str, b: str) -> dict:
    """Gap between the final mean losses of ``a`` (better) and ``b`` against the seed spread.

    The spread is sd_a + sd_b (standard deviations over seeds); the gap "exceeds the spread" when
    mean_b - mean_a is larger than that sum.
    """
    ma, mb = models[a]["final_val_mean"], models[b]["final_val_mean"]
    spread = models[a]["final_val_std"] + models[b]["final_val_std"]
    gap = mb - ma
    return {
        "better": a,
        "worse": b,
        "gap": float(gap),
        "relative_gap": float(gap / mb) if mb else float("nan"),
        "spread": float(spread),
        "exceeds_spread": bool(gap > spread),
    }
