"""Q1 findings, limitations and the correctness sentences: fabricated measurements on each side of
every threshold decide which findings are chosen."""

import numpy as np
import pytest

from rnnlab.analysis.insights import RunCurves, summarize_runs
from rnnlab.observations import q1 as obs
from rnnlab.observations.q1 import (
    CLIPPED_MOST,
    GRADCHECK_TOLERANCE,
    MAX_FINDINGS,
    REACH_RATIO,
    TORCH_TOLERANCE,
    correctness_observations,
    findings,
    limitations,
)

LABELS = ("RNN", "LSTM", "GRU")


def _task(finals, spread=0.001, clipped=0.0, S=3, E=10):
    """A task summary (as metrics.json holds it) whose curves end at ``finals`` +- ``spread``."""
    runs = {}
    for label, final in finals.items():
        e = np.arange(E + 1)
        base = final + (1.0 - final) * np.exp(-0.5 * e)
        val = base[None, :] + np.linspace(-spread, spread, S)[:, None]
        runs[label] = RunCurves(val, np.tile(e * 0.1, (S, 1)), 100, val + 0.01)
    out = summarize_runs(runs)
    out["loss"] = "loss"
    out["curves"] = {lb: {"clipped_fraction": np.full((S, E + 1), clipped).tolist(),
                          "grad_norm": np.ones((S, E + 1)).tolist()} for lb in finals}
    return out


def _correctness(fd=1e-10, torch=1e-15):
    cells = {}
    for cell, label in (("rnn", "RNN (tanh)"), ("lstm", "LSTM"), ("gru", "GRU (PyTorch variant)"),
                        ("gru-cho", "GRU (Cho et al. 2014 variant)")):
        names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "x", "h0"]
        cells[cell] = {"label": label, "torch_reference": "torch",
                       "finite_differences": {n: 1e-12 for n in names},
                       "torch": {n: 1e-17 for n in ["hs", *names]}}
    cells["lstm"]["finite_differences"]["weight_hh_l0"] = fd
    cells["gru-cho"]["torch"]["x"] = torch
    return {"dtype": "float64", "N": 2, "T": 6, "D": 3, "H": 4, "seed": 0, "cells": cells}


def _fit(factor, r2=0.99):
    return {"factor_per_step": factor, "r2": r2}


def _gradflow(first_trained=None, exploding=None, T=20):
    first_trained = first_trained or {"RNN": 1e-3, "LSTM": 2e-3, "GRU": 3e-3}
    exploding = exploding or {lb: _fit(1.3) for lb in LABELS}
    cells = {lb: {"trained": {str(T): {"norms": [first_trained[lb]] + [1.0] * (T - 1), "fit": _fit(0.9)}},
                  "exploding": {str(T): {"norms": [1.0] * T, "fit": exploding[lb]}}} for lb in LABELS}
    return {"lengths": [10, T], "vanishing_radius": 0.5, "exploding_radius": 3.0, "cells": cells}


GOOD = {"RNN": 0.30, "LSTM": 0.20, "GRU": 0.10}  # every gap beyond the spread; all below the baselines


def _metrics(sine=None, text=None, correctness="default", gradflow=None):
    m = {"tasks": {"sine": {**_task(sine or GOOD), "copy_last_value_mse": 0.5},
                   "text": {**_task(text or GOOD), "unigram_entropy_nats": 0.5}},
         "gradflow": gradflow or _gradflow(),
         "text_source": {"name": "fortunes"}}
    if correctness == "default":
        m["correctness"] = _correctness()
    elif correctness is not None:
        m["correctness"] = correctness
    return m


def _topics(found):
    return [f.topic for f in found]


def test_passing_run_gives_effects_and_the_engine_check():
    found = findings(_metrics())
    assert 3 <= len(found) <= MAX_FINDINGS
    texts = " ".join(f.text for f in found)
    assert "Sine: GRU ends at loss 0.1" in texts and "Text: GRU ends" in texts  # the largest gap per task
    assert "hand-written BPTT passes" in texts
    topics = _topics(found)
    assert topics.index("correctness") > max(i for i, t in enumerate(topics) if t == "loss")  # confirmed: last
    assert not any("FAILED" in f.text for f in found)


def test_a_failed_gradient_check_comes_first():
    found = findings(_metrics(correctness=_correctness(fd=2 * GRADCHECK_TOLERANCE)))
    assert found[0].topic == "correctness" and "FAILED for LSTM weight_hh_l0" in found[0].text
    found = findings(_metrics(correctness=_correctness(torch=2 * TORCH_TOLERANCE)))
    assert found[0].topic == "correctness" and "x (torch)" in found[0].text
    found = findings(_metrics(correctness=_correctness(fd=0.5 * GRADCHECK_TOLERANCE, torch=0.5 * TORCH_TOLERANCE)))
    assert found[0].topic != "correctness"
    assert any(f.topic == "correctness" and "passes" in f.text for f in found)


def test_a_model_at_the_baseline_is_a_failed_goal():
    found = findings(_metrics(sine={"RNN": 0.6, "LSTM": 0.5, "GRU": 0.1}))
    assert "Sine: LSTM and RNN end at or above the no-learning baseline" in found[0].text  # best first
    below = findings(_metrics(sine={"RNN": 0.49, "LSTM": 0.48, "GRU": 0.1}))
    assert not any("baseline" in f.text for f in below)


def test_the_rnn_beating_a_gated_cell_is_against_expectation():
    found = findings(_metrics(text={"RNN": 0.10, "LSTM": 0.20, "GRU": 0.15}))
    assert found[0].text.startswith("Text: against expectation the plain RNN ends below the LSTM")
    within = findings(_metrics(text={"RNN": 0.10, "LSTM": 0.11, "GRU": 0.12}))  # gaps 0.01, spread ~0.002
    assert not any("against expectation" in f.text for f in findings(_metrics()))
    assert any("against expectation" in f.text for f in within)


def test_no_gap_beyond_the_spread_says_the_seeds_do_not_separate():
    tied = findings(_metrics(text={"RNN": 0.20, "LSTM": 0.20, "GRU": 0.20}))
    assert any(f.text.startswith("Text: the 3 seeds do not separate") for f in tied)


@pytest.mark.parametrize("share, chosen", [(CLIPPED_MOST + 0.1, True), (CLIPPED_MOST - 0.1, False)])
def test_clipping_on_most_updates_is_a_finding(share, chosen):
    m = _metrics()
    m["tasks"]["text"] = {**_task(GOOD, clipped=share), "unigram_entropy_nats": 0.5}
    assert ("clipping" in _topics(findings(m))) is chosen


@pytest.mark.parametrize("ratio, effect", [(REACH_RATIO * 2, True), (REACH_RATIO / 2, False)])
def test_reach_of_the_trained_gradient(ratio, effect):
    gradflow = _gradflow(first_trained={"RNN": 1e-4, "LSTM": 1e-4 * ratio, "GRU": 2e-4})
    text = " ".join(f.text for f in findings(_metrics(gradflow=gradflow)) if f.topic == "gradflow")
    if effect:
        assert f"{ratio:.0f}x larger in the LSTM than in the RNN" in text
    else:
        assert "" == text or "within a factor" in text  # confirmed: may be crowded out
    sentence = next(f for f in obs._gradflow_findings(gradflow) if f[1].topic == "gradflow")
    assert sentence[0] == (obs.EFFECT if effect else obs.CONFIRMED)


def test_a_cell_that_does_not_explode_is_a_surprise():
    grows = obs._gradflow_findings(_gradflow())
    assert (obs.CONFIRMED, "vanishing") in [(p, f.topic) for p, f in grows]
    mixed = _gradflow(exploding={"RNN": _fit(1.3), "LSTM": _fit(0.99), "GRU": _fit(1.3, r2=0.2)})
    ((p, f),) = [x for x in obs._gradflow_findings(mixed) if x[1].topic == "vanishing"]
    assert p == obs.SURPRISE
    assert "explode in RNN x1.30" in f.text and "not in LSTM x0.99, GRU x1.30 (poor fit)" in f.text


def test_at_most_six_and_the_engine_check_is_always_kept():
    m = _metrics(sine={"RNN": 0.6, "LSTM": 0.7, "GRU": 0.8}, text={"RNN": 0.6, "LSTM": 0.7, "GRU": 0.8},
                 gradflow=_gradflow(exploding={lb: _fit(0.9) for lb in LABELS}))
    for t in m["tasks"].values():
        t["curves"] = _task(GOOD, clipped=0.9)["curves"]
    found = findings(m)
    assert len(found) == MAX_FINDINGS
    assert found[-1].topic == "correctness"


def test_findings_without_the_correctness_part():
    found = findings(_metrics(correctness=None))
    assert 3 <= len(found) and "correctness" not in _topics(found)


def test_correctness_sentences_both_branches():
    ok = correctness_observations(_correctness(fd=3e-9, torch=4e-16))
    assert "worst relative error against centred finite differences is 3.0e-09 (LSTM, weight_hh_l0)" in ok[0]
    assert "below the tolerance 1e-07" in ok[0]
    assert "4.0e-16 (GRU (Cho et al. 2014 variant), x" in ok[1] and "below the tolerance 1e-10" in ok[1]
    bad = correctness_observations(_correctness(fd=1e-3, torch=1e-6))
    assert bad[0].startswith("Gradient check FAILED") and "LSTM weight_hh_l0" in bad[0]
    assert bad[1].startswith("Torch parity FAILED") and "1.0e-06" in bad[1]
    nan = _correctness()
    nan["cells"]["rnn"]["finite_differences"]["x"] = float("nan")
    assert correctness_observations(nan)[0].startswith("Gradient check FAILED")


def test_tolerances_are_those_of_the_gradcheck_command():
    from rnnlab.commands import gradcheck

    assert (GRADCHECK_TOLERANCE, TORCH_TOLERANCE) == (gradcheck.TOLERANCE_FD, gradcheck.TOLERANCE_TORCH)


@pytest.mark.parametrize("profile, source, correctness, expected", [
    ("default", "fortunes", "default", []),
    ("quick", "fortunes", "default", ["quick profile"]),
    ("default", "python-docs", "default", ["fallback text"]),
    ("default", "file", None, ["no gradient check"]),
    ("default", "fortunes", _correctness(fd=1.0), ["gradient check failed"]),
])
def test_limitations(profile, source, correctness, expected):
    m = _metrics(correctness=correctness)
    m["text_source"]["name"] = source
    got = limitations(m, {"profile": profile})
    assert len(got) == len(expected)
    for phrase, want in zip(got, expected):
        assert phrase.startswith(want)
    if source == "python-docs":
        assert "Zen of Python" in got[0] and "Debian fortunes" in got[0]
