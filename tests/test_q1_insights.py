"""Q1 insights: the sentences are functions of the numbers (fabricated metrics -> sentence)."""

import numpy as np
import pytest

from rnnlab.analysis.insights import (
    RunCurves,
    clipping_observations,
    compare,
    cost_observations,
    curve_observations,
    first_crossing,
    gradflow_observations,
    mechanism_observations,
    summarize_runs,
)
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


def test_gap_versus_seed_spread_changes_the_sentence():
    tight = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))
    loose = summarize_runs(_curves(FINALS, {k: 0.05 for k in FINALS}, RATE, SECS, PARAMS))
    assert compare(tight["models"], "GRU", "LSTM")["exceeds_spread"]
    assert not compare(loose["models"], "GRU", "LSTM")["exceeds_spread"]
    t_text = " ".join(curve_observations("Sine", "validation MSE", tight))
    l_text = " ".join(curve_observations("Sine", "validation MSE", loose))
    assert "GRU ends 0.0200 below LSTM (10% lower), more than the seed-to-seed spread" in t_text
    assert "do not separate GRU from LSTM" in l_text and "do not separate" not in t_text
    assert "best first: GRU 0.180 ± 0.00100" in t_text


def test_ranking_follows_the_numbers():
    swapped = dict(FINALS, RNN=0.15)
    text = " ".join(curve_observations("Text", "loss", summarize_runs(
        _curves(swapped, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))))
    assert "best first: RNN 0.150" in text


def test_speed_sentence_epochs_versus_seconds():
    # GRU needs fewer epochs, but RNN's epochs are so cheap it wins in seconds.
    s = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, {"RNN": 0.01, "LSTM": 0.4, "GRU": 0.3},
                               PARAMS))
    text = " ".join(curve_observations("Sine", "MSE", s))
    assert "GRU needs the fewest epochs" in text and "so RNN gets there first in seconds" in text
    same = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, dict(SECS, RNN=0.5), PARAMS))
    assert "GRU learns fastest both per epoch and per second" in " ".join(curve_observations("Sine", "MSE", same))
    never = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS), threshold=0.25)
    assert "RNN never reached it within 10 epochs" in " ".join(curve_observations("Sine", "MSE", never))


def test_cost_sentence():
    s = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))
    (sentence,) = cost_observations("Sine", s, hidden_size=8)
    assert "against RNN (100 parameters" in sentence and "LSTM 4.0x the parameters and 4.0x the time" in sentence


def test_why_sentence_needs_supporting_mechanism_numbers():
    s = summarize_runs(_curves(FINALS, {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))
    supported = {"RNN": {"grad_factor_per_step": 0.6}, "LSTM": {"grad_factor_per_step": 0.9, "forget_gate_mean": 0.8,
                          "forget_gate_open_fraction": 0.25},
                 "GRU": {"grad_factor_per_step": 0.85, "update_gate_mean": 0.7}}
    text = " ".join(mechanism_observations("Text", s, supported))
    assert "why LSTM and GRU beat the RNN" in text and "x0.90" in text and "mean forget gate 0.80, 25% of its values above 0.9" in text
    unsupported = {k: {"grad_factor_per_step": 0.6} for k in supported}
    unsupported["RNN"] = {"grad_factor_per_step": 0.95}
    text2 = " ".join(mechanism_observations("Text", s, unsupported))
    assert "does not explain it" in text2 and "why" not in text2
    # RNN best beyond the spread: no claim that gating helps
    rnn_best = summarize_runs(_curves(dict(FINALS, RNN=0.1), {k: 0.001 for k in FINALS}, RATE, SECS, PARAMS))
    text3 = " ".join(mechanism_observations("Sine", rnn_best, supported))
    assert "the LSTM and GRU's gating brings no measurable benefit" in text3 and "why" not in text3
    # within the spread: say so
    noisy = summarize_runs(_curves(FINALS, {k: 0.2 for k in FINALS}, RATE, SECS, PARAMS))
    assert "within the seed spread" in " ".join(mechanism_observations("Sine", noisy, supported))


def _gradflow(factors):
    cells = {}
    for label, f in factors.items():
        entry = {}
        for cond, factor in f.items():
            entry[cond] = {}
            for T in (20, 50):
                norms = (factor ** (T - np.arange(1, T + 1))).tolist()  # x factor per step back
                entry[cond][str(T)] = {"norms": norms, "fit": {"factor_per_step": factor}}
        cells[label] = entry
    jac = {label: {"init": np.full(50, 0.5).tolist()} for label in factors}
    return {"lengths": [20, 50], "vanishing_radius": 0.5, "exploding_radius": 3.0, "trained_on": "text",
            "cells": cells, "jacobian": jac}


def test_gradflow_sentences_follow_the_factors():
    g = _gradflow({"RNN": {"init": 0.6, "trained": 0.7, "vanishing": 0.5, "exploding": 1.3},
                   "LSTM": {"init": 0.9, "trained": 1.0, "vanishing": 0.6, "exploding": 1.05}})
    text = " ".join(gradflow_observations(g))
    assert "RNN, T = 50: at initialisation ||dL/dh_t|| shrinks x0.6 per step back in time (vanishing)" in text
    assert "LSTM, T = 50" in text and "stays roughly constant (x1 per step)" in text
    assert "spectral radius 3, T = 50: the RNN's gradient grows x1.3 per step back in time (exploding)" in text
    assert "spectral radius 0.5" in text and "Jacobian product ||dh_T/dh_(T-49)||" in text
    assert "falls exponentially with the sequence length" in text
    g2 = _gradflow({"RNN": {"init": 1.2, "trained": 0.7, "vanishing": 0.5, "exploding": 1.3}})
    text2 = " ".join(gradflow_observations(g2))
    assert "at initialisation ||dL/dh_t|| grows x1.2" in text2
    assert "falls exponentially" not in text2


def test_clipping_sentence():
    (acted,) = clipping_observations("Text", {"RNN": 0.25, "LSTM": 0.0}, {"RNN": 6.0, "LSTM": 1.0}, 5.0)
    assert "RNN 25% (mean norm 6.00)" in acted and "LSTM 0%" in acted
    (never,) = clipping_observations("Text", {"RNN": 0.0}, {"RNN": 1.5}, 5.0)
    assert "never acted" in never and "RNN 1.50" in never
    assert clipping_observations("Text", {"RNN": 0.0}, {"RNN": 1.5}, None) == []


def test_mechanism_sentence_does_not_overclaim_a_closed_gate():
    from rnnlab.analysis.insights import mechanism_observations

    models = {
        "RNN": {"final_val_mean": 2.0, "final_val_std": 0.01},
        "GRU": {"final_val_mean": 1.9, "final_val_std": 0.01},
    }
    summary = {"models": models}
    open_gate = {"RNN": {"grad_factor_per_step": 0.6}, "GRU": {"grad_factor_per_step": 0.9, "update_gate_mean": 0.8}}
    closed = {"RNN": {"grad_factor_per_step": 0.6}, "GRU": {"grad_factor_per_step": 0.9, "update_gate_mean": 0.07}}
    text_open = " ".join(mechanism_observations("Text", summary, open_gate))
    text_closed = " ".join(mechanism_observations("Text", summary, closed))
    assert "mostly closed" not in text_open
    assert "mostly closed" in text_closed and "0.07" in text_closed
