"""Gate saturation on real inputs, recomputed from the weights (pure NumPy).

Given a recurrent layer's weights (torch layout, see :mod:`rnnlab.analysis.weights`), the inputs
x_t it saw and the hidden states h_{t-1} it had, :func:`gate_activations` recomputes every gate:

- RNN:  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
- LSTM: i, f, o = sigma(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*),
        g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
- GRU:  r, z = sigma(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*),
        n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))   (torch's variant)

:func:`saturation_fractions` then counts, per gate, the fraction of activations below 0.1
(left-saturated) and above 0.9 (right-saturated) for the sigmoid gates, the measure of Karpathy,
Johnson and Fei-Fei (2015, "Visualizing and understanding recurrent networks"), and the fraction
with |tanh| above 0.95 for the tanh activations (the vanilla RNN's state, the LSTM's g and the
GRU's n). :func:`unit_saturation` gives the same per hidden unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rnnlab.analysis.weights import GATE_NAMES, check_finite
from rnnlab.cells import CELLS
from rnnlab.cells import cell as cell_info
from rnnlab.errors import ConfigError, ShapeError

LOW, HIGH, TANH_LIMIT = 0.1, 0.9, 0.95


def sigmoid_gates(cell: str | None = None) -> tuple[str, ...]:
    """The blocks of ``cell`` that pass through a sigmoid (``CELLS[cell].sigmoid``); without a
    cell, those of every cell in :data:`rnnlab.cells.CELLS` (a letter means the same gate in
    every cell, so ``"f"`` is always a sigmoid and ``"g"`` always a tanh)."""
    if cell is None:
        return tuple(dict.fromkeys(g for c in CELLS.values() for g in c.sigmoid))  # i f o r z
    return cell_info(cell).sigmoid


def sigmoid(a: np.ndarray) -> np.ndarray:
    """sigma(a) = 1 / (1 + exp(-a)), computed without overflow."""
    out = np.empty_like(a, dtype=np.float64)
    pos = a >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-a[pos]))
    ea = np.exp(a[~pos])
    out[~pos] = ea / (1.0 + ea)
    return out


def previous_states(states: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
    """h_{t-1} for every step: [h0, h_1, ..., h_{T-1}] from the states (N, T, H); h0 = 0 by default."""
    states = np.asarray(states)
    if states.ndim != 3:
        raise ShapeError(f"expected hidden states of shape (N, T, H), found {states.shape}")
    first = np.zeros_like(states[:, :1]) if h0 is None else np.asarray(h0)[:, None, :]
    return np.concatenate([first, states[:, :-1]], axis=1)


_PARAMS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def gate_activations(
    cell: str, params: Mapping[str, Any], x: np.ndarray, h_prev: np.ndarray, prefix: str = ""
) -> dict[str, np.ndarray]:
    """Every gate's activation at every step, recomputed from the weights.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    params : mapping
        ``<prefix>weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H), ``bias_ih_l0`` (G*H,),
        ``bias_hh_l0`` (G*H,).
    x : ndarray, shape (N, T, D)
        The layer's inputs.
    h_prev : ndarray, shape (N, T, H)
        The hidden state before each step (see :func:`previous_states`).

    Returns
    -------
    dict
        Gate name -> activations (N, T, H): ``{"h"}`` for RNN, ``{"i","f","g","o"}`` for LSTM,
        ``{"r","z","n"}`` for GRU.
    """
    cell = str(cell).lower()
    if cell not in GATE_NAMES:
        raise ConfigError(f"expected a cell in {tuple(GATE_NAMES)}, found {cell!r}")
    check_finite({k: params[prefix + k] for k in _PARAMS if prefix + k in params}, "the weights")
    w_ih = np.asarray(params[prefix + "weight_ih_l0"], dtype=np.float64)
    w_hh = np.asarray(params[prefix + "weight_hh_l0"], dtype=np.float64)
    b_ih = np.asarray(params[prefix + "bias_ih_l0"], dtype=np.float64)
    b_hh = np.asarray(params[prefix + "bias_hh_l0"], dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    h_prev = np.asarray(h_prev, dtype=np.float64)
    gh_size, d = w_ih.shape
    hidden = w_hh.shape[1]
    if x.ndim != 3 or x.shape[2] != d:
        raise ShapeError(f"expected inputs of shape (N, T, {d}), found {x.shape}")
    if h_prev.shape != (*x.shape[:2], hidden):
        raise ShapeError(
            f"expected previous states of shape {(*x.shape[:2], hidden)}, found {h_prev.shape}"
        )
    gates, sigmoid_blocks = CELLS[cell].gates, CELLS[cell].sigmoid
    if gh_size != len(gates) * hidden:
        raise ShapeError(
            f"expected {len(gates)}*{hidden} rows in weight_ih_l0 for {cell}, found {gh_size}"
        )
    pre_x = x @ w_ih.T + b_ih  # (N, T, G*H): W_ih x_t + b_ih, gate blocks side by side
    pre_h = h_prev @ w_hh.T + b_hh  # (N, T, G*H): W_hh h_{t-1} + b_hh
    out: dict[str, np.ndarray] = {}
    for k, g in enumerate(gates):
        block = slice(k * hidden, (k + 1) * hidden)
        ax, ah = pre_x[..., block], pre_h[..., block]  # (N, T, H)
        if g in sigmoid_blocks:
            out[g] = sigmoid(ax + ah)  # sigma(W_i x + b_i + W_h h + b_h)
        elif cell == "gru":
            out[g] = np.tanh(ax + out["r"] * ah)  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        else:
            out[g] = np.tanh(ax + ah)  # g (LSTM) or h (RNN)
    return out


def _flatten(acts: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(N, T, H) activations -> (M, H) rows of real steps."""
    if mask is None:
        return acts.reshape(-1, acts.shape[-1])
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != acts.shape[:2]:
        raise ShapeError(f"expected a mask of shape {acts.shape[:2]}, found {mask.shape}")
    return acts[mask]


def saturation_fractions(
    activations: Mapping[str, np.ndarray],
    mask: np.ndarray | None = None,
    low: float = LOW,
    high: float = HIGH,
    tanh_limit: float = TANH_LIMIT,
    cell: str | None = None,
) -> dict[str, dict[str, float]]:
    """Fractions of saturated activations per gate (sigmoid or tanh as :func:`sigmoid_gates`
    of ``cell`` says).

    Returns
    -------
    dict
        Sigmoid gates: ``{"low": P(a < low), "high": P(a > high)}``; tanh activations:
        ``{"tanh": P(|a| > tanh_limit)}``. Fractions over all units and real steps (``mask``
        (N, T) marks the real steps of padded sequences).
    """
    out: dict[str, dict[str, float]] = {}
    sigmoid_blocks = sigmoid_gates(cell)
    for g, acts in activations.items():
        flat = _flatten(np.asarray(acts), mask)
        if flat.size == 0:
            raise ShapeError(f"expected at least one activation of gate {g}, found none")
        if g in sigmoid_blocks:
            out[g] = {"low": float(np.mean(flat < low)), "high": float(np.mean(flat > high))}
        else:
            out[g] = {"tanh": float(np.mean(np.abs(flat) > tanh_limit))}
    return out


def unit_saturation(
    activations: Mapping[str, np.ndarray],
    mask: np.ndarray | None = None,
    low: float = LOW,
    high: float = HIGH,
    tanh_limit: float = TANH_LIMIT,
    cell: str | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Per hidden unit: fraction of steps left/right-saturated (sigmoid) or |tanh| > limit.

    Returns gate -> {"low": (H,), "high": (H,)} or {"tanh": (H,)}.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    sigmoid_blocks = sigmoid_gates(cell)
    for g, acts in activations.items():
        flat = _flatten(np.asarray(acts), mask)
        if g in sigmoid_blocks:
            out[g] = {"low": np.mean(flat < low, axis=0), "high": np.mean(flat > high, axis=0)}
        else:
            out[g] = {"tanh": np.mean(np.abs(flat) > tanh_limit, axis=0)}
    return out
