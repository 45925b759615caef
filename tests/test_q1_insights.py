"""Q1 insights: the numbers read off fabricated loss curves (the sentences: test_q1_observations)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from q1_fakes import FINALS, PARAMS, RATE, SECS, _curves
from rnnlab.analysis.insights import RunCurves, compare, first_crossing, summarize_runs
from rnnlab.errors import ShapeError


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
