"""Recurrent cells in plain NumPy: forward passes and hand-written backpropagation through time.

Everything here is a pure function of its arguments: parameters come in a dict named and laid
out exactly like PyTorch's single-layer ``state_dict`` (``weight_ih_l0`` (G*H, D),
``weight_hh_l0`` (G*H, H), ``bias_ih_l0`` (G*H,), ``bias_hh_l0`` (G*H,)), gate blocks in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so weights copy to and from torch without
transposes. There is no clipping, random state or optimiser state in here.

Shapes: N batch, T time steps, D input features, H hidden units, G gates (RNN 1, LSTM 4, GRU 3).
The sequence functions take and return time-major arrays (x (T, N, D), hs (T, N, H));
:mod:`rnnlab.scratch.layers` converts from batch-first.

Each cell has

- a pure step ``*_step(params, x_t, state) -> state``: the textbook equations for one step, on
  (N, D) and (N, H) arrays; any loop can drive it;
- a sequence forward ``*_forward(params, x, state0) -> (hs, cache)``, and
- ``*_backward(params, dhs, cache, dstate_T=None, truncate=None) -> BPTT``: BPTT with a
  ``dh_next`` carry running from the last step to the first.

How the sequence functions are laid out for speed (the mathematics is the step's):

- the input projections W_ih x_t + b of all steps are one matrix product before the loop;
- inside the loop states are kept *feature-major*, h_t as an (H, N) array, so a gate
  pre-activation W_hh h_{t-1} is one (G*H, H) @ (H, N) product whose gate blocks are
  contiguous row blocks: every nonlinearity runs over one contiguous block;
- sigmoid gates are computed as sigma(a) = (1 + tanh(a / 2)) / 2 with the factor 1/2 folded
  into their weight rows, so one ``tanh`` call covers all gates of a step;
- the LSTM's gate blocks are reordered internally to i, f, o, g (the three sigmoid gates first);
  parameters and gradients stay in torch's i, f, g, o.

Truncated BPTT with window ``k`` (``truncate=k``) cuts the gradient carried through the
recurrence at every window boundary (between steps k-1 and k, 2k-1 and 2k, ...): the forward
state still flows across, the gradient does not. ``truncate=None`` is full BPTT.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.errors import ConfigError

Params = dict[str, np.ndarray]

W_IH, W_HH, B_IH, B_HH = "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"
PARAM_NAMES = (W_IH, W_HH, B_IH, B_HH)

GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function, computed stably as sigma(a) = (1 + tanh(a / 2)) / 2."""
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


class BPTT(NamedTuple):
    """What backpropagation through time returns.

    Attributes
    ----------
    dx : ndarray, (T, N, D)
        Gradient of the loss with respect to the inputs.
    dstate0 : ndarray (N, H) or tuple of two
        Gradient with respect to the initial state (``(dh0, dc0)`` for the LSTM).
    grads : dict
        Gradient of every parameter, keyed like the parameters.
    dh : ndarray, (T, N, H)
        Total gradient dL/dh_t reaching each hidden state h_1..h_T: the direct term from the loss
        at step t plus what flows back from later steps (within the truncation window).
    """

    dx: np.ndarray
    dstate0: object
    grads: Params
    dh: np.ndarray


def _check_truncate(truncate: int | None) -> None:
    if truncate is not None and (not isinstance(truncate, (int, np.integer)) or truncate < 1):
        raise ConfigError(f"expected truncate to be None or an int >= 1, found {truncate!r}")


def _cut(t: int, truncate: int | None) -> bool:
    """True when the gradient must not flow from step t back to step t - 1 (t = 0 feeds h_0)."""
    return truncate is not None and t > 0 and t % truncate == 0


def _fm(a: np.ndarray) -> np.ndarray:
    """(T, N, F) time-major -> (T, F, N) feature-major: always a new C-contiguous array, never a view."""
    return a.transpose(0, 2, 1).copy(order="C")


def _tm(a: np.ndarray) -> np.ndarray:
    """(T, F, N) feature-major -> (T, N, F) time-major: always a new C-contiguous array, never a view."""
    return a.transpose(0, 2, 1).copy(order="C")


def _input_projection(W_ih: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    """W_ih x_t + bias for every step before the loop: (G*H, D), (G*H,), (T, N, D) -> (T, G*H, N)."""
    xw = np.matmul(W_ih, x.transpose(0, 2, 1))  # (G*H, D) @ (T, D, N): feature-major directly
    xw += bias[:, None]
    return xw


def _input_grads(W_ih: np.ndarray, dA: np.ndarray, x: np.ndarray):
    """From dA (T, G*H, N), the gradient reaching W_ih x_t + b_ih: dx (T, N, D), dW_ih, db_ih."""
    dx = _tm(np.matmul(W_ih.T, dA))  # (D, G*H) @ (T, G*H, N) -> (T, D, N) -> (T, N, D)
    dW_ih = np.matmul(dA, x).sum(axis=0)  # sum_t da_t x_t^T                  (G*H, D)
    return dx, dW_ih, dA.sum(axis=(0, 2))


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


class RNNCache(NamedTuple):
    """Saved by :func:`rnn_forward` for :func:`rnn_backward` (feature-major states)."""

    x: np.ndarray  # (T, N, D) inputs
    h: np.ndarray  # (T+1, H, N) states h_0..h_T
    nonlinearity: str


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ConfigError(f"expected nonlinearity 'tanh' or 'relu', found {nonlinearity!r}")
    return nonlinearity


def rnn_step(params: Params, x_t: np.ndarray, h_prev: np.ndarray, nonlinearity="tanh"):
    """One step: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). x_t (N, D), h_prev (N, H)."""
    a = x_t @ params[W_IH].T + params[B_IH] + h_prev @ params[W_HH].T + params[B_HH]
    return np.tanh(a) if _check_nonlinearity(nonlinearity) == "tanh" else np.maximum(a, 0.0)


def rnn_forward(params: Params, x: np.ndarray, h0: np.ndarray, nonlinearity: str = "tanh"):
    """Run a vanilla RNN over a sequence.

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H), ``bias_ih_l0`` (H,), ``bias_hh_l0`` (H,).
    x : ndarray, (T, N, D)
    h0 : ndarray, (N, H)

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T.
    cache : RNNCache
    """
    _check_nonlinearity(nonlinearity)
    T, N, _ = x.shape
    W_hh = params[W_HH]
    H = W_hh.shape[0]
    xw = _input_projection(params[W_IH], params[B_IH] + params[B_HH], x)  # (T, H, N)
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    h[0] = h0.T
    for t in range(T):
        a = np.matmul(W_hh, h[t], out=h[t + 1])  # W_hh h_{t-1}
        a += xw[t]  #                                + W_ih x_t + b
        if nonlinearity == "tanh":
            np.tanh(a, out=a)  # h_t = tanh(a_t)
        else:
            np.maximum(a, 0.0, out=a)  # h_t = max(a_t, 0)
    return _tm(h[1:]), RNNCache(x, h, nonlinearity)


def rnn_backward(
    params: Params,
    dhs: np.ndarray,
    cache: RNNCache,
    dh_T: np.ndarray | None = None,
    truncate: int | None = None,
) -> BPTT:
    """BPTT for :func:`rnn_forward`. dhs (T, N, H) is dL/dh_t from the loss at each step."""
    _check_truncate(truncate)
    x, h, nonlinearity = cache
    T, N, H = dhs.shape
    W_hh = params[W_HH]
    dhs_f = _fm(dhs)  # (T, H, N)
    dA = np.empty((T, H, N), dtype=dhs.dtype)  # dL/da_t, a_t the pre-activation
    dW_hh = np.zeros_like(W_hh)
    tmp = np.empty_like(W_hh)
    dh_next = np.zeros((H, N), dtype=dhs.dtype) if dh_T is None else np.array(dh_T.T, dtype=dhs.dtype)
    for t in reversed(range(T)):
        dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])  # direct + from step t+1 (total dL/dh_t)
        h_t, da = h[t + 1], dA[t]
        if nonlinearity == "tanh":
            np.multiply(h_t, h_t, out=da)
            np.subtract(1.0, da, out=da)  # tanh'(a) = 1 - h^2
            da *= dh
        else:
            np.multiply(dh, h_t > 0, out=da)  # relu'(a) = [a > 0]
        dW_hh += np.matmul(da, h[t].T, out=tmp)  # dW_hh += da_t h_{t-1}^T
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
        else:
            dh_next = W_hh.T @ da  # dL/dh_{t-1} through W_hh
    dx, dW_ih, db = _input_grads(params[W_IH], dA, x)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db, B_HH: db.copy()}
    return BPTT(dx, dh_next.T.copy(), grads, _tm(dhs_f))


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------


def _lstm_perm(H: int) -> np.ndarray:
    """Row order i, f, o, g (internal) from torch's i, f, g, o: internal row k is torch row perm[k]."""
    i, f, g, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
    return np.concatenate([i, f, o, g])


def _half_rows(rows: int, H: int, dtype) -> np.ndarray:
    """Column of 0.5 for the first ``rows`` rows (sigmoid gates) and 1 below: sigma(a) = (1 + tanh(a/2)) / 2."""
    scale = np.ones((H * (rows // H + 1), 1), dtype=dtype)
    scale[:rows] = 0.5
    return scale


class LSTMCache(NamedTuple):
    """Saved by :func:`lstm_forward` for :func:`lstm_backward` (feature-major)."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, H, N) h_0..h_T
    c: np.ndarray  # (T+1, H, N) c_0..c_T
    gates: np.ndarray  # (T, 4H, N) activated gates in internal order i, f, o, g
    tanh_c: np.ndarray  # (T, H, N) tanh(c_t)


def lstm_step(params: Params, x_t: np.ndarray, state: tuple[np.ndarray, np.ndarray]):
    """One LSTM step in PyTorch's formulation. Returns (h_t, c_t).

    i = sigma(W_ii x + b_ii + W_hi h + b_hi)     f = sigma(W_if x + b_if + W_hf h + b_hf)
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)      o = sigma(W_io x + b_io + W_ho h + b_ho)
    c_t = f * c_{t-1} + i * g                    h_t = o * tanh(c_t)
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    a = x_t @ params[W_IH].T + params[B_IH] + h_prev @ params[W_HH].T + params[B_HH]
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H])
    g, o = np.tanh(a[:, 2 * H : 3 * H]), sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def lstm_forward(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """Run an LSTM over a sequence. x (T, N, D), state0 = (h0, c0) each (N, H).

    Returns hs (T, N, H) and the cache (its ``h[-1]``, ``c[-1]`` are the final state, transposed).
    """
    T, N, _ = x.shape
    H = params[W_HH].shape[1]
    H3 = 3 * H
    perm = _lstm_perm(H)
    half = _half_rows(H3, H, x.dtype)  # i, f, o rows pre-scaled by 1/2
    W_hh = params[W_HH][perm] * half  # (4H, H)
    xw = _input_projection(params[W_IH][perm] * half, (params[B_IH] + params[B_HH])[perm] * half[:, 0], x)
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    c = np.empty((T + 1, H, N), dtype=x.dtype)
    gates = np.empty((T, 4 * H, N), dtype=x.dtype)
    tanh_c = np.empty((T, H, N), dtype=x.dtype)
    ig = np.empty((H, N), dtype=x.dtype)
    h[0], c[0] = state0[0].T, state0[1].T
    for t in range(T):
        a = np.matmul(W_hh, h[t], out=gates[t])  # W_hh h_{t-1}            (4H, N)
        a += xw[t]  #                                 + W_ih x_t + b
        np.tanh(a, out=a)  # tanh(a/2) for i, f, o (pre-scaled); g = tanh(a)
        s = a[:H3]
        s *= 0.5
        s += 0.5  # i, f, o = (1 + tanh(a/2)) / 2 = sigma(a)
        i, f, o, g = a[:H], a[H : 2 * H], a[2 * H : H3], a[H3:]
        ct = np.multiply(f, c[t], out=c[t + 1])  # c_t = f * c_{t-1}
        ct += np.multiply(i, g, out=ig)  #                  + i * g
        np.tanh(ct, out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[t + 1])  # h_t = o * tanh(c_t)
    return _tm(h[1:]), LSTMCache(x, h, c, gates, tanh_c)


def lstm_backward(
    params: Params,
    dhs: np.ndarray,
    cache: LSTMCache,
    dstate_T: tuple[np.ndarray | None, np.ndarray | None] | None = None,
    truncate: int | None = None,
) -> BPTT:
    """BPTT for :func:`lstm_forward`. dhs (T, N, H); dstate_T = (dh_T, dc_T), either may be None."""
    _check_truncate(truncate)
    x, h, c, gates, tanh_c = cache
    T, N, H = dhs.shape
    H3 = 3 * H
    perm = _lstm_perm(H)
    W_hh = params[W_HH][perm]  # (4H, H) internal order, unscaled
    dh_T, dc_T = dstate_T if dstate_T is not None else (None, None)
    dh_next = np.zeros((H, N), dtype=dhs.dtype) if dh_T is None else np.array(dh_T.T, dtype=dhs.dtype)
    dc_next = np.zeros((H, N), dtype=dhs.dtype) if dc_T is None else np.array(dc_T.T, dtype=dhs.dtype)
    dhs_f = _fm(dhs)  # (T, H, N), becomes the total dL/dh_t
    dA = np.empty((T, 4 * H, N), dtype=dhs.dtype)  # dL/d(pre-activations), internal order
    dW_hh = np.zeros_like(W_hh)
    tmp = np.empty_like(W_hh)
    dc = np.empty((H, N), dtype=dhs.dtype)
    ds = np.empty((H3, N), dtype=dhs.dtype)
    for t in reversed(range(T)):
        g_t, da, tc = gates[t], dA[t], tanh_c[t]
        i, f, o, g = g_t[:H], g_t[H : 2 * H], g_t[2 * H : H3], g_t[H3:]
        dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])
        # dc = dc_next + dh * o * (1 - tanh(c)^2)
        np.multiply(tc, tc, out=dc)
        np.subtract(1.0, dc, out=dc)
        dc *= o
        dc *= dh
        dc += dc_next
        np.multiply(dc, g, out=da[:H])  # di = dc * g
        np.multiply(dc, c[t], out=da[H : 2 * H])  # df = dc * c_{t-1}
        np.multiply(dh, tc, out=da[2 * H : H3])  # do = dh * tanh(c)
        np.multiply(dc, i, out=da[H3:])  # dg = dc * i
        # through the nonlinearities: sigma' = s (1 - s), tanh' = 1 - g^2
        s = g_t[:H3]
        np.subtract(1.0, s, out=ds)
        ds *= s
        da[:H3] *= ds
        np.multiply(g, g, out=ds[:H])
        np.subtract(1.0, ds[:H], out=ds[:H])
        da[H3:] *= ds[:H]
        dW_hh += np.matmul(da, h[t].T, out=tmp)  # dW_hh += da_t h_{t-1}^T
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
            dc_next = np.zeros_like(dc_next)
        else:
            dh_next = W_hh.T @ da  # dL/dh_{t-1}
            dc_next = dc * f  # dL/dc_{t-1}: the additive cell path
    dx, dW_ih, db = _input_grads(params[W_IH][perm], dA, x)
    inv = np.argsort(perm)  # internal i, f, o, g -> torch's i, f, g, o
    grads = {W_IH: dW_ih[inv], W_HH: dW_hh[inv], B_IH: db[inv], B_HH: db[inv]}
    return BPTT(dx, (dh_next.T.copy(), dc_next.T.copy()), grads, _tm(dhs_f))


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------

GRU_VARIANTS = ("torch", "cho")


class GRUCache(NamedTuple):
    """Saved by :func:`gru_forward` for :func:`gru_backward` (feature-major)."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, H, N)
    gates: np.ndarray  # (T, 3H, N) activated r, z, n
    hn: np.ndarray  # (T, H, N) torch: W_hn h_{t-1} + b_hn;  cho: r * h_{t-1}
    variant: str


def check_gru_variant(variant: str) -> str:
    if variant not in GRU_VARIANTS:
        raise ConfigError(f"expected GRU variant 'torch' or 'cho', found {variant!r}")
    return variant


def gru_step(params: Params, x_t: np.ndarray, h_prev: np.ndarray, variant: str = "torch"):
    """One GRU step.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)     z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   (PyTorch applies r after W_hn h + b_hn)
    cho:   n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)   (Cho et al. 2014)
    h_t = (1 - z) * n + z * h_{t-1}
    """
    check_gru_variant(variant)
    H = h_prev.shape[1]
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in PARAM_NAMES)
    gi = x_t @ W_ih.T + b_ih
    gh_rz = h_prev @ W_hh[: 2 * H].T + b_hh[: 2 * H]
    r = sigmoid(gi[:, :H] + gh_rz[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh_rz[:, H:])
    if variant == "torch":
        n = np.tanh(gi[:, 2 * H :] + r * (h_prev @ W_hh[2 * H :].T + b_hh[2 * H :]))
    else:
        n = np.tanh(gi[:, 2 * H :] + (r * h_prev) @ W_hh[2 * H :].T + b_hh[2 * H :])
    return (1.0 - z) * n + z * h_prev


def gru_forward(params: Params, x: np.ndarray, h0: np.ndarray, variant: str = "torch"):
    """Run a GRU over a sequence. x (T, N, D), h0 (N, H). Returns hs (T, N, H) and the cache."""
    check_gru_variant(variant)
    T, N, _ = x.shape
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in PARAM_NAMES)
    H = W_hh.shape[1]
    H2 = 2 * H
    half = _half_rows(H2, H, x.dtype)  # r, z rows pre-scaled by 1/2
    bias = b_ih.copy()
    bias[:H2] += b_hh[:H2]  # r, z: both biases fold into the input projection; n: only b_in
    xw = _input_projection(W_ih * half, bias * half[:, 0], x)  # (T, 3H, N)
    W_rz = W_hh[:H2] * 0.5  # (2H, H), pre-scaled
    W_n = W_hh[H2:]  # (H, H)
    W_all = np.concatenate([W_rz, W_n])  # torch variant: one product for r, z and W_hn h
    b_hn = b_hh[H2:, None]  # (H, 1)
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    gates = np.empty((T, 3 * H, N), dtype=x.dtype)
    hn = np.empty((T, H, N), dtype=x.dtype)
    h[0] = h0.T
    for t in range(T):
        g = gates[t]
        r, z, n = g[:H], g[H:H2], g[H2:]
        if variant == "torch":
            np.matmul(W_all, h[t], out=g)  # [W_rz h / 2; W_hn h]
            np.add(n, b_hn, out=hn[t])  # W_hn h + b_hn
        else:
            np.matmul(W_rz, h[t], out=g[:H2])
        rz = g[:H2]
        rz += xw[t, :H2]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r, z = sigma(.)
        if variant == "torch":
            np.multiply(r, hn[t], out=n)  # r * (W_hn h + b_hn)
        else:
            np.multiply(r, h[t], out=hn[t])  # r * h
            np.matmul(W_n, hn[t], out=n)  # W_hn (r * h)
            n += b_hn
        n += xw[t, H2:]
        np.tanh(n, out=n)
        # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
        ht = np.subtract(h[t], n, out=h[t + 1])
        ht *= z
        ht += n
    return _tm(h[1:]), GRUCache(x, h, gates, hn, variant)


def gru_backward(
    params: Params,
    dhs: np.ndarray,
    cache: GRUCache,
    dh_T: np.ndarray | None = None,
    truncate: int | None = None,
) -> BPTT:
    """BPTT for :func:`gru_forward`. dhs (T, N, H) is dL/dh_t from the loss at each step."""
    _check_truncate(truncate)
    x, h, gates, hn, variant = cache
    T, N, H = dhs.shape
    H2 = 2 * H
    W_hh = params[W_HH]
    W_rz, W_n = W_hh[:H2], W_hh[H2:]  # (2H, H), (H, H)
    dhs_f = _fm(dhs)
    dA_in = np.empty((T, 3 * H, N), dtype=dhs.dtype)  # reaches W_ih x + b_ih
    dA_h = np.empty((3 * H, N), dtype=dhs.dtype)  # reaches W_hh (.) + b_hh, this step
    dW_hh = np.zeros_like(W_hh)
    db_hh = np.zeros(3 * H, dtype=dhs.dtype)
    tmp = np.empty_like(W_hh)
    dz = np.empty((H, N), dtype=dhs.dtype)
    dh_next = np.zeros((H, N), dtype=dhs.dtype) if dh_T is None else np.array(dh_T.T, dtype=dhs.dtype)
    for t in reversed(range(T)):
        g = gates[t]
        r, z, n = g[:H], g[H:H2], g[H2:]
        h_prev = h[t]
        din = dA_in[t]
        dar, daz, dan = din[:H], din[H:H2], din[H2:]
        dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])
        np.subtract(h_prev, n, out=dz)
        dz *= dh  # dz = dh * (h_{t-1} - n)
        np.multiply(n, n, out=dan)
        np.subtract(1.0, dan, out=dan)
        dan *= dh
        dan *= 1.0 - z  # dn through tanh: dh * (1 - z) * (1 - n^2)
        if variant == "torch":
            np.multiply(dan, r, out=dA_h[H2:])  # d(W_hn h + b_hn) = dan * r
            np.multiply(dan, hn[t], out=dar)  # dr = dan * (W_hn h + b_hn)
        else:
            dA_h[H2:] = dan  # d(W_hn (r h) + b_hn) = dan
            drh = W_n.T @ dan  # d(r * h)
            np.multiply(drh, h_prev, out=dar)  # dr = d(r h) * h
        dar *= r * (1.0 - r)  # through sigma
        np.multiply(z, 1.0 - z, out=daz)
        daz *= dz
        dA_h[:H2] = din[:H2]
        if variant == "torch":
            dW_hh += np.matmul(dA_h, h_prev.T, out=tmp)
        else:
            dW_hh[:H2] += dA_h[:H2] @ h_prev.T
            dW_hh[H2:] += dA_h[H2:] @ hn[t].T  # W_hn multiplies r * h_{t-1}
        db_hh += dA_h.sum(axis=1)
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
            continue
        dh_next = dh * z  # direct path through z * h_{t-1}
        if variant == "torch":
            dh_next += W_hh.T @ dA_h  # through r, z and W_hn h
        else:
            dh_next += W_rz.T @ dA_h[:H2]  # through r and z
            dh_next += drh * r  # through r * h
    dx, dW_ih, db_ih = _input_grads(params[W_IH], dA_in, x)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db_ih, B_HH: db_hh}
    return BPTT(dx, dh_next.T.copy(), grads, _tm(dhs_f))
