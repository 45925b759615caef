"""The reference path: RNN, LSTM and GRU written from the textbook equations. Read this first.

Everything here is plain NumPy on batch-major arrays, one equation per line, with no tricks for
speed. :mod:`rnnlab.scratch.functional` is the fast path the layers use; the tests hold it equal
to this file (to 1e-10 in float64) for every cell, variant, truncation and initial state.

Parameters are a dict named and laid out like PyTorch's single-layer ``state_dict``::

    weight_ih_l0 (G*H, D)   weight_hh_l0 (G*H, H)   bias_ih_l0 (G*H,)   bias_hh_l0 (G*H,)

with the gate blocks stacked in PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so weights copy
to and from torch without transposes. Shapes: N batch, T steps, D inputs, H hidden units, G gates.

One contract for every cell (flax's): a cell is a pure step

    step(params, carry, x_t) -> (carry, h_t)

where the carry is h_{t-1} (N, H) for the RNN and the GRU, and the pair (h_{t-1}, c_{t-1}) for
the LSTM, x_t is (N, D) and h_t (N, H). Any loop can drive a step; :func:`scan` is the one used
here. Each step has a backward twin

    step_backward(params, carry, x_t, dcarry) -> (dcarry_prev, dx_t, dparams)

that takes dL/d(new carry) and returns dL/d(old carry), dL/dx_t and the step's contribution to
every parameter gradient. It recomputes the step's gates from ``(carry, x_t)``, so a sequence
forward only has to keep the carries. :func:`scan_backward` is backpropagation through time
(BPTT): a ``dcarry`` running from the last step to the first, as in Karpathy's min-char-rnn.

Truncated BPTT with window k (``truncate=k``) cuts the gradient carried back through the
recurrence at every window boundary (between steps k-1 and k, 2k-1 and 2k, ...; steps counted
from 0): the forward state still flows across, the gradient does not. ``truncate=None`` is full
BPTT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from rnnlab.errors import ConfigError

Params = dict[str, np.ndarray]

W_IH, W_HH, B_IH, B_HH = "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"
PARAM_NAMES = (W_IH, W_HH, B_IH, B_HH)

GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
GRU_VARIANTS = ("torch", "cho")
NONLINEARITIES = ("tanh", "relu")


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function sigma(a) = 1 / (1 + exp(-a)), computed as (1 + tanh(a / 2)) / 2.

    The two are equal; the tanh form never overflows (exp(-a) does for a < -88 in float32).
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


class BPTT(NamedTuple):
    """What backpropagation through time returns (the reference and the fast path alike).

    Attributes
    ----------
    dx : ndarray, (T, N, D)
        Gradient of the loss with respect to the inputs.
    dstate0 : ndarray (N, H), or a pair of them
        Gradient with respect to the initial state (``(dh0, dc0)`` for the LSTM).
    grads : dict
        Gradient of every parameter, keyed like the parameters.
    dh : ndarray, (T, N, H)
        Total gradient dL/dh_t reaching each hidden state h_1..h_T: the direct term from the loss
        at step t plus what flows back from later steps (within the truncation window).
    """

    dx: np.ndarray
    dstate0: Any
    grads: Params
    dh: np.ndarray


def check_truncate(truncate: int | None) -> None:
    """Raise a ConfigError unless ``truncate`` is None or an int >= 1."""
    if truncate is not None and (
        not isinstance(truncate, (int, np.integer)) or isinstance(truncate, bool) or truncate < 1
    ):
        raise ConfigError(f"expected truncate to be None or an int >= 1, found {truncate!r}")


def cut(t: int, truncate: int | None) -> bool:
    """True when the gradient must not flow from step t back to step t - 1 (steps from 0)."""
    return truncate is not None and t > 0 and t % truncate == 0


def check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ConfigError(f"expected nonlinearity 'tanh' or 'relu', found {nonlinearity!r}")
    return nonlinearity


def check_gru_variant(variant: str) -> str:
    if variant not in GRU_VARIANTS:
        raise ConfigError(f"expected GRU variant 'torch' or 'cho', found {variant!r}")
    return variant


# --------------------------------------------------------------------------------------------
# The affine map every cell shares: a = x W_ih^T + b_ih + h W_hh^T + b_hh
# --------------------------------------------------------------------------------------------


def _affine(params: Params, h_prev: np.ndarray, x_t: np.ndarray) -> np.ndarray:
    """Gate pre-activations of all G gates, (N, G*H)."""
    return x_t @ params[W_IH].T + params[B_IH] + h_prev @ params[W_HH].T + params[B_HH]


def _affine_backward(params: Params, da: np.ndarray, h_prev: np.ndarray, x_t: np.ndarray):
    """Backward of :func:`_affine` given da = dL/da (N, G*H): returns (dh_prev, dx_t, dparams)."""
    dparams = {
        W_IH: da.T @ x_t,  # dL/dW_ih = da^T x_t            (G*H, D)
        W_HH: da.T @ h_prev,  # dL/dW_hh = da^T h_{t-1}      (G*H, H)
        B_IH: da.sum(axis=0),  # dL/db_ih = sum over the batch
        B_HH: da.sum(axis=0),  # dL/db_hh = the same
    }
    return da @ params[W_HH], da @ params[W_IH], dparams  # dL/dh_{t-1}, dL/dx_t


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


def rnn_step(params: Params, carry: np.ndarray, x_t: np.ndarray, nonlinearity: str = "tanh"):
    """One step of the Elman RNN.

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H), ``bias_ih_l0`` (H,), ``bias_hh_l0`` (H,).
    carry : ndarray, (N, H)
        h_{t-1}.
    x_t : ndarray, (N, D)
    nonlinearity : ``"tanh"`` or ``"relu"``

    Returns
    -------
    carry : ndarray, (N, H)
        h_t, which is also the output.
    h_t : ndarray, (N, H)
    """
    a = _affine(params, carry, x_t)  # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h = np.tanh(a) if check_nonlinearity(nonlinearity) == "tanh" else np.maximum(a, 0.0)  # h_t = tanh(a_t)
    return h, h


def rnn_step_backward(params: Params, carry: np.ndarray, x_t: np.ndarray, dcarry: np.ndarray,
                      nonlinearity: str = "tanh"):
    """Backward of :func:`rnn_step`: dL/dh_t (N, H) -> (dL/dh_{t-1}, dL/dx_t, dparams)."""
    h, _ = rnn_step(params, carry, x_t, nonlinearity)
    if nonlinearity == "tanh":
        da = dcarry * (1.0 - h * h)  # tanh'(a) = 1 - tanh(a)^2 = 1 - h_t^2
    else:
        da = dcarry * (h > 0)  # relu'(a) = [a > 0] = [h_t > 0]
    return _affine_backward(params, da, carry, x_t)


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------


class LSTMGates(NamedTuple):
    """The four activated gates of one LSTM step, each (N, H)."""

    i: np.ndarray  # input gate
    f: np.ndarray  # forget gate
    g: np.ndarray  # candidate cell values
    o: np.ndarray  # output gate


def lstm_gates(params: Params, h_prev: np.ndarray, x_t: np.ndarray) -> LSTMGates:
    """i, f, g, o of one step from h_{t-1} (N, H) and x_t (N, D)."""
    a = _affine(params, h_prev, x_t)  # (N, 4H), gate blocks i, f, g, o
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    return LSTMGates(
        i=sigmoid(a_i),  # i = sigma(W_ii x + b_ii + W_hi h + b_hi)
        f=sigmoid(a_f),  # f = sigma(W_if x + b_if + W_hf h + b_hf)
        g=np.tanh(a_g),  # g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o=sigmoid(a_o),  # o = sigma(W_io x + b_io + W_ho h + b_ho)
    )


def lstm_step(params: Params, carry: tuple[np.ndarray, np.ndarray], x_t: np.ndarray):
    """One LSTM step in PyTorch's formulation.

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (4H, D), ``weight_hh_l0`` (4H, H), ``bias_ih_l0`` (4H,),
        ``bias_hh_l0`` (4H,); gate blocks i, f, g, o.
    carry : pair of ndarray, each (N, H)
        (h_{t-1}, c_{t-1}).
    x_t : ndarray, (N, D)

    Returns
    -------
    carry : pair of ndarray, each (N, H)
        (h_t, c_t).
    h_t : ndarray, (N, H)
    """
    h_prev, c_prev = carry
    gate = lstm_gates(params, h_prev, x_t)
    c = gate.f * c_prev + gate.i * gate.g  # c_t = f * c_{t-1} + i * g
    h = gate.o * np.tanh(c)  # h_t = o * tanh(c_t)
    return (h, c), h


def lstm_step_backward(params: Params, carry: tuple[np.ndarray, np.ndarray], x_t: np.ndarray,
                       dcarry: tuple[np.ndarray, np.ndarray]):
    """Backward of :func:`lstm_step`.

    ``dcarry`` is (dL/dh_t, dL/dc_t); returns ((dL/dh_{t-1}, dL/dc_{t-1}), dL/dx_t, dparams).
    """
    h_prev, c_prev = carry
    dh, dc_next = dcarry
    gate = lstm_gates(params, h_prev, x_t)
    c = gate.f * c_prev + gate.i * gate.g
    tanh_c = np.tanh(c)
    do = dh * tanh_c  # h_t = o * tanh(c_t)
    dc = dc_next + dh * gate.o * (1.0 - tanh_c * tanh_c)  # ... and tanh'(c) = 1 - tanh(c)^2
    di = dc * gate.g  # c_t = f * c_{t-1} + i * g
    df = dc * c_prev
    dg = dc * gate.i
    da = np.concatenate([
        di * gate.i * (1.0 - gate.i),  # sigma'(a) = sigma(a) (1 - sigma(a))
        df * gate.f * (1.0 - gate.f),
        dg * (1.0 - gate.g * gate.g),  # tanh'(a) = 1 - tanh(a)^2
        do * gate.o * (1.0 - gate.o),
    ], axis=1)  # (N, 4H), blocks i, f, g, o
    dh_prev, dx, dparams = _affine_backward(params, da, h_prev, x_t)
    return (dh_prev, dc * gate.f), dx, dparams  # dL/dc_{t-1} = dc * f: the additive cell path


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------


class GRUGates(NamedTuple):
    """The activated gates of one GRU step, each (N, H)."""

    r: np.ndarray  # reset gate
    z: np.ndarray  # update gate
    n: np.ndarray  # candidate state
    hn: np.ndarray  # torch: W_hn h_{t-1} + b_hn (before r multiplies it);  cho: r * h_{t-1}


def gru_gates(params: Params, h_prev: np.ndarray, x_t: np.ndarray, variant: str = "torch") -> GRUGates:
    """r, z, n of one step from h_{t-1} (N, H) and x_t (N, D); see :func:`gru_step`."""
    H = h_prev.shape[1]
    W_hh, b_hh = params[W_HH], params[B_HH]
    gi = x_t @ params[W_IH].T + params[B_IH]  # (N, 3H) input side of r, z, n
    gh = h_prev @ W_hh[: 2 * H].T + b_hh[: 2 * H]  # (N, 2H) recurrent side of r, z
    r = sigmoid(gi[:, :H] + gh[:, :H])  # r = sigma(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H:])  # z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    if check_gru_variant(variant) == "torch":
        hn = h_prev @ W_hh[2 * H :].T + b_hh[2 * H :]  # W_hn h + b_hn
        n = np.tanh(gi[:, 2 * H :] + r * hn)  # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    else:
        hn = r * h_prev  # r * h
        n = np.tanh(gi[:, 2 * H :] + hn @ W_hh[2 * H :].T + b_hh[2 * H :])  # n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    return GRUGates(r, z, n, hn)


def gru_step(params: Params, carry: np.ndarray, x_t: np.ndarray, variant: str = "torch"):
    """One GRU step.

    ``variant="torch"`` is PyTorch's (the reset gate applied after W_hn h + b_hn)::

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)     z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    ``variant="cho"`` is Cho et al. (2014): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (3H, D), ``weight_hh_l0`` (3H, H), ``bias_ih_l0`` (3H,),
        ``bias_hh_l0`` (3H,); gate blocks r, z, n.
    carry : ndarray, (N, H)
        h_{t-1}.
    x_t : ndarray, (N, D)
    variant : ``"torch"`` or ``"cho"``

    Returns
    -------
    carry : ndarray, (N, H)
        h_t, which is also the output.
    h_t : ndarray, (N, H)
    """
    gate = gru_gates(params, carry, x_t, variant)
    h = (1.0 - gate.z) * gate.n + gate.z * carry  # h_t = (1 - z) * n + z * h_{t-1}
    return h, h


def gru_step_backward(params: Params, carry: np.ndarray, x_t: np.ndarray, dcarry: np.ndarray,
                      variant: str = "torch"):
    """Backward of :func:`gru_step`: dL/dh_t (N, H) -> (dL/dh_{t-1}, dL/dx_t, dparams)."""
    H = carry.shape[1]
    h_prev, dh = carry, dcarry
    W_hh = params[W_HH]
    r, z, n, hn = gru_gates(params, h_prev, x_t, variant)
    dn = dh * (1.0 - z)  # h_t = (1 - z) * n + z * h_{t-1}
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    dan = dn * (1.0 - n * n)  # tanh'(a) = 1 - n^2: dL/d(pre-activation of n)
    if variant == "torch":
        dhn = dan * r  # n = tanh(... + r * hn): dL/d(W_hn h + b_hn)
        dr = dan * hn
    else:
        drh = dan @ W_hh[2 * H :]  # n = tanh(... + W_hn (r * h) + b_hn): dL/d(r * h)
        dr = drh * h_prev
        dh_prev = dh_prev + drh * r
    dar = dr * r * (1.0 - r)  # sigma' = sigma (1 - sigma)
    daz = dz * z * (1.0 - z)
    dgi = np.concatenate([dar, daz, dan], axis=1)  # (N, 3H) reaches W_ih x + b_ih
    dparams = {W_IH: dgi.T @ x_t, B_IH: dgi.sum(axis=0)}
    if variant == "torch":
        dgh = np.concatenate([dar, daz, dhn], axis=1)  # (N, 3H) reaches W_hh h + b_hh
        dparams[W_HH] = dgh.T @ h_prev
        dh_prev = dh_prev + dgh @ W_hh
    else:
        dgh = np.concatenate([dar, daz, dan], axis=1)  # reaches [W_hr h; W_hz h; W_hn (r h)] + b_hh
        dparams[W_HH] = np.concatenate([dgh[:, : 2 * H].T @ h_prev, dan.T @ hn])  # W_hn multiplies r * h
        dh_prev = dh_prev + dgh[:, : 2 * H] @ W_hh[: 2 * H]
    dparams[B_HH] = dgh.sum(axis=0)
    return dh_prev, dgi @ params[W_IH], dparams


# --------------------------------------------------------------------------------------------
# Sequences: one loop forward, one loop backward, for every cell
# --------------------------------------------------------------------------------------------

Step = Callable[[Params, Any, np.ndarray], tuple[Any, np.ndarray]]


class ReferenceCache(NamedTuple):
    """What a reference sequence forward keeps for its backward."""

    x: np.ndarray  # (T, N, D) inputs
    carries: list  # carry_0 .. carry_T: h_t (N, H), or (h_t, c_t) for the LSTM
    option: str  # the RNN's nonlinearity or the GRU's variant ("" for the LSTM)


def scan(step: Step, params: Params, x: np.ndarray, carry0) -> tuple[np.ndarray, list]:
    """Drive ``step`` over a sequence.

    Parameters
    ----------
    step : callable
        ``step(params, carry, x_t) -> (carry, h_t)``.
    params : dict
    x : ndarray, (T, N, D)
    carry0 : the initial carry

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T.
    carries : list
        carry_0..carry_T (T + 1 entries).
    """
    carry, carries, hs = carry0, [carry0], []
    for x_t in x:  # t = 1..T
        carry, h_t = step(params, carry, x_t)
        carries.append(carry)
        hs.append(h_t)
    return np.stack(hs), carries


def _add_dh(dcarry, dh):
    """Add dL/dh_t to a carry gradient (dh, or (dh, dc) for the LSTM)."""
    return (dcarry[0] + dh, dcarry[1]) if isinstance(dcarry, tuple) else dcarry + dh


def _dh_of(dcarry) -> np.ndarray:
    return dcarry[0] if isinstance(dcarry, tuple) else dcarry


def _zeros_like(carry):
    return tuple(np.zeros_like(c) for c in carry) if isinstance(carry, tuple) else np.zeros_like(carry)


def scan_backward(step_backward, params: Params, dhs: np.ndarray, cache: ReferenceCache,
                  dcarry_T=None, truncate: int | None = None) -> BPTT:
    """Backpropagation through time over a sequence run by :func:`scan`.

    Parameters
    ----------
    step_backward : callable
        ``step_backward(params, carry, x_t, dcarry) -> (dcarry_prev, dx_t, dparams)``.
    params : dict
    dhs : ndarray, (T, N, H)
        dL/dh_t from the loss at each step.
    cache : ReferenceCache
    dcarry_T : optional
        Extra gradient on the final carry (zeros if None).
    truncate : int, optional
        Truncated BPTT window k.

    Returns
    -------
    BPTT
    """
    check_truncate(truncate)
    x, carries = cache.x, cache.carries
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    dx = np.empty_like(x)
    dh_total = np.empty_like(dhs)
    dcarry = _zeros_like(carries[-1]) if dcarry_T is None else dcarry_T
    for t in reversed(range(len(x))):  # t = T-1..0, the step that made carry t + 1
        dcarry = _add_dh(dcarry, dhs[t])  # dL/dh_t = from the loss at t + from step t + 1
        dh_total[t] = _dh_of(dcarry)
        dcarry, dx[t], dparams = step_backward(params, carries[t], x[t], dcarry)
        for name in grads:
            grads[name] += dparams[name]  # a parameter is shared by all steps: gradients add up
        if cut(t, truncate):
            dcarry = _zeros_like(dcarry)
    return BPTT(dx, dcarry, grads, dh_total)


def rnn_forward(params: Params, x: np.ndarray, h0: np.ndarray, nonlinearity: str = "tanh"):
    """Elman RNN over a sequence: x (T, N, D), h0 (N, H) -> hs (T, N, H) and a ReferenceCache."""
    check_nonlinearity(nonlinearity)
    hs, carries = scan(lambda p, h, x_t: rnn_step(p, h, x_t, nonlinearity), params, x, h0)
    return hs, ReferenceCache(x, carries, nonlinearity)


def rnn_backward(params: Params, dhs: np.ndarray, cache: ReferenceCache, dh_T=None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`rnn_forward`: dhs (T, N, H), dh_T (N, H) or None."""
    def step_backward(p, h, x_t, dh):
        return rnn_step_backward(p, h, x_t, dh, cache.option)

    return scan_backward(step_backward, params, dhs, cache, dh_T, truncate)


def lstm_forward(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """LSTM over a sequence: x (T, N, D), state0 = (h0, c0) each (N, H) -> hs (T, N, H), cache."""
    hs, carries = scan(lstm_step, params, x, tuple(state0))
    return hs, ReferenceCache(x, carries, "")


def lstm_backward(params: Params, dhs: np.ndarray, cache: ReferenceCache, dstate_T=None,
                  truncate: int | None = None) -> BPTT:
    """BPTT for :func:`lstm_forward`: dhs (T, N, H); dstate_T = (dh_T, dc_T), either may be None."""
    dcarry_T = None
    if dstate_T is not None:
        zeros = np.zeros_like(dhs[0])
        dcarry_T = tuple(zeros if d is None else d for d in dstate_T)
    return scan_backward(lstm_step_backward, params, dhs, cache, dcarry_T, truncate)


def gru_forward(params: Params, x: np.ndarray, h0: np.ndarray, variant: str = "torch"):
    """GRU over a sequence: x (T, N, D), h0 (N, H) -> hs (T, N, H) and a ReferenceCache."""
    check_gru_variant(variant)
    hs, carries = scan(lambda p, h, x_t: gru_step(p, h, x_t, variant), params, x, h0)
    return hs, ReferenceCache(x, carries, variant)


def gru_backward(params: Params, dhs: np.ndarray, cache: ReferenceCache, dh_T=None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`gru_forward`: dhs (T, N, H), dh_T (N, H) or None."""
    def step_backward(p, h, x_t, dh):
        return gru_step_backward(p, h, x_t, dh, cache.option)

    return scan_backward(step_backward, params, dhs, cache, dh_T, truncate)


STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}
