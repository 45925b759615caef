"""Q1 insights: the numbers read off fabricated loss curves (the sentences: test_q1_observations)."""

import numpy as np
import pytest

from rnnlab.analysis.insights import RunCurves, compare, first_crossing, summarize_runs
from rnnlab.errors import ShapeError


def _curves(finals, spread, rate, seconds_per_epoch, params, E=10, S=3):
    """Fabricated exponential-decay curves ending near ``finals`` with +-``spread`` over seeds."""
    out = {}
    for label in finals:
        e = np.arange(E + 1)
        decay = (np.exp(-rate[label] * e) - np.exp(-rate[label] * E)) / (1 - np.exp(-rate[label] * E))
        base = finals[label] + (1.0 - finals[label]) * decay  # 1 at epoch 0, finals at epoch E
        offsets = np.linspace(-spread[label], spread[label], S)[:, None]
        val = base[None, :] + offsets
        sec = np.tile(e * seconds_per_epoch[label], (S, 1))
        out[label] = RunCurves(val, sec, params[label], val + 0.01)
    return out


FINALS = {"RNN": 0.30, "LSTM": 0.20, "GRU": 0.18}
RATE = {"RNN": 0.3, "LSTM": 0.6, "GRU": 0.8}
SECS = {"RNN": 0.1, "LSTM": 0.4, "GRU": 0.3}
PARAMS = {"RNN": 100, "LSTM": 400, "GRU": 300}


def test_first_crossing():
    assert first_crossing([1.0, 0.5, 0.2, 0.1], 0.3) == 2
    assert first_crossing([1.0, 0.5], 0.1) is None
    assert first_crossing([0.05, 0.5], 0.1) == 0


def test_summary_numbers():
    s = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))
    assert s["ranking"] == ["GRU", "LSTM", "RNN"]
    assert s["threshold"] == pytest.approx(1.1 * s["models"]["RNN"]["final_val_mean"])
    g = s["models"]["GRU"]
    assert g["seeds_reached"] == 3 and g["num_parameters"] == 300
    assert g["seconds_per_epoch"] == pytest.approx(0.3)
    assert g["seconds_to_threshold_mean"] == pytest.approx(0.3 * g["epochs_to_threshold_mean"])
    assert s["models"]["GRU"]["epochs_to_threshold_mean"] < s["models"]["RNN"]["epochs_to_threshold_mean"]
    given = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS), threshold=0.25)
    assert given["threshold"] == 0.25 and given["models"]["RNN"]["seeds_reached"] == 0
    with pytest.raises(ShapeError):
        RunCurves(np.zeros((2, 3)), np.zeros((2, 4)), 1)


def test_compare_gap_against_spread():
    models = {"A": {"final_val_mean": 1.0, "final_val_std": 0.1}, "B": {"final_val_mean": 1.3, "final_val_std": 0.1}}
    assert compare(models, "A", "B")["exceeds_spread"]
    models["B"]["final_val_std"] = 0.2
    assert not compare(models, "A", "B")["exceeds_spread"]  # gap 0.3 == spread 0.3: not beyond
