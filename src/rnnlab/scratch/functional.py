"""The fast path: the sequence forward and BPTT that the layers run. Read reference.py first.

:mod:`rnnlab.scratch.reference` is the same mathematics written for reading: one pure step per
cell, ``step(params, carry, x_t) -> (carry, h_t)``, driven by one loop forward and one loop
backward. This module computes exactly those numbers (the tests hold the two equal to 1e-10 in
float64, for every cell, variant, truncation and initial state) with the same signatures:

- ``rnn_forward(params, x, h0, nonlinearity) -> (hs, RNNCache)``,
  ``lstm_forward(params, x, (h0, c0)) -> (hs, LSTMCache)``,
  ``gru_forward(params, x, h0, variant) -> (hs, GRUCache)``: x (T, N, D), hs (T, N, H);
- ``*_backward(params, dhs, cache, dstate_T=None, truncate=None) -> BPTT``.

The steps are the reference ones (``rnn_step``, ``lstm_step``, ``gru_step`` are re-exported
here). Parameters stay in PyTorch's layout and gate order; gradients come back in it.

Which loops run: float32, the training dtype, goes to the compiled loops of
:mod:`rnnlab.scratch.kernels` (the Cho GRU excepted; :func:`uses_kernels`), and ``*_backward``
follows its cache there. Everything else runs the NumPy loops of this module
(``*_forward_numpy``), described below.

Why it is fast (each point leaves the numbers of a seeded run bitwise unchanged):

- **Feature-major states.** Inside the loop h_t is an (H, N) array, so a step's pre-activations
  W_hh h_{t-1} are one (G*H, H) @ (H, N) product whose gate blocks are contiguous row blocks.
- **One tanh for all gates.** sigma(a) = (1 + tanh(a / 2)) / 2, with the 1/2 folded into the
  sigmoid gates' weight rows, so one ``tanh`` call covers every gate of a step; the LSTM's rows
  are reordered internally to i, f, o, g (the three sigmoid gates first).
- **Only the recurrence in the loop.** The input projections W_ih x_t + b of all steps, the
  weight gradients (dW_hh += da_t h_{t-1}^T, the same products in the same order as inside the
  loop), dx and dW_ih are done outside it, and so are the backward's factors that do not depend
  on the gradient (sigma' = s (1 - s), tanh' = 1 - g^2, o (1 - tanh(c)^2), ...). What remains per
  step is about ten NumPy calls writing into preallocated buffers (``out=``).
- **A second core.** That outside work runs on a helper thread in chunks of steps while the
  caller runs the loop (:mod:`rnnlab.scratch._lanes`), one BLAS thread each, when the arrays are
  large enough for it to pay (:func:`rnnlab.threads.engine_threads`). Each task is the same BLAS
  call on the same slice as without the helper, so the numbers do not depend on it.

Inputs may also be integer ids (T, N) in [0, D), standing for one-hot rows: the compiled loops
pick columns of W_ih, the NumPy loops run on the one-hot rows (:class:`OneHotCache`), and both
backwards return dx None.

Truncated BPTT (``truncate=k``) cuts the gradient carried through the recurrence at every window
boundary, as in the reference; ``truncate=None`` is full BPTT.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from rnnlab.scratch._checks import check_step_ids, is_ids
from rnnlab.scratch._lanes import Lane
from rnnlab.scratch.reference import (  # noqa: F401  (re-exported: one contract for both paths)
    B_HH,
    B_IH,
    BPTT,
    GATES,
    GRU_VARIANTS,
    PARAM_NAMES,
    W_HH,
    W_IH,
    Params,
    check_gru_variant,
    gru_step,
    lstm_step,
    rnn_step,
    sigmoid,
)
from rnnlab.scratch.reference import check_nonlinearity as _check_nonlinearity
from rnnlab.scratch.reference import check_truncate as _check_truncate
from rnnlab.scratch.reference import cut as _cut

# The helper thread pays when a pass's matrix products are large enough: below this many
# floating-point operations per pass (2 N G H (D + H) T), handing chunks over costs more than it
# saves. Chosen by measurement (docs/BENCHMARKS.md, engine).
LANE_MIN_FLOPS = 3.0e8
LANE_CHUNKS = 8  # chunks of steps per pass when the helper runs
# Weight gradients as one product over all steps from this many weight entries G*H*(D+H) up
# (see _StepSums); below it, step by step in the order of the original loop.
ONE_PRODUCT_MIN_WEIGHTS = 2**18


def _compiled(name: str, *args):
    """Call ``rnnlab.scratch.kernels.<name>`` (imported on first use: numba loads only then)."""
    from rnnlab.scratch import kernels

    return getattr(kernels, name)(*args)


def uses_kernels(dtype) -> bool:
    """True when the cells run the compiled loops of :mod:`rnnlab.scratch.kernels` (the GRU in
    PyTorch's variant): float32, the training dtype. float64 (gradient checks, gradient flow,
    Jacobians) and the Cho GRU run the NumPy loops here."""
    return np.dtype(dtype) == np.float32


class OneHotCache(NamedTuple):
    """The NumPy loops' cache for a forward given ids: they ran on the one-hot rows, and the
    backward returns dx None (ids have no gradient)."""

    inner: NamedTuple

    def final_state(self):
        return self.inner.final_state()


def _run_dtype(params: Params, x: np.ndarray):
    """The dtype a pass runs in: x's, or W_ih's when x holds integer ids (checked: (T, N), each
    in [0, D))."""
    if not is_ids(x):
        return x.dtype
    check_step_ids(x, params[W_IH].shape[1])
    return params[W_IH].dtype


def _numpy_loops(forward, params: Params, x: np.ndarray, *args):
    """``forward(params, x, *args)`` with the NumPy loops; ids run on their one-hot rows."""
    if not is_ids(x):
        return forward(params, x, *args)
    W_ih = params[W_IH]
    hs, cache = forward(params, np.eye(W_ih.shape[1], dtype=W_ih.dtype)[x], *args)
    return hs, OneHotCache(cache)


def _ids_give_no_dx(backward):
    """Let ``backward`` take the cache of a forward given ids (:class:`OneHotCache`): it runs on
    the one-hot rows' cache and returns dx None."""

    @functools.wraps(backward)
    def wrapper(params, dhs, cache, *args, **kwargs):
        if isinstance(cache, OneHotCache):
            return backward(params, dhs, cache.inner, *args, **kwargs)._replace(dx=None)
        return backward(params, dhs, cache, *args, **kwargs)

    return wrapper


def _lane(x_shape: tuple[int, int, int], G: int, H: int) -> Lane:
    from rnnlab.threads import engine_threads

    T, N, D = x_shape
    flops = 2.0 * N * G * H * (D + H) * T
    return Lane(enabled=T > 1 and flops >= LANE_MIN_FLOPS and engine_threads() >= 2)


def _chunks(T: int, lane: Lane) -> list[tuple[int, int]]:
    """Steps [t0, t1) per chunk: one chunk inline, about LANE_CHUNKS with the helper."""
    size = math.ceil(T / LANE_CHUNKS) if lane.parallel else T
    return [(t0, min(t0 + size, T)) for t0 in range(0, T, size)]


def _project(lane: Lane, W_ih: np.ndarray, bias: np.ndarray, x: np.ndarray, out: np.ndarray,
             chunks: list[tuple[int, int]]) -> list[int]:
    """Queue out[t] = W_ih x_t + bias, (G*H, D) @ (D, N), for each chunk; returns the task ids."""

    def task(t0, t1):
        xw = np.matmul(W_ih, x[t0:t1].transpose(0, 2, 1), out=out[t0:t1])  # (c, G*H, N)
        xw += bias[:, None]

    return [lane.add(lambda t0=t0, t1=t1: task(t0, t1)) for t0, t1 in chunks]


def _transpose_into(out: np.ndarray, a: np.ndarray, t0: int, t1: int) -> None:
    """out[t0:t1] = a[t0:t1] with the last two axes swapped (feature-major <-> time-major)."""
    out[t0:t1] = a[t0:t1].transpose(0, 2, 1)


def _outputs(lane: Lane, h: np.ndarray, t0: int, t1: int, hs: np.ndarray) -> None:
    """Queue hs[t] = h_{t+1}^T for the steps of one finished chunk."""
    lane.add(lambda: _transpose_into(hs, h[1:], t0, t1))


class _StepSums:
    """What BPTT sums over the steps, and dx.

    dx_t = (W_ih^T da_t)^T for each step, and the weight gradients

        dW_hh = sum_t dA_h[t] s_t^T     (s_t the state that multiplied W_hh: h_{t-1}, or r * h_{t-1})
        dW_ih = sum_t dA_in[t] x_t

    in one of two orders, chosen by the size of the weights, never by the threads, so that a
    problem's numbers do not depend on the machine:

    - *step by step* (below ONE_PRODUCT_MIN_WEIGHTS entries): dW_hh += dA_h[t] s_t^T from
      t = T-1 down to 0 as each chunk of the loop finishes, and dW_ih as the per-step products
      P_t = dA_in[t] x_t summed in the order t = 0..T-1;
    - *one product over all steps* (larger weights, where the per-step products are thin,
      N columns, and the P_t alone take T G H D floats): dW = A (G*H, T*N) @ S (T*N, .), as two
      row halves after the loop.
    """

    def __init__(self, W_ih: np.ndarray, x: np.ndarray, dA_in: np.ndarray, dA_h: np.ndarray,
                 states: list, shape_hh: tuple[int, int], dtype) -> None:
        T, N, D = x.shape
        self.W_ih_T, self.x, self.dA_in, self.dA_h, self.states = W_ih.T, x, dA_in, dA_h, states
        self.one_product = W_ih.shape[0] * (D + shape_hh[1]) >= ONE_PRODUCT_MIN_WEIGHTS
        self.dx = np.empty((T, N, D), dtype=dtype)
        self.dW_hh = np.zeros(shape_hh, dtype=dtype) if not self.one_product else np.empty(shape_hh, dtype=dtype)
        self.dW_ih: np.ndarray | None = None
        if self.one_product:
            self.dW_ih = np.empty(W_ih.shape, dtype=dtype)
        else:
            self.tmp = np.empty(shape_hh, dtype=dtype)
            self.P = np.empty((T, W_ih.shape[0], D), dtype=dtype)
        self.last: int | None = None  # the previous chunk's dW_hh task: the sum keeps its order

    def chunk_done(self, lane: Lane, t0: int, t1: int) -> None:
        """Queue the work of steps t0..t1-1, whose dA the loop has just finished."""
        dA_in, dA_h = self.dA_in, self.dA_h

        def inputs():
            dx = np.matmul(self.W_ih_T, dA_in[t0:t1])  # W_ih^T da_t      (D, G*H) @ (c, G*H, N)
            self.dx[t0:t1] = dx.transpose(0, 2, 1)
            if not self.one_product:
                np.matmul(dA_in[t0:t1], self.x[t0:t1], out=self.P[t0:t1])  # P_t = da_t x_t  (c, G*H, D)

        def weights():
            for t in reversed(range(t0, t1)):
                for rows, S in self.states:
                    self.dW_hh[rows] += np.matmul(dA_h[t, rows], S[t].T, out=self.tmp[rows])  # += da_t s_t^T

        lane.add(inputs)
        if not self.one_product:
            self.last = lane.add(weights, after=self.last)

    def after_loop(self, lane: Lane) -> None:
        """Queue the one-product weight gradients (nothing to do step by step)."""
        if not self.one_product:
            return
        T, N, D = self.x.shape
        GH = self.dA_in.shape[1]
        x_flat = self.x.reshape(T * N, D)

        def flat(A: np.ndarray, rows: slice) -> np.ndarray:
            """A[:, rows] (T, r, N) as one (r, T*N) matrix."""
            return A[:, rows].transpose(1, 0, 2).reshape(-1, T * N)

        def half(lo: int, hi: int) -> None:
            A_in = flat(self.dA_in, slice(lo, hi))
            self.dW_ih[lo:hi] = A_in @ x_flat  # sum_t da_t x_t over all steps at once
            A_h = A_in if self.dA_h is self.dA_in else flat(self.dA_h, slice(lo, hi))
            for rows, S in self.states:
                r0, r1 = max(lo, rows.start or 0), min(hi, GH if rows.stop is None else rows.stop)
                if r0 < r1:
                    S_flat = S[:T].transpose(1, 0, 2).reshape(S.shape[1], T * N)  # s_t for all steps
                    self.dW_hh[r0:r1] = A_h[r0 - lo : r1 - lo] @ S_flat.T

        mid = GH // 2
        lane.add(lambda: half(0, mid))
        lane.add(lambda: half(mid, GH))

    def weight_ih(self) -> np.ndarray:
        return self.dW_ih if self.one_product else self.P.sum(axis=0)


def _initial_grad(d: np.ndarray | None, H: int, N: int, dtype) -> np.ndarray:
    """A final-state gradient given as (N, H) (or None) -> a new feature-major (H, N) array."""
    return np.zeros((H, N), dtype=dtype) if d is None else np.array(d.T, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


class RNNCache(NamedTuple):
    """Saved by :func:`rnn_forward` for :func:`rnn_backward` (states feature-major)."""

    x: np.ndarray  # (T, N, D) inputs
    h: np.ndarray  # (T+1, H, N) states h_0..h_T
    nonlinearity: str

    def final_state(self) -> np.ndarray:
        """h_T (N, H), a new array."""
        return self.h[-1].T.copy()


def rnn_forward(params: Params, x: np.ndarray, h0: np.ndarray, nonlinearity: str = "tanh"):
    """Run a vanilla RNN over a sequence: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H), ``bias_ih_l0`` (H,), ``bias_hh_l0`` (H,).
    x : ndarray, (T, N, D), or integer ids (T, N) in [0, D) standing for one-hot rows
    h0 : ndarray, (N, H)
    nonlinearity : ``"tanh"`` or ``"relu"``

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T.
    cache : RNNCache or kernels.RNNRowsCache
        ``cache.final_state()`` is h_T.
    """
    _check_nonlinearity(nonlinearity)
    if uses_kernels(_run_dtype(params, x)):
        return _compiled("rnn_forward", params, x, h0, nonlinearity)
    return _numpy_loops(rnn_forward_numpy, params, x, h0, nonlinearity)


def rnn_forward_numpy(params: Params, x: np.ndarray, h0: np.ndarray, nonlinearity: str = "tanh"):
    """:func:`rnn_forward` in NumPy, for any dtype (feature-major ``RNNCache``)."""
    T, N, _ = x.shape
    W_hh = params[W_HH]
    H = W_hh.shape[0]
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    xw = np.empty((T, H, N), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    h[0] = h0.T
    with _lane(x.shape, 1, H) as lane:
        chunks = _chunks(T, lane)
        ready = _project(lane, params[W_IH], params[B_IH] + params[B_HH], x, xw, chunks)
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in range(t0, t1):
                a = np.matmul(W_hh, h[t], out=h[t + 1])  # W_hh h_{t-1}          (H, N)
                a += xw[t]  #                                + W_ih x_t + b
                if nonlinearity == "tanh":
                    np.tanh(a, out=a)  # h_t = tanh(a_t)
                else:
                    np.maximum(a, 0.0, out=a)  # h_t = max(a_t, 0)
            _outputs(lane, h, t0, t1, hs)
        lane.finish()
    return hs, RNNCache(x, h, nonlinearity)


@_ids_give_no_dx
def rnn_backward(params: Params, dhs: np.ndarray, cache: RNNCache, dh_T: np.ndarray | None = None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`rnn_forward`.

    Parameters
    ----------
    params : dict
        As for :func:`rnn_forward`.
    dhs : ndarray, (T, N, H)
        dL/dh_t from the loss at each step.
    cache : RNNCache
        From :func:`rnn_forward` with the same parameters.
    dh_T : ndarray (N, H), optional
        Extra gradient on the final state h_T.
    truncate : int, optional
        Truncated BPTT window k; None for full BPTT.

    Returns
    -------
    BPTT
        dx (T, N, D) (None when the forward got ids), dstate0 = dL/dh_0 (N, H), grads, dh (T, N, H).
    """
    _check_truncate(truncate)
    if not isinstance(cache, RNNCache):
        return _compiled("rnn_backward", params, dhs, cache, dh_T, truncate)
    x, h, relu = cache.x, cache.h, cache.nonlinearity == "relu"
    T, N, H = dhs.shape
    W_hh = params[W_HH]
    dtype = dhs.dtype
    dhs_f = np.empty((T, H, N), dtype=dtype)  # becomes the total dL/dh_t
    dh_out = np.empty((T, N, H), dtype=dtype)  # the same, time-major, for the caller
    dA = np.empty((T, H, N), dtype=dtype)  # dL/da_t, a_t the pre-activation
    slope = np.empty((T, H, N), dtype=bool if relu else dtype)  # tanh'(a_t) = 1 - h_t^2, relu' = [h_t > 0]
    dh_next = _initial_grad(dh_T, H, N, dtype)
    sums = _StepSums(params[W_IH], x, dA, dA, [(slice(None), h)], W_hh.shape, dtype)

    def prepare(t0, t1):
        _transpose_into(dhs_f, dhs, t0, t1)
        if relu:
            np.greater(h[t0 + 1 : t1 + 1], 0, out=slope[t0:t1])
        else:
            s = np.multiply(h[t0 + 1 : t1 + 1], h[t0 + 1 : t1 + 1], out=slope[t0:t1])
            np.subtract(1.0, s, out=s)

    with _lane(x.shape, 1, H) as lane:
        chunks = _chunks(T, lane)[::-1]
        ready = [lane.add(lambda t0=t0, t1=t1: prepare(t0, t1)) for t0, t1 in chunks]
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in reversed(range(t0, t1)):
                dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])  # direct + from step t+1: dL/dh_t
                np.multiply(dh, slope[t], out=dA[t])  # da_t = dL/dh_t * f'(a_t)
                if _cut(t, truncate):
                    dh_next = np.zeros_like(dh_next)
                else:
                    dh_next = W_hh.T @ dA[t]  # dL/dh_{t-1} through W_hh
            sums.chunk_done(lane, t0, t1)
            lane.add(lambda t0=t0, t1=t1: _transpose_into(dh_out, dhs_f, t0, t1))
        sums.after_loop(lane)
        lane.finish()
    db = dA.sum(axis=(0, 2))
    grads = {W_IH: sums.weight_ih(), W_HH: sums.dW_hh, B_IH: db, B_HH: db.copy()}
    return BPTT(sums.dx, dh_next.T.copy(), grads, dh_out)


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

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h_T, c_T), each (N, H), as new arrays."""
        return self.h[-1].T.copy(), self.c[-1].T.copy()


def lstm_forward(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """Run an LSTM (PyTorch's formulation, see :func:`reference.lstm_step`) over a sequence.

    float32 runs the compiled loop of :mod:`rnnlab.scratch.kernels` (its cache is a
    ``kernels.LSTMRowsCache``); other dtypes run :func:`lstm_forward_numpy`.

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (4H, D), ``weight_hh_l0`` (4H, H), ``bias_ih_l0`` (4H,),
        ``bias_hh_l0`` (4H,); gate blocks i, f, g, o.
    x : ndarray, (T, N, D), or integer ids (T, N) in [0, D) standing for one-hot rows
    state0 : pair of ndarray
        (h0, c0), each (N, H).

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T.
    cache : LSTMCache or kernels.LSTMRowsCache
        ``cache.final_state()`` is (h_T, c_T).
    """
    if uses_kernels(_run_dtype(params, x)):
        return _compiled("lstm_forward", params, x, state0)
    return _numpy_loops(lstm_forward_numpy, params, x, state0)


def lstm_forward_numpy(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """:func:`lstm_forward` in NumPy, for any dtype (feature-major ``LSTMCache``)."""
    T, N, _ = x.shape
    H = params[W_HH].shape[1]
    H3 = 3 * H
    perm = _lstm_perm(H)
    half = _half_rows(H3, H, x.dtype)  # i, f, o rows pre-scaled by 1/2
    W_hh = params[W_HH][perm] * half  # (4H, H)
    W_ih = params[W_IH][perm] * half  # (4H, D)
    bias = (params[B_IH] + params[B_HH])[perm] * half[:, 0]
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    c = np.empty((T + 1, H, N), dtype=x.dtype)
    gates = np.empty((T, 4 * H, N), dtype=x.dtype)
    tanh_c = np.empty((T, H, N), dtype=x.dtype)
    xw = np.empty((T, 4 * H, N), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    ig = np.empty((H, N), dtype=x.dtype)
    h[0], c[0] = state0[0].T, state0[1].T
    with _lane(x.shape, 4, H) as lane:
        chunks = _chunks(T, lane)
        ready = _project(lane, W_ih, bias, x, xw, chunks)
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in range(t0, t1):
                a = np.matmul(W_hh, h[t], out=gates[t])  # W_hh h_{t-1}        (4H, N)
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
            _outputs(lane, h, t0, t1, hs)
        lane.finish()
    return hs, LSTMCache(x, h, c, gates, tanh_c)


@_ids_give_no_dx
def lstm_backward(params: Params, dhs: np.ndarray, cache: LSTMCache,
                  dstate_T: tuple[np.ndarray | None, np.ndarray | None] | None = None,
                  truncate: int | None = None) -> BPTT:
    """BPTT for :func:`lstm_forward`.

    Per step, from the total dL/dh_t = dh and the cell gradient dc_next = dL/dc_t arriving from
    step t+1 (internal gate order i, f, o, g)::

        dc  = dc_next + dh * o * (1 - tanh(c_t)^2)
        da_i = dc * g * i (1 - i)          da_f = dc * c_{t-1} * f (1 - f)
        da_o = dh * tanh(c_t) * o (1 - o)   da_g = dc * i * (1 - g^2)
        dL/dh_{t-1} = W_hh^T da_t          dL/dc_{t-1} = dc * f

    Parameters
    ----------
    params : dict
        As for :func:`lstm_forward`.
    dhs : ndarray, (T, N, H)
        dL/dh_t from the loss at each step.
    cache : LSTMCache
        From :func:`lstm_forward` with the same parameters.
    dstate_T : pair, optional
        (dh_T, dc_T), extra gradients on the final state, each (N, H) or None.
    truncate : int, optional
        Truncated BPTT window k; None for full BPTT.

    Returns
    -------
    BPTT
        dx (T, N, D) (None when the forward got ids), dstate0 = (dh0, dc0), grads in torch's layout, dh (T, N, H).
    """
    _check_truncate(truncate)
    if not isinstance(cache, LSTMCache):
        return _compiled("lstm_backward", params, dhs, cache, dstate_T, truncate)
    x, h, c, gates, tanh_c = cache.x, cache.h, cache.c, cache.gates, cache.tanh_c
    T, N, H = dhs.shape
    H3 = 3 * H
    dtype = dhs.dtype
    perm = _lstm_perm(H)
    W_hh = params[W_HH][perm]  # (4H, H) internal order, unscaled
    dh_T, dc_T = dstate_T if dstate_T is not None else (None, None)
    dh_next = _initial_grad(dh_T, H, N, dtype)
    dc_next = _initial_grad(dc_T, H, N, dtype)
    dhs_f = np.empty((T, H, N), dtype=dtype)  # becomes the total dL/dh_t
    dh_out = np.empty((T, N, H), dtype=dtype)  # the same, time-major, for the caller
    dA = np.empty((T, 4 * H, N), dtype=dtype)  # dL/d(pre-activations), internal order
    dsig = np.empty((T, 4 * H, N), dtype=dtype)  # s (1 - s) for i, f, o; 1 - g^2 for g
    odc = np.empty((T, H, N), dtype=dtype)  # o (1 - tanh(c)^2): dh -> dc
    dc = np.empty((H, N), dtype=dtype)
    sums = _StepSums(params[W_IH][perm], x, dA, dA, [(slice(None), h)], W_hh.shape, dtype)

    def prepare(t0, t1):  # what does not depend on the gradient, for steps t0..t1-1
        _transpose_into(dhs_f, dhs, t0, t1)
        k = np.multiply(tanh_c[t0:t1], tanh_c[t0:t1], out=odc[t0:t1])
        np.subtract(1.0, k, out=k)
        k *= gates[t0:t1, 2 * H : H3]  # o (1 - tanh(c)^2)
        s, ds = gates[t0:t1, :H3], dsig[t0:t1, :H3]
        np.subtract(1.0, s, out=ds)
        ds *= s  # sigma' = s (1 - s)
        g, dg = gates[t0:t1, H3:], dsig[t0:t1, H3:]
        np.multiply(g, g, out=dg)
        np.subtract(1.0, dg, out=dg)  # tanh' = 1 - g^2

    with _lane(x.shape, 4, H) as lane:
        chunks = _chunks(T, lane)[::-1]
        ready = [lane.add(lambda t0=t0, t1=t1: prepare(t0, t1)) for t0, t1 in chunks]
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in reversed(range(t0, t1)):
                g_t, da, tc = gates[t], dA[t], tanh_c[t]
                i, f, g = g_t[:H], g_t[H : 2 * H], g_t[H3:]
                dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])  # direct + from step t+1: dL/dh_t
                np.multiply(odc[t], dh, out=dc)
                dc += dc_next  # dc = dc_next + dh * o * (1 - tanh(c_t)^2)
                np.multiply(dc, g, out=da[:H])  # di = dc * g
                np.multiply(dc, c[t], out=da[H : 2 * H])  # df = dc * c_{t-1}
                np.multiply(dh, tc, out=da[2 * H : H3])  # do = dh * tanh(c_t)
                np.multiply(dc, i, out=da[H3:])  # dg = dc * i
                da *= dsig[t]  # through sigma' and tanh'
                if _cut(t, truncate):
                    dh_next = np.zeros_like(dh_next)
                    dc_next = np.zeros_like(dc_next)
                else:
                    dh_next = W_hh.T @ da  # dL/dh_{t-1}
                    dc_next = dc * f  # dL/dc_{t-1}: the additive cell path
            sums.chunk_done(lane, t0, t1)
            lane.add(lambda t0=t0, t1=t1: _transpose_into(dh_out, dhs_f, t0, t1))
        sums.after_loop(lane)
        lane.finish()
    db = dA.sum(axis=(0, 2))
    inv = np.argsort(perm)  # internal i, f, o, g -> torch's i, f, g, o
    grads = {W_IH: sums.weight_ih()[inv], W_HH: sums.dW_hh[inv], B_IH: db[inv], B_HH: db[inv]}
    return BPTT(sums.dx, (dh_next.T.copy(), dc_next.T.copy()), grads, dh_out)


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------


class GRUCache(NamedTuple):
    """Saved by :func:`gru_forward` for :func:`gru_backward` (feature-major)."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, H, N)
    gates: np.ndarray  # (T, 3H, N) activated r, z, n
    hn: np.ndarray  # (T, H, N) torch: W_hn h_{t-1} + b_hn;  cho: r * h_{t-1}
    variant: str

    def final_state(self) -> np.ndarray:
        """h_T (N, H), a new array."""
        return self.h[-1].T.copy()


def gru_forward(params: Params, x: np.ndarray, h0: np.ndarray, variant: str = "torch"):
    """Run a GRU (see :func:`reference.gru_step`) over a sequence.

    Parameters
    ----------
    params : dict
        ``weight_ih_l0`` (3H, D), ``weight_hh_l0`` (3H, H), ``bias_ih_l0`` (3H,),
        ``bias_hh_l0`` (3H,); gate blocks r, z, n.
    x : ndarray, (T, N, D), or integer ids (T, N) in [0, D) standing for one-hot rows
    h0 : ndarray, (N, H)
    variant : ``"torch"`` or ``"cho"``

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T.
    cache : GRUCache or kernels.GRURowsCache
        ``cache.final_state()`` is h_T.
    """
    check_gru_variant(variant)
    if uses_kernels(_run_dtype(params, x)) and variant == "torch":
        return _compiled("gru_forward", params, x, h0)
    return _numpy_loops(gru_forward_numpy, params, x, h0, variant)


def gru_forward_numpy(params: Params, x: np.ndarray, h0: np.ndarray, variant: str = "torch"):
    """:func:`gru_forward` in NumPy, for any dtype and both variants (feature-major ``GRUCache``)."""
    check_gru_variant(variant)
    T, N, _ = x.shape
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in PARAM_NAMES)
    H = W_hh.shape[1]
    H2 = 2 * H
    half = _half_rows(H2, H, x.dtype)  # r, z rows pre-scaled by 1/2
    bias = b_ih.copy()
    bias[:H2] += b_hh[:H2]  # r, z: both biases fold into the input projection; n: only b_in
    W_rz = W_hh[:H2] * 0.5  # (2H, H), pre-scaled
    W_n = W_hh[H2:]  # (H, H)
    W_all = np.concatenate([W_rz, W_n])  # torch variant: one product for r, z and W_hn h
    b_hn = b_hh[H2:, None]  # (H, 1)
    h = np.empty((T + 1, H, N), dtype=x.dtype)
    gates = np.empty((T, 3 * H, N), dtype=x.dtype)
    hn = np.empty((T, H, N), dtype=x.dtype)
    xw = np.empty((T, 3 * H, N), dtype=x.dtype)
    hs = np.empty((T, N, H), dtype=x.dtype)
    h[0] = h0.T
    with _lane(x.shape, 3, H) as lane:
        chunks = _chunks(T, lane)
        ready = _project(lane, W_ih * half, bias * half[:, 0], x, xw, chunks)
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in range(t0, t1):
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
            _outputs(lane, h, t0, t1, hs)
        lane.finish()
    return hs, GRUCache(x, h, gates, hn, variant)


@_ids_give_no_dx
def gru_backward(params: Params, dhs: np.ndarray, cache: GRUCache, dh_T: np.ndarray | None = None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`gru_forward`.

    Per step, from the total dL/dh_t = dh::

        dz = dh * (h_{t-1} - n)               da_z = dz * z (1 - z)
        da_n = dh * (1 - n^2) * (1 - z)       (reaches W_in x + b_in)
        torch: d(W_hn h + b_hn) = da_n * r     da_r = da_n * (W_hn h + b_hn) * r (1 - r)
        cho:   d(r h) = W_hn^T da_n            da_r = d(r h) * h_{t-1} * r (1 - r)
        dL/dh_{t-1} = dh * z + W_hh^T [da_r; da_z; d(W_hn h + b_hn)]   (cho: + d(r h) * r)

    Parameters
    ----------
    params : dict
        As for :func:`gru_forward`.
    dhs : ndarray, (T, N, H)
        dL/dh_t from the loss at each step.
    cache : GRUCache
        From :func:`gru_forward` with the same parameters.
    dh_T : ndarray (N, H), optional
        Extra gradient on the final state h_T.
    truncate : int, optional
        Truncated BPTT window k; None for full BPTT.

    Returns
    -------
    BPTT
        dx (T, N, D) (None when the forward got ids), dstate0 = dL/dh_0 (N, H), grads, dh (T, N, H).
    """
    _check_truncate(truncate)
    if not isinstance(cache, GRUCache):
        return _compiled("gru_backward", params, dhs, cache, dh_T, truncate)
    x, h, gates, hn, variant = cache.x, cache.h, cache.gates, cache.hn, cache.variant
    torch_variant = variant == "torch"
    T, N, H = dhs.shape
    H2 = 2 * H
    dtype = dhs.dtype
    W_hh = params[W_HH]
    W_rz, W_n = W_hh[:H2], W_hh[H2:]  # (2H, H), (H, H)
    dhs_f = np.empty((T, H, N), dtype=dtype)  # becomes the total dL/dh_t
    dh_out = np.empty((T, N, H), dtype=dtype)  # the same, time-major, for the caller
    dA_in = np.empty((T, 3 * H, N), dtype=dtype)  # reaches W_ih x + b_ih
    dA_h = np.empty((T, 3 * H, N), dtype=dtype)  # reaches W_hh (.) + b_hh
    hmn = np.empty((T, H, N), dtype=dtype)  # h_{t-1} - n
    dtanh_n = np.empty((T, H, N), dtype=dtype)  # 1 - n^2
    one_z = np.empty((T, H, N), dtype=dtype)  # 1 - z
    dsig = np.empty((T, H2, N), dtype=dtype)  # r (1 - r), z (1 - z)
    dz, tmp, drh = (np.empty((H, N), dtype=dtype) for _ in range(3))  # dz; W_hh^T da; cho: d(r * h)
    dh_next = _initial_grad(dh_T, H, N, dtype)
    db_hh = np.zeros(3 * H, dtype=dtype)
    states = [(slice(None), h)] if torch_variant else [(slice(0, H2), h), (slice(H2, 3 * H), hn)]  # cho: W_hn multiplies r * h
    sums = _StepSums(params[W_IH], x, dA_in, dA_h, states, W_hh.shape, dtype)
    last_db: list[int | None] = [None]

    def prepare(t0, t1):  # what does not depend on the gradient, for steps t0..t1-1
        _transpose_into(dhs_f, dhs, t0, t1)
        g = gates[t0:t1]
        r, z, n = g[:, :H], g[:, H:H2], g[:, H2:]
        np.subtract(h[t0:t1], n, out=hmn[t0:t1])
        d = np.multiply(n, n, out=dtanh_n[t0:t1])
        np.subtract(1.0, d, out=d)
        np.subtract(1.0, z, out=one_z[t0:t1])
        np.multiply(r, 1.0 - r, out=dsig[t0:t1, :H])
        np.multiply(z, one_z[t0:t1], out=dsig[t0:t1, H:])

    def bias_grads(t0, t1):
        for t in reversed(range(t0, t1)):
            db_hh[:] += dA_h[t].sum(axis=1)  # db_hh += sum over the batch, from t = T-1 down

    with _lane(x.shape, 3, H) as lane:
        chunks = _chunks(T, lane)[::-1]
        ready = [lane.add(lambda t0=t0, t1=t1: prepare(t0, t1)) for t0, t1 in chunks]
        for (t0, t1), task in zip(chunks, ready):
            lane.wait(task)
            for t in reversed(range(t0, t1)):
                g = gates[t]
                r, z = g[:H], g[H:H2]
                dah, dan = dA_h[t], dA_in[t, H2:]
                dar, daz = dah[:H], dah[H:H2]
                dh = np.add(dhs_f[t], dh_next, out=dhs_f[t])  # direct + from step t+1: dL/dh_t
                np.multiply(hmn[t], dh, out=dz)  # dz = dh * (h_{t-1} - n)
                np.multiply(dtanh_n[t], dh, out=dan)
                dan *= one_z[t]  # da_n = dh * (1 - z) * (1 - n^2)
                if torch_variant:
                    np.multiply(dan, r, out=dah[H2:])  # d(W_hn h + b_hn) = da_n * r
                    np.multiply(dan, hn[t], out=dar)  # dr = da_n * (W_hn h + b_hn)
                else:
                    dah[H2:] = dan  # d(W_hn (r h) + b_hn) = da_n
                    np.matmul(W_n.T, dan, out=drh)  # d(r * h)
                    np.multiply(drh, h[t], out=dar)  # dr = d(r h) * h_{t-1}
                dar *= dsig[t, :H]  # through sigma
                np.multiply(dsig[t, H:], dz, out=daz)
                if _cut(t, truncate):
                    dh_next = np.zeros_like(dh_next)
                    continue
                dh_next = dh * z  # direct path through z * h_{t-1}
                if torch_variant:
                    dh_next += np.matmul(W_hh.T, dah, out=tmp)  # through r, z and W_hn h
                else:
                    dh_next += np.matmul(W_rz.T, dah[:H2], out=tmp)  # through r and z
                    dh_next += drh * r  # through r * h
            dA_in[t0:t1, :H2] = dA_h[t0:t1, :H2]  # r and z reach both sides alike
            sums.chunk_done(lane, t0, t1)
            lane.add(lambda t0=t0, t1=t1: _transpose_into(dh_out, dhs_f, t0, t1))
            last_db[0] = lane.add(lambda t0=t0, t1=t1: bias_grads(t0, t1), after=last_db[0])
        sums.after_loop(lane)
        lane.finish()
    grads = {W_IH: sums.weight_ih(), W_HH: sums.dW_hh, B_IH: dA_in.sum(axis=(0, 2)), B_HH: db_hh}
    return BPTT(sums.dx, dh_next.T.copy(), grads, dh_out)
