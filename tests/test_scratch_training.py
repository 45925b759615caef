"""A whole model trained by the engine alone (no autograd) fits a small task."""

import numpy as np
import pytest

from rnnlab.scratch import Adam, Dense, clip_grad_norm, make_layer, mse, softmax_cross_entropy
from rnnlab.scratch.gradcheck import numerical_gradient, relative_error


def _sum_task(seed=0, N=64, T=8):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(N, T, 1))
    y = x.sum(axis=1) / 2.0  # (N, 1): a many-to-one regression that needs memory
    return x, y


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-cho"])
def test_layer_readout_loss_adam_fit_a_small_task(cell):
    x, y = _sum_task()
    layer = make_layer(cell, 1, 16, seed=0)
    readout = Dense(16, 1, seed=1)
    opt = Adam([layer, readout], lr=0.01)
    losses = []
    for _ in range(300):
        hs, cache = layer.forward(x)
        pred, rcache = readout.forward(hs[:, -1])
        loss, dpred = mse(pred, y)
        dh_last = readout.backward(dpred, rcache)
        dhs = np.zeros_like(hs)
        dhs[:, -1] = dh_last
        layer.backward(dhs, cache)
        clip_grad_norm([layer, readout], 5.0)
        opt.step()
        losses.append(loss)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, size=(3, 4))
    loss, dz = softmax_cross_entropy(z, y)
    num = numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z)
    assert relative_error(dz, num) < 1e-8
    assert loss == pytest.approx(-np.mean(np.log(np.exp(z) / np.exp(z).sum(-1, keepdims=True))[
        np.arange(3)[:, None], np.arange(4)[None, :], y]))


def test_dense_gradients():
    rng = np.random.default_rng(0)
    dense = Dense(4, 3, seed=0)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 3))
    y, cache = dense.forward(x)
    dx = dense.backward(g, cache)

    def loss():
        return float(np.sum(dense.forward(x)[0] * g))

    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-8
    for name, p in dense.params.items():
        analytic = dense.grads[name].copy()
        assert relative_error(analytic, numerical_gradient(loss, p)) < 1e-8


def test_clip_grad_norm_scales_to_max_and_reports_norm():
    layer = make_layer("rnn", 2, 3, seed=0)
    for g in layer.grads.values():
        g[...] = 1.0
    total = np.sqrt(sum(g.size for g in layer.grads.values()))
    norm = clip_grad_norm([layer], 1.0)
    assert norm == pytest.approx(total)
    after = np.sqrt(sum(np.sum(g * g) for g in layer.grads.values()))
    assert after == pytest.approx(1.0, rel=1e-9)


def test_float32_forward_backward_stays_float32():
    layer = make_layer("lstm", 3, 4, seed=0, dtype=np.float32)
    hs, cache = layer.forward(np.ones((2, 3, 3)))
    dx, (dh0, dc0) = layer.backward(np.ones_like(hs), cache)
    assert hs.dtype == dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-cho"])
@pytest.mark.parametrize("N", [1, 3])
def test_backward_never_modifies_its_inputs(cell, N):
    layer = make_layer(cell, 2, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((N, 4, 2))
    hs, cache = layer.forward(x)
    dhs = np.ones_like(hs)
    x_before, dhs_before, hs_before = x.copy(), dhs.copy(), hs.copy()
    layer.backward(dhs, cache)
    layer.backward(dhs, cache)  # the cache can be used again
    assert np.array_equal(x, x_before) and np.array_equal(dhs, dhs_before)
    assert np.array_equal(hs, hs_before)


def test_cache_does_not_alias_the_input():
    layer = make_layer("gru", 2, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((1, 4, 2))  # N = 1: the time-major view is contiguous
    hs, cache = layer.forward(x)
    layer.backward(np.ones_like(hs), cache)
    expected = {k: g.copy() for k, g in layer.grads.items()}
    x += 1.0  # the caller changes its array between forward and backward
    layer.backward(np.ones_like(hs), cache)
    for k in expected:
        np.testing.assert_array_equal(layer.grads[k], expected[k])
