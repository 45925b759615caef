"""Finite-difference proof of the hand-written BPTT (float64)."""

import numpy as np
import pytest

from rnnlab.scratch import GRU, RNN, make_layer
from rnnlab.scratch.gradcheck import check_layer, numerical_gradient, relative_error

CELLS = ["rnn", "lstm", "gru", "gru-cho"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes", [(2, 5, 3, 4), (1, 1, 2, 3), (3, 9, 4, 2)])
def test_every_gradient_matches_finite_differences(cell, sizes):
    N, T, D, H = sizes
    layer = make_layer(cell, D, H, seed=T + D, dtype=np.float64)
    errors = check_layer(layer, N=N, T=T, seed=N + H)
    expected = set(layer.params) | {"x", "h0"} | ({"c0"} if cell == "lstm" else set())
    assert set(errors) == expected
    assert max(errors.values()) < 1e-7, errors


def test_relu_rnn_gradients():
    layer = RNN(3, 4, nonlinearity="relu", seed=1)
    errors = check_layer(layer, N=2, T=4, seed=3)
    assert max(errors.values()) < 1e-7, errors


def test_numerical_gradient_of_known_function():
    x = np.array([0.3, -1.2, 2.0])
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    assert relative_error(grad, exact) < 1e-10
    assert np.array_equal(x, [0.3, -1.2, 2.0])  # restored


def test_relative_error_detects_a_wrong_gradient():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, a * (1 + 1e-3)) > 1e-4


def test_a_broken_backward_is_caught(monkeypatch):
    """The check has teeth: a sign error in one gate makes it fail."""
    from rnnlab.scratch import functional as F

    original = F.gru_backward

    def broken(params, dhs, cache, dh_T=None, truncate=None):
        result = original(params, dhs, cache, dh_T, truncate)
        result.grads["weight_hh_l0"][:4] *= -1  # flip the reset-gate block
        return result

    monkeypatch.setattr(F, "gru_backward", broken)
    errors = check_layer(GRU(3, 4, seed=0), N=2, T=4)
    assert errors["weight_hh_l0"] > 0.1


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [1, 3, 7])
def test_truncated_bptt_equals_sum_of_windowed_bptt(cell, k):
    """With window k, BPTT equals the sum of full BPTT over windows whose incoming state is a
    constant (the forward state still flows across windows, the gradient does not)."""
    layer = make_layer(cell, 2, 3, seed=4)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 2))
    dhs = rng.standard_normal((2, 7, 3))
    hs, cache = layer.forward(x)
    dx, _ = layer.backward(dhs, cache, truncate=k)
    truncated = {name: g.copy() for name, g in layer.grads.items()}

    expected = {name: np.zeros_like(v) for name, v in layer.params.items()}
    expected_dx, state = [], None
    for start in range(0, 7, k):
        hs_w, cache_w = layer.forward(x[:, start:start + k], state)
        np.testing.assert_allclose(hs_w, hs[:, start:start + k], rtol=0, atol=1e-14)
        dx_w, _ = layer.backward(dhs[:, start:start + k], cache_w)
        expected_dx.append(dx_w)
        for name in expected:
            expected[name] += layer.grads[name]
        state = cache_w.final_state
    for name in expected:
        np.testing.assert_allclose(truncated[name], expected[name], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, np.concatenate(expected_dx, axis=1), rtol=1e-12, atol=1e-12)
