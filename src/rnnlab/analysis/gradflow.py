"""Gradient flow through time, measured with the NumPy engine's hand-written BPTT.

Three measurements, all in float64 and all from the engine's own backward pass (no autograd):

- :func:`grad_norms_last_step`: put a loss on the **last** step only, L = loss(y_T), run BPTT
  and read the total gradient reaching every hidden state, g_t = dL/dh_t (the engine returns it
  with ``return_dh=True``). The curve ||g_t|| against t shows how much of the final error signal
  reaches step t: flat means it survives, a line sloping down towards t = 1 on a log scale means
  it vanishes geometrically, one sloping up means it explodes.
- :func:`jacobian_norms`: the spectral norm of the Jacobian product
  dh_T/dh_t = prod_{s=t+1..T} dh_s/dh_{s-1}, against the lag T - t. It is computed exactly by
  backpropagating each unit vector e_j from h_T (one replica of the sequence per hidden unit):
  the gradient reaching h_t is row j of dh_T/dh_t. For the LSTM this is the derivative with
  respect to h_t with the cell state c_t held fixed (the paths through c_{t+1}, c_{t+2}, ... are
  included).
- :func:`fit_decay`: a least-squares line through log ||g_t|| against t; its slope b gives the
  factor exp(-b) by which the gradient is multiplied per step going back in time (< 1 vanishing,
  > 1 exploding).

:func:`rescale_recurrent` sets the spectral radius of each gate block of W_hh, to produce the
vanishing (small radius) and exploding (radius above 1) regimes on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnlab.cells import CELLS, GATE_LABELS
from rnnlab.errors import ConfigError, ShapeError

OPEN_GATE = 0.9  # a gate value above this counts as "open" in gate_means
TINY = 1e-300  # norms below this (float64 underflow) are left out of the decay fit

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class DecayFit:
    """A least-squares fit log ||g_t|| = a + b t over the steps with a usable norm.

    Attributes
    ----------
    slope : float
        b, the change of the natural log of the norm per step forward in time.
    factor_per_step : float
        exp(-b): the norm is multiplied by this per step going back in time (< 1: vanishing,
        > 1: exploding).
    intercept : float
        a.
    r2 : float
        Coefficient of determination of the fit (1 = a perfect geometric decay or growth).
    n_points : int
        Steps used (norms finite and above :data:`TINY`).
    """

    slope: float
    factor_per_step: float
    intercept: float
    r2: float
    n_points: int

    def to_dict(self) -> dict:
        return {k: float(v) if k != "n_points" else int(v) for k, v in self.__dict__.items()}


def fit_decay(norms: np.ndarray, steps: np.ndarray | None = None) -> DecayFit:
    """Fit log(norm) = a + b * step by least squares.

    Parameters
    ----------
    norms : ndarray, (T,)
        Positive gradient norms; zeros, underflows and non-finite values are skipped.
    steps : ndarray, (T,), optional
        The step of each norm; 1..T by default.

    Returns
    -------
    DecayFit
        NaN fields when fewer than two usable points remain.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1:
        raise ShapeError(f"expected a 1-D array of norms, found shape {norms.shape}")
    steps = np.arange(1, len(norms) + 1, dtype=np.float64) if steps is None else np.asarray(steps, np.float64)
    if steps.shape != norms.shape:
        raise ShapeError(f"expected steps of shape {norms.shape}, found {steps.shape}")
    ok = np.isfinite(norms) & (norms > TINY)
    if ok.sum() < 2:
        nan = float("nan")
        return DecayFit(nan, nan, nan, nan, int(ok.sum()))
    t, y = steps[ok], np.log(norms[ok])
    b, a = np.polyfit(t, y, 1)  # y ~ a + b t
    resid = y - (a + b * t)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return DecayFit(float(b), float(np.exp(-b)), float(a), r2, int(ok.sum()))


def grad_norms_last_step(model, x: np.ndarray, target: np.ndarray, loss_fn: LossFn) -> np.ndarray:
    """||dL/dh_t|| for every step t, for a loss on the last step only.

    Parameters
    ----------
    model
        Has ``forward(x) -> (out (N, T, O), cache)`` and
        ``backward(dout, cache, return_dh=True) -> dh (N, T, H)`` (a
        :class:`~rnnlab.train.scratch_loop.SeqModel`).
    x : ndarray, (N, T, D)
        Input sequences.
    target : ndarray, (N, T, ...)
        Targets; only those of the last step are used.
    loss_fn : callable
        ``loss_fn(out_T, target_T) -> (loss, dout_T)``, the mean over the N sequences.

    Returns
    -------
    norms : ndarray, (T,)
        Mean over the N sequences of ||dL_n/dh_t|| (the per-sequence loss L_n, i.e. the batch-mean
        gradient times N), for t = 1..T.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ShapeError(f"expected x of shape (N, T, D), found {x.shape}")
    N = x.shape[0]
    out, cache = model.forward(x)  # (N, T, O)
    _, dout_T = loss_fn(out[:, -1], np.asarray(target)[:, -1])  # loss on h_T's output only
    dout = np.zeros_like(out)
    dout[:, -1] = dout_T
    dh = model.backward(dout, cache, return_dh=True)  # (N, T, H) total dL/dh_t
    per_sequence = np.linalg.norm(dh * N, axis=2)  # (N, T)
    return per_sequence.mean(axis=0)


def jacobian_norms(layer, x: np.ndarray) -> np.ndarray:
    """Spectral norm of dh_T/dh_t against the lag T - t, from the engine's BPTT.

    Parameters
    ----------
    layer
        A recurrent layer of :mod:`rnnlab.scratch` (``forward``/``backward(..., return_dh=True)``).
    x : ndarray, (N, T, D)
        Input sequences (keep N small: the work is that of N * H sequences).

    Returns
    -------
    norms : ndarray, (T,)
        Entry k is the mean over the N sequences of ||dh_T/dh_{T-k}||_2, k = 0..T-1 (k = 0 is the
        identity, norm 1).
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ShapeError(f"expected x of shape (N, T, D), found {x.shape}")
    N, T, _ = x.shape
    H = layer.hidden_size
    x_rep = np.repeat(x, H, axis=0)  # (N*H, T, D): replica j of sequence n seeds unit e_j
    hs, cache = layer.forward(x_rep)
    dhs = np.zeros_like(hs)  # (N*H, T, H)
    dhs[:, -1, :] = np.tile(np.eye(H, dtype=hs.dtype), (N, 1))  # e_j on h_T
    _, _, dh = layer.backward(dhs, cache, return_dh=True)  # rows of dh_T/dh_t
    J = dh.reshape(N, H, T, H).transpose(2, 0, 1, 3)  # (T, N, H, H): J[t, n] = dh_T/dh_t
    spectral = np.linalg.norm(J, ord=2, axis=(2, 3))  # (T, N)
    return spectral.mean(axis=1)[::-1].copy()  # by lag k = T - t


def spectral_radius(W: np.ndarray) -> float:
    """max |eigenvalue| of a square matrix."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ShapeError(f"expected a square matrix, found shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def recurrent_radii(layer) -> list[float]:
    """Spectral radius of each gate block W_h* (H, H) of ``weight_hh_l0`` (G*H, H)."""
    W = layer.params["weight_hh_l0"]
    H = layer.hidden_size
    return [spectral_radius(W[g * H : (g + 1) * H]) for g in range(W.shape[0] // H)]


def rescale_recurrent(layer, radius: float):
    """A copy of ``layer`` with every gate block of W_hh scaled to spectral radius ``radius``.

    For the vanilla RNN this is W_hh itself; for the LSTM each of W_hi, W_hf, W_hg, W_ho, for the
    GRU each of W_hr, W_hz, W_hn. Input weights and biases are unchanged.
    """
    if not (np.isfinite(radius) and radius > 0):
        raise ConfigError(f"expected a spectral radius > 0, found {radius!r}")
    other = layer.astype(layer.dtype)  # a copy
    W = other.params["weight_hh_l0"]
    H = layer.hidden_size
    for g in range(W.shape[0] // H):
        block = W[g * H : (g + 1) * H]
        rho = spectral_radius(block)
        if rho > 0:
            block *= radius / rho
    return other


def gate_means(layer, x: np.ndarray) -> dict[str, float]:
    """Mean activation of each sigmoid gate over all units, steps and sequences of ``x``.

    Also the fraction of gate values above :data:`OPEN_GATE` (``"forget_above_0.9"`` ...): units
    whose forget (LSTM) or update (GRU) gate is that open copy most of their previous state.

    Recomputed from the public parameters and the hidden states of ``layer.forward(x)``:
    a_t = W_ih x_t + b_ih + W_hh h_(t-1) + b_hh, gate = sigma(a_t block). The gates are the
    sigmoid blocks of :data:`rnnlab.cells.CELLS`: LSTM ``input``, ``forget``, ``output``; GRU
    ``reset``, ``update``; vanilla RNN: none (empty dict).

    Parameters
    ----------
    layer
        A recurrent layer of :mod:`rnnlab.scratch`.
    x : ndarray, (N, T, D)
    """
    spec = CELLS.get(getattr(layer, "cell", ""))
    # gate name ("forget") -> its block in PyTorch's row order, from the one table of cells
    blocks = {GATE_LABELS[g].split()[0]: spec.gates.index(g) for g in spec.sigmoid} if spec else {}
    if not blocks:
        return {}
    hs, _ = layer.forward(x)  # (N, T, H)
    H = layer.hidden_size
    h_prev = np.concatenate([np.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)  # h_0..h_(T-1)
    p = layer.params
    out = {}
    for name, g in blocks.items():
        rows = slice(g * H, (g + 1) * H)
        a = (x @ p["weight_ih_l0"][rows].T + p["bias_ih_l0"][rows]
             + h_prev @ p["weight_hh_l0"][rows].T + p["bias_hh_l0"][rows])  # (N, T, H)
        gate = 1.0 / (1.0 + np.exp(-a))
        out[name] = float(np.mean(gate))
        out[f"{name}_above_{OPEN_GATE:g}"] = float(np.mean(gate > OPEN_GATE))
    return out
