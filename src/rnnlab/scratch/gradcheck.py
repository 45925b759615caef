"""Proof that the hand-written gradients are right.

Two independent checks, both in float64:

- :func:`check_layer` compares every gradient the layer's BPTT returns (each parameter, the input
  and the initial state) with centred finite differences of the scalar loss
  L = sum(hs * G) + sum(h_T * G_T) [+ sum(c_T * G_c)], G random upstream gradients;
- :func:`compare_with_torch` copies the weights into ``torch.nn.RNN/LSTM/GRU`` and compares the
  outputs and every gradient with torch autograd on the same loss. The Cho et al. (2014) GRU,
  which torch.nn lacks, is compared with autograd of its torch transcription
  (:func:`cho_gru_torch`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rnnlab.scratch.layers import GRU, LSTM, RNN, RecurrentLayer, make_layer

CHECKED_CELLS = ("rnn", "lstm", "gru", "gru-cho")


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-3) -> float:
    """Worst element-wise relative error max_i |a_i - n_i| / max(|a_i| + |n_i|, floor * s).

    ``s`` is the largest magnitude in the two arrays, so an entry whose gradient is almost zero
    (below ``floor`` times the array's scale) is judged against that scale instead of dividing
    rounding noise by almost nothing.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(n), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor * scale)))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Centred finite differences of ``f`` with respect to every entry of ``x``.

    The five-point stencil f'(x) ~ (-f(x+2e) + 8 f(x+e) - 8 f(x-e) + f(x-2e)) / (12 e) has a
    truncation error of order e^4, so a fairly large step (1e-3) keeps both the truncation error
    and the float64 rounding error near 1e-12. ``x`` is perturbed in place and restored; ``f``
    must read it.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx].copy()
        values = []
        for step in (2.0, 1.0, -1.0, -2.0):
            x[idx] = old + step * eps
            values.append(f())
        x[idx] = old
        f2, f1, fm1, fm2 = values
        grad[idx] = (-f2 + 8.0 * f1 - 8.0 * fm1 + fm2) / (12.0 * eps)
    return grad


class Problem(NamedTuple):
    """A random float64 problem for one layer: inputs, initial state, upstream gradients."""

    x: np.ndarray  # (N, T, D)
    state0: object  # (N, H) or (h0, c0)
    dhs: np.ndarray  # (N, T, H)
    dstate_T: object  # (N, H) or (dh_T, dc_T)


def random_problem(layer: RecurrentLayer, N: int, T: int, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    D, H = layer.input_size, layer.hidden_size

    def r(*shape):
        return rng.standard_normal(shape).astype(layer.dtype)

    if isinstance(layer, LSTM):
        return Problem(r(N, T, D), (r(N, H) * 0.5, r(N, H) * 0.5), r(N, T, H), (r(N, H), r(N, H)))
    return Problem(r(N, T, D), r(N, H) * 0.5, r(N, T, H), r(N, H))


def _loss(layer: RecurrentLayer, p: Problem, x=None, state0=None, truncate=None) -> float:
    hs, cache = layer.forward(p.x if x is None else x, p.state0 if state0 is None else state0)
    loss = float(np.sum(hs * p.dhs))
    final = cache.final_state
    if isinstance(layer, LSTM):
        loss += float(np.sum(final[0] * p.dstate_T[0]) + np.sum(final[1] * p.dstate_T[1]))
    else:
        loss += float(np.sum(final * p.dstate_T))
    return loss


def check_layer(layer: RecurrentLayer, N: int = 2, T: int = 5, seed: int = 0, eps: float = 1e-3) -> dict[str, float]:
    """Max relative error of BPTT against finite differences, per gradient.

    Returns a dict ``{parameter name: error, "x": ..., "h0": ... [, "c0": ...]}``. The layer must be
    float64.
    """
    if layer.dtype != np.float64:
        layer = layer.astype(np.float64)
    p = random_problem(layer, N, T, seed)
    hs, cache = layer.forward(p.x, p.state0)
    dx, dstate0 = layer.backward(p.dhs, cache, p.dstate_T)
    errors: dict[str, float] = {}
    for name, value in layer.params.items():
        num = numerical_gradient(lambda: _loss(layer, p), value, eps)
        errors[name] = relative_error(layer.grads[name], num)
    x = p.x.copy()
    errors["x"] = relative_error(dx, numerical_gradient(lambda: _loss(layer, p, x=x), x, eps))
    if isinstance(layer, LSTM):
        h0, c0 = p.state0[0].copy(), p.state0[1].copy()
        errors["h0"] = relative_error(dstate0[0], numerical_gradient(lambda: _loss(layer, p, state0=(h0, c0)), h0, eps))
        errors["c0"] = relative_error(dstate0[1], numerical_gradient(lambda: _loss(layer, p, state0=(h0, c0)), c0, eps))
    else:
        h0 = p.state0.copy()
        errors["h0"] = relative_error(dstate0, numerical_gradient(lambda: _loss(layer, p, state0=h0), h0, eps))
    return errors


def cho_gru_torch(params: dict, x, h0):
    """The Cho et al. (2014) GRU written directly in torch, for autograd to differentiate.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr), z = sigma(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), h' = (1 - z) * n + z * h.

    Parameters
    ----------
    params : dict of torch tensors
        ``weight_ih_l0`` (3H, D), ``weight_hh_l0`` (3H, H), ``bias_ih_l0``, ``bias_hh_l0`` (3H,).
    x : tensor (N, T, D)
    h0 : tensor (N, H)

    Returns
    -------
    tensor (N, T, H)
    """
    import torch

    from rnnlab.scratch.reference import PARAM_NAMES

    H = h0.shape[1]
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in PARAM_NAMES)
    h, outs = h0, []
    for t in range(x.shape[1]):
        gi = x[:, t] @ W_ih.T + b_ih  # (N, 3H)
        r = torch.sigmoid(gi[:, :H] + h @ W_hh[:H].T + b_hh[:H])
        z = torch.sigmoid(gi[:, H:2 * H] + h @ W_hh[H:2 * H].T + b_hh[H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        h = (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs, 1)


def _cho_reference(layer: GRU, p: Problem):
    """:func:`torch_reference` for the Cho GRU: autograd of :func:`cho_gru_torch`."""
    import torch

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    x = torch.tensor(p.x, requires_grad=True)
    h0 = torch.tensor(p.state0, requires_grad=True)
    ths = cho_gru_torch(tp, x, h0)
    loss = (ths * torch.tensor(p.dhs)).sum() + (ths[:, -1] * torch.tensor(p.dstate_T)).sum()
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in tp.items()}
    grads.update(x=x.grad.numpy(), h0=h0.grad.numpy())
    return ths.detach().numpy(), grads


def torch_reference(layer: RecurrentLayer, p: Problem):
    """Outputs and gradients of the torch module holding ``layer``'s weights, on problem ``p``.

    Returns ``(hs, grads)`` as NumPy arrays in the layer's dtype; grads has the parameter names plus
    ``"x"`` and ``"h0"`` (and ``"c0"``). The Cho GRU is differentiated through its torch
    transcription (:func:`cho_gru_torch`).
    """
    import torch

    if isinstance(layer, GRU) and layer.variant == "cho":
        return _cho_reference(layer, p)

    module = layer.to_torch()
    tdtype = next(module.parameters()).dtype
    x = torch.tensor(p.x, dtype=tdtype, requires_grad=True)
    if isinstance(layer, LSTM):
        h0 = torch.tensor(p.state0[0][None], dtype=tdtype, requires_grad=True)
        c0 = torch.tensor(p.state0[1][None], dtype=tdtype, requires_grad=True)
        hs, (hT, cT) = module(x, (h0, c0))
        loss = (hs * torch.tensor(p.dhs, dtype=tdtype)).sum()
        loss = loss + (hT[0] * torch.tensor(p.dstate_T[0], dtype=tdtype)).sum()
        loss = loss + (cT[0] * torch.tensor(p.dstate_T[1], dtype=tdtype)).sum()
        states = {"h0": h0, "c0": c0}
    else:
        h0 = torch.tensor(p.state0[None], dtype=tdtype, requires_grad=True)
        hs, hT = module(x, h0)
        loss = (hs * torch.tensor(p.dhs, dtype=tdtype)).sum() + (hT[0] * torch.tensor(p.dstate_T, dtype=tdtype)).sum()
        states = {"h0": h0}
    loss.backward()
    grads = {name: getattr(module, name).grad.numpy() for name in layer.params}
    grads["x"] = x.grad.numpy()
    grads.update({k: v.grad[0].numpy() for k, v in states.items()})
    return hs.detach().numpy(), grads


def compare_with_torch(layer: RecurrentLayer, N: int = 3, T: int = 7, seed: int = 0) -> dict[str, float]:
    """Max absolute difference from torch autograd for the outputs (``"hs"``) and every gradient.

    Use a float64 layer for a tight comparison; for float32, divide by the gradients' scale (see
    :func:`compare_with_torch_relative`).
    """
    ours, theirs = _both(layer, N, T, seed)
    return {k: float(np.max(np.abs(ours[k] - theirs[k]))) for k in theirs}


def compare_with_torch_relative(layer: RecurrentLayer, N: int = 3, T: int = 7, seed: int = 0) -> dict[str, float]:
    """Like :func:`compare_with_torch` but ||ours - torch||_max / ||torch||_max per array."""
    ours, theirs = _both(layer, N, T, seed)
    return {
        k: float(np.max(np.abs(ours[k] - theirs[k])) / max(np.max(np.abs(theirs[k])), 1e-30)) for k in theirs
    }


def _both(layer: RecurrentLayer, N: int, T: int, seed: int):
    p = random_problem(layer, N, T, seed)
    hs, cache = layer.forward(p.x, p.state0)
    dx, dstate0 = layer.backward(p.dhs, cache, p.dstate_T)
    ours = {"hs": hs, "x": dx, **{k: v for k, v in layer.grads.items()}}
    if isinstance(layer, LSTM):
        ours["h0"], ours["c0"] = dstate0
    else:
        ours["h0"] = dstate0
    ref_hs, ref_grads = torch_reference(layer, p)
    return ours, {"hs": ref_hs, **ref_grads}


class CellReport(NamedTuple):
    cell: str
    gradcheck: dict[str, float]  # max relative error vs finite differences
    torch_abs: dict[str, float]  # max abs difference vs torch (float64; Cho: its transcription)


def report(N: int = 2, T: int = 6, D: int = 3, H: int = 4, seed: int = 0) -> list[CellReport]:
    """Gradient check and torch parity for every cell, in float64."""
    rows = []
    for cell in CHECKED_CELLS:
        layer = make_layer(cell, D, H, seed=seed, dtype=np.float64)
        grad = check_layer(layer, N=N, T=T, seed=seed)
        parity = compare_with_torch(layer, N=N, T=T, seed=seed)
        rows.append(CellReport(cell, grad, parity))
    return rows


__all__ = [
    "CHECKED_CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "check_layer",
    "cho_gru_torch",
    "compare_with_torch",
    "compare_with_torch_relative",
    "numerical_gradient",
    "relative_error",
    "report",
]
