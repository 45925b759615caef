"""Q1 gradient flow: decay for small recurrent weights, growth above radius 1, torch cross-check."""

import numpy as np
import pytest
import torch

from rnnlab.analysis.gradflow import (
    fit_decay,
    gate_means,
    grad_norms_last_step,
    jacobian_norms,
    recurrent_radii,
    rescale_recurrent,
    spectral_radius,
)
from rnnlab.errors import ConfigError, ShapeError
from rnnlab.scratch import LSTM, RNN, mse, softmax_cross_entropy
from rnnlab.train.scratch_loop import SeqModel


def _rnn_model(radius, T=30, N=6, D=3, H=12, seed=0):
    model = SeqModel("rnn", D, H, 2, seed=seed, dtype=np.float64)
    model.layer = rescale_recurrent(model.layer, radius)
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((N, T, D))
    y = rng.integers(0, 2, size=(N, T))
    return model, x, y


def test_fit_decay_recovers_a_geometric_factor():
    t = np.arange(1, 41)
    fit = fit_decay(3.0 * 0.8 ** (40 - t))  # 0.8 per step back in time
    assert fit.factor_per_step == pytest.approx(0.8)
    assert fit.r2 == pytest.approx(1.0) and fit.n_points == 40
    grow = fit_decay(1.3 ** (40 - t))
    assert grow.factor_per_step == pytest.approx(1.3)
    partial = fit_decay(np.array([0.0, np.nan, 1e-2, 1e-1, 1.0]))  # zeros and NaN are skipped
    assert partial.n_points == 3 and partial.factor_per_step == pytest.approx(0.1)
    assert np.isnan(fit_decay(np.array([0.0, 1.0])).slope)
    with pytest.raises(ShapeError):
        fit_decay(np.ones((2, 2)))


def test_rnn_gradient_vanishes_with_small_recurrent_weights():
    model, x, y = _rnn_model(radius=0.3)
    norms = grad_norms_last_step(model, x, y, softmax_cross_entropy)
    assert norms.shape == (30,)
    assert norms[0] < 1e-8 * norms[-1]
    assert np.all(np.diff(norms) > 0)  # larger closer to the loss at t = T
    assert fit_decay(norms).factor_per_step < 0.5


def test_rnn_gradient_explodes_above_spectral_radius_one():
    model, x, y = _rnn_model(radius=3.0, H=64)
    assert spectral_radius(model.layer.params["weight_hh_l0"]) == pytest.approx(3.0)
    norms = grad_norms_last_step(model, x, y, softmax_cross_entropy)
    assert norms[0] > 100 * norms[-1]
    assert fit_decay(norms).factor_per_step > 1.1


def test_rescale_recurrent_sets_every_gate_block():
    layer = LSTM(3, 5, seed=1)
    scaled = rescale_recurrent(layer, 1.7)
    np.testing.assert_allclose(recurrent_radii(scaled), [1.7] * 4)
    np.testing.assert_array_equal(scaled.params["weight_ih_l0"], layer.params["weight_ih_l0"])
    assert recurrent_radii(layer) != pytest.approx([1.7] * 4)  # the original is untouched
    with pytest.raises(ConfigError):
        rescale_recurrent(layer, -1.0)


def test_jacobian_norms_match_the_explicit_product_for_the_rnn():
    rng = np.random.default_rng(2)
    layer = RNN(3, 4, seed=2)
    x = rng.standard_normal((2, 6, 3))
    norms = jacobian_norms(layer, x)
    assert norms.shape == (6,) and norms[0] == pytest.approx(1.0)
    hs, _ = layer.forward(x)
    W = layer.params["weight_hh_l0"]
    expected = np.zeros(6)
    for n in range(2):
        J = np.eye(4)
        for k in range(1, 6):  # dh_T/dh_{T-k} = J_T ... J_{T-k+1}, J_s = diag(1 - h_s^2) W
            s = 6 - k  # index of h_{T-k+1} in hs (0-based)
            J = J @ (np.diag(1 - hs[n, s] ** 2) @ W)
            expected[k] += np.linalg.norm(J, 2) / 2
    np.testing.assert_allclose(norms[1:], expected[1:], rtol=1e-10)


def test_gate_means_follow_the_biases():
    layer = LSTM(2, 3, seed=0)
    layer.params["bias_ih_l0"][3:6] = 10.0  # forget gate pinned open
    x = np.random.default_rng(0).standard_normal((2, 5, 2))
    g = gate_means(layer, x)
    assert {"input", "forget", "output", "forget_above_0.9"} <= set(g) and g["forget"] > 0.99
    assert g["forget_above_0.9"] == 1.0
    assert gate_means(RNN(2, 3), x) == {}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_grad_norms_agree_with_torch_autograd(cell):
    """||dL/dh_t|| from the hand-written BPTT equals torch autograd's (h_t with retain_grad)."""
    torch.manual_seed(0)
    N, T, D, H, O = 3, 12, 4, 5, 3
    model = SeqModel(cell, D, H, O, seed=4, dtype=np.float64)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, T, D))
    y = rng.integers(0, O, size=(N, T))
    ours = grad_norms_last_step(model, x, y, softmax_cross_entropy)

    module = model.layer.to_torch()  # float64 copy of the weights
    W = torch.tensor(model.readout.params["weight"], requires_grad=False)
    b = torch.tensor(model.readout.params["bias"])
    xt = torch.tensor(x)
    state = None
    hs = []
    for t in range(T):  # step by step so that every h_t is a tensor in the graph
        _, state = module(xt[:, t : t + 1], state)
        h = state[0] if cell == "lstm" else state
        h.retain_grad()
        hs.append(h)
    logits = hs[-1][0] @ W.T + b  # (N, O): readout on h_T only
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y[:, -1]))
    loss.backward()
    theirs = np.array([(h.grad[0] * N).norm(dim=1).mean().item() for h in hs])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_grad_norms_shape_errors():
    model = SeqModel("rnn", 2, 3, 1, dtype=np.float64)
    with pytest.raises(ShapeError):
        grad_norms_last_step(model, np.zeros((4, 2)), np.zeros((4, 1)), mse)
