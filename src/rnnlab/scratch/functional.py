"""Recurrent cells in plain NumPy: forward passes and hand-written backpropagation through time.

Everything here is a pure function of its arguments: parameters come in a dict named and laid
out exactly like PyTorch's single-layer ``state_dict`` (``weight_ih_l0`` (G*H, D),
``weight_hh_l0`` (G*H, H), ``bias_ih_l0`` (G*H,), ``bias_hh_l0`` (G*H,)), gate blocks in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so weights copy to and from torch without
transposes. There is no clipping, random state or optimiser state in here.

Shapes: N batch, T time steps, D input features, H hidden units, G gates (RNN 1, LSTM 4, GRU 3).
The sequence functions work time-major internally ((T, N, ...) arrays, contiguous per step) and
take and return time-major arrays; :mod:`rnnlab.scratch.layers` converts from batch-first.

Each cell has

- a pure step ``*_step(params, x_t, state) -> state`` (the textbook equations, one time step; any
  loop can drive it), and
- a sequence forward ``*_forward(params, x, state0) -> (hs, cache)`` that computes the input
  projection of all steps in one matrix product, then runs the recurrence, and
- ``*_backward(params, dhs, cache, dstate_T=None, truncate=None) -> BPTT`` that runs BPTT with a
  ``dh_next`` carry from the last step to the first.

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


def _param_grads(
    dA_in: np.ndarray, x: np.ndarray, dA_h: np.ndarray, h_prev: np.ndarray
) -> Params:
    """Parameter gradients from the pre-activation gradients of all steps at once.

    dA_in (T, N, G*H) reaches W_ih x_t + b_ih; dA_h (T, N, G*H) reaches W_hh h_{t-1} + b_hh.
    """
    T, N, GH = dA_in.shape
    dA_in2 = dA_in.reshape(T * N, GH)
    dA_h2 = dA_h.reshape(T * N, GH)
    return {
        W_IH: dA_in2.T @ x.reshape(T * N, -1),  # sum_t da_t^T x_t          (G*H, D)
        W_HH: dA_h2.T @ h_prev.reshape(T * N, -1),  # sum_t da_t^T h_{t-1}  (G*H, H)
        B_IH: dA_in2.sum(axis=0),
        B_HH: dA_h2.sum(axis=0),
    }


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


class RNNCache(NamedTuple):
    """Saved by :func:`rnn_forward` for :func:`rnn_backward`."""

    x: np.ndarray  # (T, N, D) inputs
    h: np.ndarray  # (T+1, N, H) states h_0..h_T
    nonlinearity: str


def _rnn_act(nonlinearity: str):
    if nonlinearity == "tanh":
        return np.tanh
    if nonlinearity == "relu":
        return lambda a, out=None: np.maximum(a, 0.0, out=out)
    raise ConfigError(f"expected nonlinearity 'tanh' or 'relu', found {nonlinearity!r}")


def rnn_step(params: Params, x_t: np.ndarray, h_prev: np.ndarray, nonlinearity="tanh"):
    """One step: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). x_t (N, D), h_prev (N, H)."""
    a = x_t @ params[W_IH].T + params[B_IH] + h_prev @ params[W_HH].T + params[B_HH]
    return _rnn_act(nonlinearity)(a)


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
    act = _rnn_act(nonlinearity)
    T, N, _ = x.shape
    W_hh = params[W_HH]
    H = W_hh.shape[0]
    h = np.empty((T + 1, N, H), dtype=x.dtype)
    h[0] = h0
    # Input projections of every step at once: W_ih x_t + b_ih + b_hh     (T, N, H)
    xw = x @ params[W_IH].T
    xw += params[B_IH] + params[B_HH]
    for t in range(T):
        a = np.matmul(h[t], W_hh.T, out=h[t + 1])  # W_hh h_{t-1}
        a += xw[t]  # + W_ih x_t + b
        act(a, out=a)  # h_t = tanh(a_t)
    return h[1:], RNNCache(x, h, nonlinearity)


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
    dA = np.empty_like(dhs)  # dL/da_t, a_t the pre-activation   (T, N, H)
    dh_total = np.empty_like(dhs)
    dh_next = np.zeros((N, H), dtype=dhs.dtype) if dh_T is None else dh_T.copy()
    for t in reversed(range(T)):
        dh = np.add(dhs[t], dh_next, out=dh_total[t])  # direct + from step t+1
        h_t = h[t + 1]
        if nonlinearity == "tanh":
            np.multiply(dh, 1.0 - h_t * h_t, out=dA[t])  # tanh'(a) = 1 - h^2
        else:
            np.multiply(dh, h_t > 0, out=dA[t])  # relu'(a) = [a > 0]
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
        else:
            dh_next = dA[t] @ W_hh  # dL/dh_{t-1} through W_hh
    dx = dA @ params[W_IH]  # (T, N, D)
    grads = _param_grads(dA, x, dA, h[:-1])
    return BPTT(dx, dh_next, grads, dh_total)


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------
# Internally the gate blocks are reordered i, f, o, g so that one sigmoid runs over a contiguous
# (N, 3H) block and one tanh over (N, H); parameters and gradients stay in torch's i, f, g, o.


def _lstm_perm(H: int) -> np.ndarray:
    i, f, g, o = (np.arange(k * H, (k + 1) * H) for k in range(4))
    return np.concatenate([i, f, o, g])  # internal row k holds torch row perm[k]


class LSTMCache(NamedTuple):
    """Saved by :func:`lstm_forward` for :func:`lstm_backward`."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, N, H) h_0..h_T
    c: np.ndarray  # (T+1, N, H) c_0..c_T
    gates: np.ndarray  # (T, N, 4H) activated gates in internal order i, f, o, g
    tanh_c: np.ndarray  # (T, N, H) tanh(c_t)


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

    Returns hs (T, N, H), the final state (h_T, c_T) and the cache.
    """
    T, N, _ = x.shape
    H = params[W_HH].shape[1]
    perm = _lstm_perm(H)
    W_hh = np.ascontiguousarray(params[W_HH][perm].T)  # (H, 4H), internal gate order
    xw = x @ params[W_IH][perm].T  # (T, N, 4H)
    xw += (params[B_IH] + params[B_HH])[perm]
    h = np.empty((T + 1, N, H), dtype=x.dtype)
    c = np.empty((T + 1, N, H), dtype=x.dtype)
    gates = np.empty((T, N, 4 * H), dtype=x.dtype)
    tanh_c = np.empty((T, N, H), dtype=x.dtype)
    h[0], c[0] = state0
    H3 = 3 * H
    for t in range(T):
        a = np.matmul(h[t], W_hh, out=gates[t])  # W_hh h_{t-1}        (N, 4H)
        a += xw[t]  # + W_ih x_t + b
        sigmoid(a[:, :H3], out=a[:, :H3])  # i, f, o = sigma(.)
        np.tanh(a[:, H3:], out=a[:, H3:])  # g = tanh(.)
        i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : H3], a[:, H3:]
        ct = np.multiply(f, c[t], out=c[t + 1])  # c_t = f * c_{t-1}
        ct += i * g  #       + i * g
        np.tanh(ct, out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[t + 1])  # h_t = o * tanh(c_t)
    return h[1:], LSTMCache(x, h, c, gates, tanh_c)


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
    perm = _lstm_perm(H)
    W_hh = params[W_HH][perm]  # (4H, H) internal order
    dh_T, dc_T = dstate_T if dstate_T is not None else (None, None)
    dh_next = np.zeros((N, H), dtype=dhs.dtype) if dh_T is None else np.array(dh_T, dtype=dhs.dtype)
    dc_next = np.zeros((N, H), dtype=dhs.dtype) if dc_T is None else np.array(dc_T, dtype=dhs.dtype)
    dA = np.empty((T, N, 4 * H), dtype=dhs.dtype)  # dL/d(pre-activations), internal order
    dh_total = np.empty_like(dhs)
    H3 = 3 * H
    for t in reversed(range(T)):
        g_t = gates[t]
        i, f, o, g = g_t[:, :H], g_t[:, H : 2 * H], g_t[:, 2 * H : H3], g_t[:, H3:]
        dh = np.add(dhs[t], dh_next, out=dh_total[t])
        tc = tanh_c[t]
        da = dA[t]
        dai, daf, dao, dag = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : H3], da[:, H3:]
        # dc = dc_next + dh * o * (1 - tanh(c)^2)
        dc = dh * o
        dc *= 1.0 - tc * tc
        dc += dc_next
        np.multiply(dh, tc, out=dao)  # do = dh * tanh(c)
        np.multiply(dc, g, out=dai)  # di = dc * g
        np.multiply(dc, c[t], out=daf)  # df = dc * c_{t-1}
        np.multiply(dc, i, out=dag)  # dg = dc * i
        # through the nonlinearities: sigma' = s (1 - s), tanh' = 1 - y^2
        s = g_t[:, :H3]
        da[:, :H3] *= s * (1.0 - s)
        dag *= 1.0 - g * g
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
            dc_next = np.zeros_like(dc_next)
        else:
            dh_next = da @ W_hh  # dL/dh_{t-1}
            dc_next = dc * f  # dL/dc_{t-1}: the additive cell path
    dx = dA @ params[W_IH][perm]  # (T, N, D)
    grads = _param_grads(dA, x, dA, h[:-1])  # internal gate order i, f, o, g ...
    inv = np.argsort(perm)
    grads = {name: g[inv] for name, g in grads.items()}  # ... back to torch's i, f, g, o
    return BPTT(dx, (dh_next, dc_next), grads, dh_total)


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------

GRU_VARIANTS = ("torch", "cho")


class GRUCache(NamedTuple):
    """Saved by :func:`gru_forward` for :func:`gru_backward`."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, N, H)
    gates: np.ndarray  # (T, N, 3H) activated r, z, n
    hn: np.ndarray  # (T, N, H) torch: W_hn h_{t-1} + b_hn;  cho: r * h_{t-1}
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
    xw = x @ W_ih.T  # (T, N, 3H)
    xw[..., :H2] += b_ih[:H2] + b_hh[:H2]  # r, z: both biases fold into the input projection
    xw[..., H2:] += b_ih[H2:]  # n: only b_in (b_hn stays inside)
    W_rz = np.ascontiguousarray(W_hh[:H2].T)  # (H, 2H)
    W_n = np.ascontiguousarray(W_hh[H2:].T)  # (H, H)
    b_hn = b_hh[H2:]
    h = np.empty((T + 1, N, H), dtype=x.dtype)
    gates = np.empty((T, N, 3 * H), dtype=x.dtype)
    hn = np.empty((T, N, H), dtype=x.dtype)
    h[0] = h0
    for t in range(T):
        g = gates[t]
        rz = np.matmul(h[t], W_rz, out=g[:, :H2])
        rz += xw[t, :, :H2]
        sigmoid(rz, out=rz)  # r, z
        r, z, n = g[:, :H], g[:, H:H2], g[:, H2:]
        if variant == "torch":
            np.matmul(h[t], W_n, out=hn[t])
            hn[t] += b_hn  # W_hn h + b_hn
            np.multiply(r, hn[t], out=n)  # r * (W_hn h + b_hn)
        else:
            np.multiply(r, h[t], out=hn[t])  # r * h
            np.matmul(hn[t], W_n, out=n)  # W_hn (r * h)
            n += b_hn
        n += xw[t, :, H2:]
        np.tanh(n, out=n)
        # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
        ht = np.subtract(h[t], n, out=h[t + 1])
        ht *= z
        ht += n
    return h[1:], GRUCache(x, h, gates, hn, variant)


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
    dA_in = np.empty((T, N, 3 * H), dtype=dhs.dtype)  # reaches W_ih x + b_ih
    dA_h = np.empty((T, N, 3 * H), dtype=dhs.dtype)  # reaches W_hh (.) + b_hh
    dh_total = np.empty_like(dhs)
    dh_next = np.zeros((N, H), dtype=dhs.dtype) if dh_T is None else dh_T.copy()
    for t in reversed(range(T)):
        g = gates[t]
        r, z, n = g[:, :H], g[:, H:H2], g[:, H2:]
        h_prev = h[t]
        dh = np.add(dhs[t], dh_next, out=dh_total[t])
        dz = dh * (h_prev - n)  # h_t = (1 - z) n + z h_{t-1}
        dan = dh * (1.0 - z)
        dan *= 1.0 - n * n  # through tanh
        din, dhrz, dhn_ = dA_in[t], dA_h[t], dA_h[t, :, H2:]
        din[:, H2:] = dan
        if variant == "torch":
            np.multiply(dan, r, out=dhn_)  # d(W_hn h + b_hn)
            dr = dan * hn[t]
        else:
            dhn_[:] = dan  # d(W_hn (r h) + b_hn) = dan
            drh = dan @ W_n  # d(r * h)
            dr = drh * h_prev
        dar = dr * r * (1.0 - r)
        daz = dz * z * (1.0 - z)
        din[:, :H] = dar
        din[:, H:H2] = daz
        dhrz[:, :H] = dar
        dhrz[:, H:H2] = daz
        if _cut(t, truncate):
            dh_next = np.zeros_like(dh_next)
            continue
        dh_next = dh * z  # direct path through z * h_{t-1}
        dh_next += dhrz[:, :H2] @ W_rz  # through r and z
        if variant == "torch":
            dh_next += dhn_ @ W_n  # through W_hn h
        else:
            dh_next += drh * r  # through r * h
    dx = dA_in @ params[W_IH]
    if variant == "torch":
        grads = _param_grads(dA_in, x, dA_h, h[:-1])
    else:
        # W_hn multiplies r * h_{t-1}, not h_{t-1}: its gradient uses the saved r * h.
        grads = _param_grads(dA_in, x, dA_h, h[:-1])
        dn2 = dA_h[:, :, H2:].reshape(T * N, H)
        grads[W_HH][H2:] = dn2.T @ hn.reshape(T * N, H)
    return BPTT(dx, dh_next, grads, dh_total)
