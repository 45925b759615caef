"""The manual forward pass (exercise 3), recomputed here by hand-written arithmetic."""

import math

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.errors import ShapeError
from rnnlab.exercises.forward_pass import EXERCISE, ForwardPassProblem, forward_engine, forward_loop


def by_hand():
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b), every product written out."""
    h1a = math.tanh(0.6 * 0.5 + (-0.2) * (-1.0) + 0.3 * 0 + 0.4 * 0 + 0.0)
    h1b = math.tanh(0.1 * 0.5 + 0.5 * (-1.0) + (-0.2) * 0 + 0.2 * 0 + 0.1)
    h2a = math.tanh(0.6 * 1.0 + (-0.2) * 0.0 + 0.3 * h1a + 0.4 * h1b + 0.0)
    h2b = math.tanh(0.1 * 1.0 + 0.5 * 0.0 + (-0.2) * h1a + 0.2 * h1b + 0.1)
    h3a = math.tanh(0.6 * (-0.5) + (-0.2) * 0.5 + 0.3 * h2a + 0.4 * h2b + 0.0)
    h3b = math.tanh(0.1 * (-0.5) + 0.5 * 0.5 + (-0.2) * h2a + 0.2 * h2b + 0.1)
    return [[h1a, h1b], [h2a, h2b], [h3a, h3b]]


def test_first_step_by_inspection():
    # a_1 = [0.3 + 0.2, 0.05 - 0.5 + 0.1] = [0.5, -0.35]
    loop = forward_loop(EXERCISE)
    assert loop.pre_activations[0] == pytest.approx((0.5, -0.35), abs=1e-15)
    assert loop.hidden_states[0] == pytest.approx((math.tanh(0.5), math.tanh(-0.35)), abs=1e-15)


def test_loop_and_engine_equal_the_hand_computation():
    expected = np.array(by_hand())
    np.testing.assert_allclose(np.array(forward_loop(EXERCISE).hidden_states), expected, atol=1e-14)
    np.testing.assert_allclose(forward_engine(EXERCISE), expected, atol=1e-14)
    # rounded to 8 decimals, as printed
    assert np.round(expected, 8).tolist() == [[0.46211716, -0.33637554], [0.53994993, 0.04027965],
                                              [-0.21833125, 0.19743869]]


def test_cli_prints_every_state_twice_to_8_decimals(capsys):
    assert main(["exercises", "forward-pass"]) == 0
    out = capsys.readouterr().out
    for t, (a, b) in enumerate(by_hand(), start=1):
        line = f"[{a: .8f}, {b: .8f}]"
        assert f"h_{t} (loop)   = {line}" in out
        assert f"h_{t} (engine) = {line}" in out
    assert "equal to 8 decimals" in out


def test_bad_shapes_raise():
    with pytest.raises(ShapeError, match=r"expected W_xh of shape \(2, 2\)"):
        ForwardPassProblem(xs=((1.0, 2.0),), h0=(0.0, 0.0), W_xh=((1.0,), (1.0,)),
                           W_hh=((0.0, 0.0), (0.0, 0.0)), b=(0.0, 0.0))
