"""Q1 sentences: each branch forced by fabricated measurements, on both sides of every threshold."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from q1_fakes import FINALS, PARAMS, RATE, SECS, _curves
from rnnlab.analysis.insights import compare, summarize_runs
from rnnlab.observations import q1 as obs
from rnnlab.observations.q1 import (
    FACTOR_MARGIN,
    FLAT_BAND,
    GOOD_FIT_R2,
    baseline_observations,
    clipping_observations,
    cost_observations,
    curve_observations,
    gradflow_observations,
    length_observations,
    mechanism_observations,
    speed_observation,
    trend,
)

TIGHT = {k: 0.001 for k in FINALS}


def _summary(**kw):
    return summarize_runs(_curves(kw.get("finals", FINALS), kw.get("spread", TIGHT), RATE,
                                  kw.get("secs", SECS), PARAMS), threshold=kw.get("threshold"))


# ------------------------------------------------------------------------------------------
# Ranking and gaps
# ------------------------------------------------------------------------------------------


def test_gap_versus_seed_spread_changes_the_sentence():
    tight, loose = _summary(), _summary(spread={k: 0.05 for k in FINALS})
    assert compare(tight["models"], "GRU", "LSTM")["exceeds_spread"]
    assert not compare(loose["models"], "GRU", "LSTM")["exceeds_spread"]
    t_text = " ".join(curve_observations("Sine", "validation MSE", tight))
    l_text = " ".join(curve_observations("Sine", "validation MSE", loose))
    assert "GRU ends 0.0200 below LSTM (10% lower), more than the seed-to-seed spread" in t_text
    assert "do not separate GRU from LSTM" in l_text and "do not separate" not in t_text
    assert "best first: GRU 0.180 ± 0.00100" in t_text


def test_ranking_follows_the_numbers():
    text = " ".join(curve_observations("Text", "loss", _summary(finals=dict(FINALS, RNN=0.15))))
    assert "best first: RNN 0.150" in text


def test_threshold_sentence_counts_the_seeds():
    text = " ".join(curve_observations("Sine", "MSE", _summary()))
    assert "GRU after" in text and "3/3 seeds reached it" in text and "mostly not" not in text
    never = " ".join(curve_observations("Sine", "MSE", _summary(threshold=0.25)))
    assert "RNN never reached it within 10 epochs (0/3 seeds)" in never


# ------------------------------------------------------------------------------------------
# Learns fastest
# ------------------------------------------------------------------------------------------


def _speed(epochs: dict, spe: dict | None = None, S: int = 3) -> dict:
    """A fabricated summary: per-seed epochs to the threshold (None: not reached)."""
    spe = spe or {m: 1.0 for m in epochs}
    models = {m: {"epochs_to_threshold": e,
                  "seconds_to_threshold": [None if x is None else x * spe[m] for x in e],
                  "seeds_reached": sum(x is not None for x in e), "seconds_per_epoch": spe[m]}
              for m, e in epochs.items()}
    return {"models": models, "ranking": list(epochs), "n_seeds": S}


def test_fastest_when_ahead_beyond_the_spread():
    s = speed_observation("Sine", _speed({"GRU": [5, 5, 6], "RNN": [7, 7, 7]}))  # gap 1.67 > sd 0.58
    assert "GRU learns fastest both per epoch and per second" in s


def test_lead_within_the_spread_is_said_so():
    s = speed_observation("Sine", _speed({"GRU": [4, 5, 6], "RNN": [6, 6, 6]}))  # gap 1 == spread 1
    assert "learns fastest" not in s and "within the seed-to-seed spread" in s
    assert "in epochs, GRU and RNN are within" in s and "in seconds, GRU and RNN are within" in s


def test_level_models_are_called_level():
    s = speed_observation("Text", _speed({"GRU": [5, 5, 5], "RNN": [5, 5, 5]}))
    assert "GRU and RNN are level" in s and "learns fastest" not in s


def test_fewest_epochs_but_slower_in_seconds():
    s = speed_observation("Sine", _speed({"GRU": [5, 5, 5], "RNN": [8, 8, 8]}, spe={"GRU": 1.0, "RNN": 0.25}))
    assert "GRU needs the fewest epochs, but an epoch of GRU costs 4.0x one of RNN" in s
    assert "so RNN gets there first in seconds" in s


def test_epochs_separated_seconds_within_the_spread():
    s = speed_observation("Sine", _speed({"GRU": [5, 5, 5], "RNN": [8, 8, 8]}, spe={"GRU": 1.0, "RNN": 0.625}))
    assert "GRU needs the fewest epochs, ahead by more than" in s and "in seconds, GRU and RNN are level" in s


def test_a_model_most_of_whose_seeds_missed_is_not_fastest():
    # GRU is quickest where it got there, but only 1 of 3 seeds did.
    s = speed_observation("Sine", _speed({"GRU": [1, None, None], "LSTM": [5, 5, 5], "RNN": [8, 8, 8]}))
    assert "GRU learns fastest" not in s and "LSTM learns fastest" in s
    assert "GRU reached it in at most half of the 3 seeds, so it is not ranked" in s
    # 2 of 3 is a majority: GRU is ranked again.
    s2 = speed_observation("Sine", _speed({"GRU": [1, 1, None], "LSTM": [5, 5, 5], "RNN": [8, 8, 8]}))
    assert "GRU learns fastest" in s2 and "not ranked" not in s2


def test_exactly_half_of_the_seeds_is_not_most():
    s = speed_observation("Sine", _speed({"GRU": [1, None], "RNN": [3, 3]}, S=2))
    assert s == "Sine: only RNN reached the threshold in most seeds (2/2); GRU reached it in at most half of the 2 seeds, so it is not ranked."


def test_no_model_reached_it_in_most_seeds():
    s = speed_observation("Sine", _speed({"GRU": [1, None, None], "RNN": [None, None, None]}))
    assert "no model reached the threshold in most of its 3 seeds, so none can be called fastest" in s


def test_speed_sentence_from_curves():
    s = _summary(secs={"RNN": 0.01, "LSTM": 0.4, "GRU": 0.3})
    text = " ".join(curve_observations("Sine", "MSE", s))
    assert "GRU needs the fewest epochs" in text and "so RNN gets there first in seconds" in text
    same = _summary(secs=dict(SECS, RNN=0.5))
    assert "GRU learns fastest both per epoch and per second" in " ".join(curve_observations("Sine", "MSE", same))


# ------------------------------------------------------------------------------------------
# Cost, clipping, baselines
# ------------------------------------------------------------------------------------------


def test_cost_sentence():
    (sentence,) = cost_observations("Sine", _summary(), hidden_size=8)
    assert "against RNN (100 parameters" in sentence and "LSTM 4.0x the parameters and 4.0x the time" in sentence


@pytest.mark.parametrize("workers,expected", [
    ([2], ["Times are each run's own training seconds, with 2 runs training side by side in separate "
           "processes, one core each."]),
    ([1], ["Times are each run's own training seconds, one run at a time."]),
    ([1, 2], ["Times are each run's own training seconds; the runs were trained in parts, 1 or 2 side by "
              "side, so their times are not measured alike."]),
    (None, []),  # results saved before the number of workers was recorded say nothing
    (2, ["Times are each run's own training seconds, with 2 runs training side by side in separate "
         "processes, one core each."]),  # one number, as a few commits wrote it
])
def test_timing_sentence_says_how_runs_shared_the_machine(workers, expected):
    timing = {"training_seconds": 10.0} if workers is None else {"training_seconds": 10.0, "workers": workers}
    assert obs.timing_observation(timing) == expected


def test_clipping_sentence():
    (acted,) = clipping_observations("Text", {"RNN": 0.25, "LSTM": 0.0}, {"RNN": 6.0, "LSTM": 1.0}, 5.0)
    assert "RNN 25% (mean norm 6.00)" in acted and "LSTM 0%" in acted
    (never,) = clipping_observations("Text", {"RNN": 0.0}, {"RNN": 1.5}, 5.0)
    assert "never acted" in never and "RNN 1.50" in never
    assert clipping_observations("Text", {"RNN": 0.0}, {"RNN": 1.5}, None) == []


def test_baseline_sentence_says_which_side():
    s = {"models": {"RNN": {"final_val_mean": 0.5}, "GRU": {"final_val_mean": 0.7}, "LSTM": {"final_val_mean": 0.6}}}
    (text,) = baseline_observations("Sine", "copying scores {value}", 0.6, s)
    assert text == ("Sine: copying scores 0.600; RNN ends at 0.500 (below it), GRU ends at 0.700 (not below it), "
                    "LSTM ends at 0.600 (not below it).")


# ------------------------------------------------------------------------------------------
# Why the gated cells win
# ------------------------------------------------------------------------------------------


def _mech(rnn=0.6, lstm=0.9, gru=0.85, r2=0.95, per_seed_sd=0.0, rnn_r2=None):
    def one(f, q):
        return {"grad_factor_per_step": f, "grad_factor_per_seed": [f - per_seed_sd, f, f + per_seed_sd],
                "grad_fit_r2_per_seed": [q, q, q]}

    return {"RNN": one(rnn, r2 if rnn_r2 is None else rnn_r2),
            "LSTM": {**one(lstm, r2), "forget_gate_mean": 0.8, "forget_gate_open_fraction": 0.25},
            "GRU": {**one(gru, r2), "update_gate_mean": 0.7}}


def test_why_sentence_needs_supporting_mechanism_numbers():
    s = _summary()
    text = " ".join(mechanism_observations("Text", s, _mech()))
    assert "why LSTM and GRU beat the RNN" in text and "x0.90" in text
    assert "mean forget gate 0.80, 25% of its values above 0.9" in text
    text2 = " ".join(mechanism_observations("Text", s, _mech(rnn=0.95, lstm=0.6, gru=0.6)))
    assert "does not explain it" in text2 and "why" not in text2
    rnn_best = _summary(finals=dict(FINALS, RNN=0.1))
    text3 = " ".join(mechanism_observations("Sine", rnn_best, _mech()))
    assert "the LSTM and GRU's gating brings no measurable benefit" in text3 and "why" not in text3
    noisy = _summary(spread={k: 0.2 for k in FINALS})
    assert "within the seed spread" in " ".join(mechanism_observations("Sine", noisy, _mech()))


@pytest.mark.parametrize("gap, claimed", [(FACTOR_MARGIN + 0.01, True), (FACTOR_MARGIN - 0.01, False)])
def test_why_needs_a_margin(gap, claimed):
    text = " ".join(mechanism_observations("Text", _summary(), _mech(rnn=0.8, lstm=0.8 + gap, gru=0.8 + gap)))
    assert ("why LSTM and GRU beat" in text) is claimed
    assert ("does not explain it" in text) is not claimed


@pytest.mark.parametrize("sd, claimed", [(0.08, True), (0.12, False)])
def test_why_needs_a_gap_beyond_the_seed_spread(sd, claimed):
    # gap 0.1 against the spread: each cell's per-seed sd is sd/2, so the two added give sd
    text = " ".join(mechanism_observations("Text", _summary(), _mech(rnn=0.7, lstm=0.8, gru=0.8, per_seed_sd=sd / 2)))
    assert ("why LSTM and GRU beat" in text) is claimed


@pytest.mark.parametrize("r2, claimed", [(GOOD_FIT_R2 + 0.01, True), (GOOD_FIT_R2 - 0.01, False)])
def test_why_needs_good_fits(r2, claimed):
    text = " ".join(mechanism_observations("Text", _summary(), _mech(rnn_r2=r2)))
    assert ("why LSTM and GRU beat" in text) is claimed
    assert ("fits of the trained models are poor" in text) is not claimed
    if not claimed:
        assert f"RNN {r2:.2f}" in text


def test_why_without_recorded_fit_quality_claims_nothing():
    mech = _mech()
    for m in mech.values():
        del m["grad_fit_r2_per_seed"]
    text = " ".join(mechanism_observations("Text", _summary(), mech))
    assert "why" not in text and "RNN not recorded" in text


def test_why_when_the_gated_gradient_grows():
    grows = " ".join(mechanism_observations("Text", _summary(), _mech(rnn=0.9, lstm=1 + FLAT_BAND + 0.01,
                                                                         gru=0.8)))
    assert "why" not in grows and "grows back in time" in grows and "as does the RNN" not in grows
    both = " ".join(mechanism_observations("Text", _summary(), _mech(rnn=1.03, lstm=1.2, gru=1.15)))
    assert "why" not in both and "(as does the RNN's)" in both
    flat = " ".join(mechanism_observations("Text", _summary(), _mech(rnn=0.9, lstm=1 + FLAT_BAND - 0.005,
                                                                        gru=1.0)))
    assert "why LSTM and GRU beat" in flat


def test_mechanism_sentence_does_not_overclaim_a_closed_gate():
    models = {"RNN": {"final_val_mean": 2.0, "final_val_std": 0.01}, "GRU": {"final_val_mean": 1.9, "final_val_std": 0.01}}
    summary = {"models": models}
    open_gate = _mech()
    closed = _mech()
    closed["GRU"]["update_gate_mean"] = 0.07
    del open_gate["LSTM"], closed["LSTM"]
    text_open = " ".join(mechanism_observations("Text", summary, open_gate))
    text_closed = " ".join(mechanism_observations("Text", summary, closed))
    assert "why GRU beats" in text_open and "mostly closed" not in text_open
    assert "mostly closed" in text_closed and "0.07" in text_closed


# ------------------------------------------------------------------------------------------
# Gradient flow
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor, r2, expected", [
    (0.6, GOOD_FIT_R2 + 0.01, "shrinks x0.6 per step back in time (vanishing)"),
    (1.01, 0.27, "follows no clear geometric trend (poor fit, R^2 0.27; fitted x1.01 per step)"),
    (0.6, GOOD_FIT_R2 - 0.01, "poor fit"),
    (1 - FLAT_BAND - 0.001, 0.99, "shrinks"),
    (1 - FLAT_BAND + 0.001, 0.99, "stays roughly constant"),
    (1 + FLAT_BAND - 0.001, 0.99, "stays roughly constant"),
    (1 + FLAT_BAND + 0.001, 0.99, "grows"),
    (float("nan"), float("nan"), "cannot be fitted"),
    (0.6, None, "R^2 not recorded"),
])
def test_trend_branches(factor, r2, expected):
    assert expected in trend({"factor_per_step": factor, "r2": r2})


def _gradflow(factors, r2=0.99):
    cells = {}
    for label, f in factors.items():
        entry = {}
        for cond, factor in f.items():
            entry[cond] = {}
            for T in (20, 50):
                norms = (factor ** (T - np.arange(1, T + 1))).tolist()  # x factor per step back
                entry[cond][str(T)] = {"norms": norms, "fit": {"factor_per_step": factor, "r2": r2}}
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
    assert "falls exponentially" not in text2 and "does not fall exponentially" in text2


def test_poor_fits_are_not_quoted_as_rates():
    g = _gradflow({"GRU": {"init": 0.6, "trained": 0.7, "vanishing": 0.5, "exploding": 1.01}}, r2=0.27)
    text = " ".join(gradflow_observations(g))
    assert "x1.01 per step back" not in text and "stays roughly constant" not in text
    assert "poor fit, R^2 0.27" in text
    assert "no exponential law in T is claimed" in " ".join(length_observations(g))


def test_length_sentence_branches_at_the_fit_threshold():
    good = _gradflow({"RNN": {"init": 0.6}}, r2=GOOD_FIT_R2)
    poor = _gradflow({"RNN": {"init": 0.6}}, r2=GOOD_FIT_R2 - 0.01)
    assert "falls exponentially" in " ".join(length_observations(good))
    assert "no exponential law" in " ".join(length_observations(poor))


def test_observations_of_a_whole_metrics_dict():
    """observations(metrics, config) puts every part together in order."""
    from types import SimpleNamespace

    s = _summary()
    curves = {m: {"clipped_fraction": [[0.0, 0.0]], "grad_norm": [[float("nan"), 1.0]]} for m in FINALS}
    task = {**s, "curves": curves, "mechanism": _mech(), "loss": "validation MSE", "copy_last_value_mse": 0.5}
    metrics = {"tasks": {"sine": task},
               "gradflow": _gradflow({"RNN": {"init": 0.6, "trained": 0.7, "vanishing": 0.5, "exploding": 1.3}})}
    out = obs.observations(metrics, SimpleNamespace(sine_hidden=8, text_hidden=16, clip=5.0))
    assert out[0].startswith("Sine: final validation MSE")
    assert any("why LSTM and GRU beat" in o for o in out) and any("never acted" in o for o in out)
    assert any(o.startswith("Sine: copying the last noisy value would score validation MSE 0.500") for o in out)
    assert out[-1].startswith("Jacobian product")
