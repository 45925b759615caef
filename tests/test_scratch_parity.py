"""Exact agreement with torch.nn.RNN / LSTM / GRU on the same weights (outputs and gradients)."""

import numpy as np
import pytest
import torch

from rnnlab.scratch import GRU, LSTM, RNN
from rnnlab.scratch import functional as F
from rnnlab.scratch.gradcheck import compare_with_torch, compare_with_torch_relative, random_problem

TORCH = {"rnn": (torch.nn.RNN, RNN), "lstm": (torch.nn.LSTM, LSTM), "gru": (torch.nn.GRU, GRU)}
SHAPES = [  # (N, T, D, H)
    (1, 1, 3, 5),  # batch 1, one step
    (1, 13, 2, 2),
    (4, 1, 6, 3),
    (3, 60, 4, 7),  # a long sequence
    (5, 9, 8, 3),  # hidden size != input size
]


@pytest.mark.parametrize("cell", sorted(TORCH))
@pytest.mark.parametrize("shape", SHAPES)
def test_float64_parity_with_torch(cell, shape):
    N, T, D, H = shape
    torch.manual_seed(N * 100 + T + D + H)
    module = TORCH[cell][0](D, H, batch_first=True)
    layer = TORCH[cell][1].from_torch(module)
    assert layer.dtype == np.float64
    diffs = compare_with_torch(layer, N=N, T=T, seed=T)
    assert set(diffs) >= {"hs", "x", "h0", *layer.params}
    assert max(diffs.values()) < 1e-10, diffs


@pytest.mark.parametrize("cell", sorted(TORCH))
def test_float32_parity_with_torch(cell):
    torch.manual_seed(1)
    module = TORCH[cell][0](5, 6, batch_first=True)
    layer = TORCH[cell][1].from_torch(module, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    diffs = compare_with_torch_relative(layer, N=4, T=12, seed=2)
    assert max(diffs.values()) < 1e-4, diffs


def test_relu_rnn_parity():
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
    layer = RNN.from_torch(module)
    assert layer.nonlinearity == "relu"
    assert max(compare_with_torch(layer, N=2, T=8).values()) < 1e-10


def test_from_torch_ignores_batch_first_and_round_trips():
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4)  # time-major module: the weights are the same
    layer = LSTM.from_torch(module)
    back = layer.to_torch()
    assert back.batch_first
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name].numpy(), value.double().numpy())


def _cho_gru_torch(params, x, h0):
    """Cho et al. (2014) GRU written directly in torch, for autograd to differentiate."""
    H = h0.shape[1]
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in F.PARAM_NAMES)
    h, outs = h0, []
    for t in range(x.shape[1]):
        gi = x[:, t] @ W_ih.T + b_ih
        r = torch.sigmoid(gi[:, :H] + h @ W_hh[:H].T + b_hh[:H])
        z = torch.sigmoid(gi[:, H:2 * H] + h @ W_hh[H:2 * H].T + b_hh[H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        h = (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs, 1)


@pytest.mark.parametrize("shape", [(1, 1, 2, 3), (3, 17, 4, 5)])
def test_cho_gru_parity_with_autograd(shape):
    N, T, D, H = shape
    layer = GRU(D, H, variant="cho", seed=T)
    p = random_problem(layer, N, T, seed=1)
    hs, cache = layer.forward(p.x, p.state0)
    dx, dh0 = layer.backward(p.dhs, cache, p.dstate_T)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    x = torch.tensor(p.x, requires_grad=True)
    h0 = torch.tensor(p.state0, requires_grad=True)
    ths = _cho_gru_torch(tp, x, h0)
    loss = (ths * torch.tensor(p.dhs)).sum() + (ths[:, -1] * torch.tensor(p.dstate_T)).sum()
    loss.backward()
    np.testing.assert_allclose(hs, ths.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dh0, h0.grad.numpy(), rtol=0, atol=1e-10)
    for k, v in tp.items():
        np.testing.assert_allclose(layer.grads[k], v.grad.numpy(), rtol=0, atol=1e-10)


def test_cho_and_torch_variants_differ():
    a = GRU(3, 4, seed=0)
    b = GRU(3, 4, seed=0, variant="cho")
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    h0 = np.random.default_rng(1).standard_normal((2, 4))
    assert not np.allclose(a.forward(x, h0)[0], b.forward(x, h0)[0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-cho"])
def test_step_loop_equals_sequence_forward(cell):
    """A hand loop over the pure step, step(params, carry, x_t) -> (carry, h_t), gives the
    sequence wrapper's states."""
    from rnnlab.scratch import make_layer

    layer = make_layer(cell, 3, 4, seed=2)
    x = np.random.default_rng(3).standard_normal((2, 6, 3))
    hs, cache = layer.forward(x)
    carry = (np.zeros((2, 4)), np.zeros((2, 4))) if cell == "lstm" else np.zeros((2, 4))
    for t in range(6):
        if cell == "rnn":
            carry, h = F.rnn_step(layer.params, carry, x[:, t])
        elif cell == "lstm":
            carry, h = F.lstm_step(layer.params, carry, x[:, t])
        else:
            carry, h = F.gru_step(layer.params, carry, x[:, t], variant=layer.variant)
        np.testing.assert_allclose(h, hs[:, t], rtol=0, atol=1e-14)
    final = cache.final_state
    for ours, theirs in zip(carry if cell == "lstm" else (carry,), final if cell == "lstm" else (final,)):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell", sorted(TORCH))
def test_stack_matches_multilayer_torch(cell):
    from rnnlab.scratch import Stack

    torch.manual_seed(5)
    module = TORCH[cell][0](3, 4, num_layers=3, batch_first=True).double()
    stack = Stack.from_torch(module)
    x = np.random.default_rng(0).standard_normal((2, 6, 3))
    g = np.random.default_rng(1).standard_normal((2, 6, 4))
    hs, cache = stack.forward(x)
    dx, _ = stack.backward(g, cache)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = module(xt)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-12)
    for k, layer in enumerate(stack.layers):
        for name, grad in layer.grads.items():
            ref = getattr(module, name[:-1] + str(k)).grad.numpy()
            np.testing.assert_allclose(grad, ref, rtol=0, atol=1e-12)
