"""Compiled LSTM loops for float32: the fast path's LSTM at torch's speed. Read reference.py first.

The LSTM's cost is its recurrence: per step one product W_hh h_{t-1} and a dozen elementwise
operations, which NumPy runs as a dozen separate calls. Here each sequence loop, forward and
backward, is one function compiled by numba: per step one BLAS product and one fused pass over
the gates. The mathematics is exactly :func:`rnnlab.scratch.reference.lstm_step` and its
backward twin; the tests hold the two equal (to 1e-10 in float64).

What makes it fast:

- **Batch halves on two threads.** The rows of a batch never interact in a sequence loop, so
  the batch is cut into two blocks and each block runs its whole loop, forward or backward, on
  its own thread, with no synchronisation per step (numba releases the GIL). The products
  around the loops (W_ih x_t for all steps; dx and the weight gradients, each a single product
  over all steps and rows) are cut in two as well. Whether to cut depends on the shape only
  (:func:`split`), so one thread or two give bitwise the same numbers.
- **Feature-major states**, step by step: h_t is (H, N), so a block's recurrent product reads
  compact memory and BLAS gets the orientation where the weight matrix is the wide operand
  (1.5x faster than the batch-major one at H = 512 on this OpenBLAS).
- **tanh in float32** is a rational function x P(x^2) / Q(x^2) evaluated in float64 and rounded
  once (:func:`tanh_f32`): within 1 unit in the last place of the exact tanh for every float32
  (NumPy's own float32 tanh is within about 1.4 units), and vectorised by the compiler where the
  C library's ``tanhf`` is not. Sigmoid is (1 + tanh(a / 2)) / 2, as in the reference. float64
  uses the C library's ``tanh``.

Layouts: the caller's x (T, N, D), hs and dh (T, N, H); inside, states (T+1, H, N) and gates
(T, 4H, N) in torch's order i, f, g, o, plus a batch-major copy of the states (T+1, N, H) that
doubles as the returned hs (read-only) and as the h_{t-1} rows of dW_hh.
"""

from __future__ import annotations

import ctypes
import functools
import math
from typing import NamedTuple

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the loops call: loaded before the controller below)
from numba.extending import get_cython_function_address, overload
from threadpoolctl import ThreadpoolController

from rnnlab.scratch.reference import B_HH, B_IH, BPTT, W_HH, W_IH, Params

# tanh(x) = x P(x^2) / Q(x^2) on |x| <= TANH_CLAMP, and +-1 beyond (where float32 tanh is 1).
# Fitted for relative error (1.3e-9 at most) by scripts/fit_tanh.py; do not edit by hand.
TANH_CLAMP = 9.0
TANH_P = (0.9999999987297791, 0.13680862765000307, 0.0038695158191837486, 2.8031462848697838e-05,
          3.064286891718828e-08, -1.2246477410578923e-11)
TANH_Q = (1.0, 0.4701419485667652, 0.02725018550848279, 0.00039407269676894905, 1.2890453869571385e-06)
_P0, _P1, _P2, _P3, _P4, _P5 = TANH_P
_Q0, _Q1, _Q2, _Q3, _Q4 = TANH_Q

# Work is cut in two from this many floating-point operations per pass (2 N 4H (D + H) T) up:
# below it, handing half to the helper thread costs more than it saves (measured: 2.6e7 lost,
# 5.3e7 gained; docs/BENCHMARKS.md). Each half of the batch has at least MIN_BLOCK rows.
THREAD_MIN_FLOPS = 4.0e7
MIN_BLOCK = 8

_ONE, _ZERO = np.float32(1), np.float32(0)  # float32 in float32 loops, promoted in float64 ones
_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}  # numpy's error model: loops vectorise

# Every BLAS call runs on one BLAS thread: the two threads are the batch blocks'.
_BLAS = ThreadpoolController()


def _one_blas_thread(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _BLAS.limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


def _cython_blas(name: str):
    """scipy's BLAS ``name`` (Fortran: every argument a pointer) as a ctypes function."""
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(address)


_GEMM = {np.dtype(np.float32): _cython_blas("sgemm"), np.dtype(np.float64): _cython_blas("dgemm")}


# --------------------------------------------------------------------------------------------
# tanh and the gates
# --------------------------------------------------------------------------------------------


@numba.njit(inline="always", error_model="numpy", cache=True)
def _tanh_rational(v):
    """tanh(v) for a float64 v, to 1.3e-9 relative: the float32 tanh before its rounding."""
    if v > TANH_CLAMP:  # NaN fails both tests and stays NaN
        v = TANH_CLAMP
    if v < -TANH_CLAMP:
        v = -TANH_CLAMP
    z = v * v
    p = ((((_P5 * z + _P4) * z + _P3) * z + _P2) * z + _P1) * z + _P0
    q = (((_Q4 * z + _Q3) * z + _Q2) * z + _Q1) * z + _Q0
    return v * p / q


def _tanh(x):  # compiled per dtype by the overload below
    raise NotImplementedError


def _gate(a, k, s, o):  # o + s tanh(k a), compiled per dtype by the overload below
    raise NotImplementedError


@overload(_tanh, inline="always")
def _tanh_impl(x):
    if x == numba.types.float32:
        return lambda x: np.float32(_tanh_rational(np.float64(x)))
    return lambda x: math.tanh(x)


@overload(_gate, inline="always")
def _gate_impl(a, k, s, o):
    if a == numba.types.float32:
        return lambda a, k, s, o: np.float32(o + s * _tanh_rational(k * np.float64(a)))
    return lambda a, k, s, o: o + s * math.tanh(k * a)


@numba.njit(**_JIT)
def _tanh_array(x, out):
    for k in range(x.size):
        out[k] = _tanh(x[k])


def tanh_f32(x: np.ndarray) -> np.ndarray:
    """The float32 tanh of the compiled loops, on an array (for tests and inspection)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _tanh_array(x.reshape(-1), out.reshape(-1))
    return out


def _gate_form(H: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, s, o) per gate row for the activation o + s tanh(k a): 1/2, 1/2, 1/2 for the sigmoid
    rows i, f, o (sigma(a) = (1 + tanh(a/2)) / 2); 1, 1, 0 for the g rows (tanh)."""
    k = np.full(4 * H, 0.5)
    k[2 * H : 3 * H] = 1.0
    o = np.full(4 * H, 0.5)
    o[2 * H : 3 * H] = 0.0
    return k, k.copy(), o


# --------------------------------------------------------------------------------------------
# The loops
# --------------------------------------------------------------------------------------------


@numba.njit(**_JIT)
def _gemm(gemm, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc):
    """C = A op(B) + beta C through BLAS ``gemm`` (column-major): A m x k read at ``a[a_off:]``
    with leading dimension ``lda``, op(B) k x n (B transposed when ``trans_b``), C m x n; a, b
    and c are flat arrays.

    A row-major (R, C) array read column-major with leading dimension C is its transpose, so
    columns n0..n1-1 of a feature-major (units, N) state are an (n1 - n0, units) matrix at
    offset n0 with leading dimension N.
    """
    dims = np.empty(6, np.int32)
    dims[0], dims[1], dims[2], dims[3], dims[4], dims[5] = m, n, k, lda, ldb, ldc
    scal = np.empty(2, c.dtype)
    scal[0], scal[1] = 1, beta
    flags = np.empty(2, np.uint8)
    flags[0], flags[1] = 78, 84 if trans_b else 78  # 'N', 'T'
    gemm(flags[0:].ctypes, flags[1:].ctypes, dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes,
         scal[0:].ctypes, a[a_off:].ctypes, dims[3:].ctypes, b[b_off:].ctypes, dims[4:].ctypes,
         scal[1:].ctypes, c[c_off:].ctypes, dims[5:].ctypes)


@numba.njit(**_JIT)
def _lstm_forward_rows(gemm, W_hh, bias, gk, gs, go, h, c, act, tanh_c, h_rows, n0, n1):
    """Steps 0..T-1 for batch rows n0..n1-1 of h, c, act, tanh_c and h_rows.

    ``act`` (T, 4H, N) holds W_ih x_t on entry; h and c are (T+1, H, N), h_rows (T+1, N, H),
    all with step 0 set. Per step::

        a = W_ih x_t + W_hh h_{t-1} + b         (the recurrent product added onto act[t])
        i, f, o = sigma(a_i, a_f, a_o)   g = tanh(a_g)     (gate row r: go[r] + gs[r] tanh(gk[r] a))
        c_t = f c_{t-1} + i g            h_t = o tanh(c_t)
    """
    G, H = W_hh.shape
    T, _, N = act.shape
    n = n1 - n0
    h_flat, act_flat, W_flat = h.ravel(), act.ravel(), W_hh.ravel()
    for t in range(T):
        a_t = act[t]
        # a += W_hh h_{t-1}: (n, H) @ (H, 4H) onto this block's columns of act[t], column-major
        _gemm(gemm, False, n, G, H, h_flat, t * H * N + n0, N, W_flat, 0, H, 1.0, act_flat, t * G * N + n0, N)
        for r in range(G):
            a, k, sc, off, b = a_t[r, n0:n1], gk[r], gs[r], go[r], bias[r]
            for q in range(n):
                a[q] = _gate(a[q] + b, k, sc, off)
        for j in range(H):
            i, f, g, o = a_t[j, n0:n1], a_t[H + j, n0:n1], a_t[2 * H + j, n0:n1], a_t[3 * H + j, n0:n1]
            c_prev, c_new, h_new, tc_new = c[t, j, n0:n1], c[t + 1, j, n0:n1], h[t + 1, j, n0:n1], tanh_c[t, j, n0:n1]
            for q in range(n):
                ct = f[q] * c_prev[q] + i[q] * g[q]  # c_t = f * c_{t-1} + i * g
                tc = _tanh(ct)
                c_new[q] = ct
                tc_new[q] = tc
                h_new[q] = o[q] * tc  # h_t = o * tanh(c_t)
        h_new_t, rows = h[t + 1], h_rows[t + 1]
        for q in range(n0, n1):  # h_t batch-major too, read from the block just written
            out = rows[q]
            for j in range(H):
                out[j] = h_new_t[j, q]


@numba.njit(**_JIT)
def _lstm_backward_rows(gemm, W_hhT, dhs, act, c, tanh_c, dh_total, dA, dh_next, dc_next, dh, truncate, n0, n1):
    """BPTT from step T-1 down to 0 for batch rows n0..n1-1 (``truncate`` 0: full BPTT).

    Layouts as in :func:`_lstm_forward_rows`; dhs and dh_total (T, N, H), dA (T, 4H, N), dh_next
    and dc_next (H, N), ``dh`` an (H, n1 - n0) scratch. Per step, from dh = dL/dh_t (direct + from step t+1) and
    dc_next = dL/dc_t from step t+1::

        dc = dc_next + dh o (1 - tanh(c_t)^2)
        da_i = dc g i (1 - i)    da_f = dc c_{t-1} f (1 - f)
        da_g = dc i (1 - g^2)    da_o = dh tanh(c_t) o (1 - o)
        dL/dh_{t-1} = W_hh^T da   dL/dc_{t-1} = dc f

    On return dh_next and dc_next hold dL/dh_0 and dL/dc_0 for these rows; dx and the weight
    gradients are products over all steps, after the loop (:func:`_step_sums`).
    """
    H, G = W_hhT.shape
    T, _, N = dA.shape
    n = n1 - n0
    dA_flat, W_flat, dh_flat = dA.ravel(), W_hhT.ravel(), dh_next.ravel()
    for t in range(T - 1, -1, -1):
        cut = truncate > 0 and t > 0 and t % truncate == 0
        a_t, d_t = act[t], dA[t]
        for q in range(n):  # dh = direct + from step t+1, feature-major
            direct = dhs[t, n0 + q]
            for j in range(H):
                dh[j, q] = direct[j] + dh_next[j, n0 + q]
        for j in range(H):
            i, f, g, o = a_t[j, n0:n1], a_t[H + j, n0:n1], a_t[2 * H + j, n0:n1], a_t[3 * H + j, n0:n1]
            da_i, da_f, da_g, da_o = d_t[j, n0:n1], d_t[H + j, n0:n1], d_t[2 * H + j, n0:n1], d_t[3 * H + j, n0:n1]
            c_prev, tc_row, dh_row, dc_row = c[t, j, n0:n1], tanh_c[t, j, n0:n1], dh[j], dc_next[j, n0:n1]
            for q in range(n):
                tc = tc_row[q]
                dc = dc_row[q] + dh_row[q] * o[q] * (_ONE - tc * tc)
                da_i[q] = dc * g[q] * (i[q] * (_ONE - i[q]))
                da_f[q] = dc * c_prev[q] * (f[q] * (_ONE - f[q]))
                da_g[q] = dc * i[q] * (_ONE - g[q] * g[q])
                da_o[q] = dh_row[q] * tc * (o[q] * (_ONE - o[q]))
                dc_row[q] = _ZERO if cut else dc * f[q]
        for q in range(n):
            out = dh_total[t, n0 + q]
            for j in range(H):
                out[j] = dh[j, q]
        if cut:
            dh_next[:, n0:n1] = 0
        else:  # dL/dh_{t-1} = W_hh^T da: (n, 4H) @ (4H, H) into dh_next's columns, column-major
            _gemm(gemm, False, n, H, G, dA_flat, t * G * N + n0, N, W_flat, 0, G, 0.0, dh_flat, n0, N)


# --------------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------------


class LSTMRowsCache(NamedTuple):
    """Saved by :func:`lstm_forward` for :func:`lstm_backward`."""

    x: np.ndarray  # (T, N, D)
    h: np.ndarray  # (T+1, H, N) h_0..h_T, feature-major
    h_rows: np.ndarray  # (T+1, N, H) the same, batch-major (its [1:] is the returned hs)
    c: np.ndarray  # (T+1, H, N) c_0..c_T
    act: np.ndarray  # (T, 4H, N) activated gates i, f, g, o
    tanh_c: np.ndarray  # (T, H, N)

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h_T, c_T), each (N, H), as new arrays."""
        return self.h_rows[-1].copy(), self.c[-1].T.copy()


def split(n: int, flops: float, min_block: int = MIN_BLOCK) -> list[tuple[int, int]]:
    """Ranges [a, b) covering 0..n: two halves for a problem of THREAD_MIN_FLOPS or more with
    n >= 2 * min_block, else one. A function of the shape only, never of the threads, so that
    one thread or two give bitwise the same numbers."""
    if flops < THREAD_MIN_FLOPS or n < 2 * min_block:
        return [(0, n)]
    return [(0, n // 2), (n // 2, n)]


def _run_blocks(blocks: list[tuple[int, int]], work) -> None:
    """Run ``work(a, b)`` for each block, the second on the helper thread when there are two
    and the engine may use two threads (:func:`rnnlab.threads.engine_threads`)."""
    from rnnlab.scratch._lanes import Lane
    from rnnlab.threads import engine_threads

    with Lane(enabled=len(blocks) > 1 and engine_threads() >= 2) as lane:
        for a, b in blocks[1:]:
            lane.add(lambda a=a, b=b: work(a, b))
        work(*blocks[0])
        lane.finish()


def _flops(T: int, N: int, D: int, H: int) -> float:
    """Floating-point operations of one pass's products: 2 N 4H (D + H) T."""
    return 2.0 * N * 4 * H * (D + H) * T


@_one_blas_thread
def lstm_forward(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """Run an LSTM over a sequence with the compiled loops (float32 or float64).

    Parameters
    ----------
    params : dict
        As for :func:`rnnlab.scratch.reference.lstm_forward` (torch's layout and gate order).
    x : ndarray, (T, N, D)
    state0 : pair of ndarray
        (h0, c0), each (N, H).

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T, read-only (it is part of the cache).
    cache : LSTMRowsCache
    """
    dtype = x.dtype
    T, N, D = x.shape
    H = params[W_HH].shape[1]
    G = 4 * H
    x = np.ascontiguousarray(x)
    W_ih = np.ascontiguousarray(params[W_IH], dtype=dtype)
    W_hh = np.ascontiguousarray(params[W_HH], dtype=dtype)
    bias = (params[B_IH] + params[B_HH]).astype(dtype)
    h = np.empty((T + 1, H, N), dtype=dtype)
    h_rows = np.empty((T + 1, N, H), dtype=dtype)
    c = np.empty((T + 1, H, N), dtype=dtype)
    h[0], h_rows[0], c[0] = state0[0].T, state0[0], state0[1].T
    act = np.empty((T, G, N), dtype=dtype)
    tanh_c = np.empty((T, H, N), dtype=dtype)
    flops = _flops(T, N, D, H)

    def project(t0, t1):  # W_ih x_t for steps t0..t1-1: (4H, D) @ (D, N) each
        np.matmul(W_ih, x[t0:t1].transpose(0, 2, 1), out=act[t0:t1])

    _run_blocks(split(T, flops, 1), project)
    gemm, form = _GEMM[np.dtype(dtype)], _gate_form(H)
    _run_blocks(split(N, flops), lambda n0, n1: _lstm_forward_rows(
        gemm, W_hh, bias, *form, h, c, act, tanh_c, h_rows, n0, n1))
    hs = h_rows[1:]
    hs.flags.writeable = False
    return hs, LSTMRowsCache(x, h, h_rows, c, act, tanh_c)


@_one_blas_thread
def lstm_backward(params: Params, dhs: np.ndarray, cache: LSTMRowsCache,
                  dstate_T: tuple[np.ndarray | None, np.ndarray | None] | None = None,
                  truncate: int | None = None) -> BPTT:
    """BPTT for :func:`lstm_forward` with the compiled loops.

    Parameters
    ----------
    params : dict
        As for :func:`lstm_forward`.
    dhs : ndarray, (T, N, H)
        dL/dh_t from the loss at each step.
    cache : LSTMRowsCache
        From :func:`lstm_forward` with the same parameters.
    dstate_T : pair, optional
        (dh_T, dc_T), extra gradients on the final state, each (N, H) or None.
    truncate : int, optional
        Truncated BPTT window k; None for full BPTT (checked by the caller).

    Returns
    -------
    BPTT
        dx (T, N, D), dstate0 = (dh0, dc0), grads in torch's layout, dh (T, N, H).
    """
    dtype = dhs.dtype
    T, N, H = dhs.shape
    G = 4 * H
    W_hhT = np.ascontiguousarray(params[W_HH].T, dtype=dtype)
    dh_T, dc_T = dstate_T if dstate_T is not None else (None, None)
    dh_next = np.zeros((H, N), dtype=dtype) if dh_T is None else np.ascontiguousarray(dh_T.T, dtype=dtype)
    dc_next = np.zeros((H, N), dtype=dtype) if dc_T is None else np.ascontiguousarray(dc_T.T, dtype=dtype)
    dhs = np.ascontiguousarray(dhs)
    dh_total = np.empty((T, N, H), dtype=dtype)
    dA = np.empty((T, G, N), dtype=dtype)
    k = 0 if truncate is None else int(truncate)
    flops = _flops(T, N, cache.x.shape[2], H)
    gemm = _GEMM[np.dtype(dtype)]

    def loop(n0, n1):
        dh = np.empty((H, n1 - n0), dtype=dtype)
        _lstm_backward_rows(gemm, W_hhT, dhs, cache.act, cache.c, cache.tanh_c, dh_total, dA, dh_next, dc_next,
                            dh, k, n0, n1)

    _run_blocks(split(N, flops), loop)
    dx, dW_ih, dW_hh, db = _step_sums(dA, np.ascontiguousarray(params[W_IH], dtype=dtype), cache, flops)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db, B_HH: db.copy()}
    return BPTT(dx, (dh_next.T.copy(), dc_next.T.copy()), grads, dh_total)


def _step_sums(dA: np.ndarray, W_ih: np.ndarray, cache: LSTMRowsCache, flops: float):
    """What BPTT does after the loop::

        dx_t = da_t^T W_ih      dW_ih = sum_t da_t x_t      dW_hh = sum_t da_t h_{t-1}^T      db = sum_t da_t 1

    The sums over steps are single products over all (step, row) pairs: da laid out as
    (4H, T*N) (a copy) times x and h_{t-1} as (T*N, D) and (T*N, H) rows. Two tasks when the problem is large enough
    (:func:`split`): each takes half of the steps of dx and half of the gate rows of the rest
    (the second on the helper thread).
    """
    T, G, N = dA.shape
    x = cache.x
    H, D = cache.h.shape[1], x.shape[2]
    dx = np.empty((T, N, D), dtype=dA.dtype)
    dW_ih = np.empty((G, D), dtype=dA.dtype)
    dW_hh = np.empty((G, H), dtype=dA.dtype)
    db = np.empty(G, dtype=dA.dtype)
    x_rows = x.reshape(T * N, D)  # row t*N + n: x_t[n]
    h_rows = cache.h_rows[:T].reshape(T * N, H)  # row t*N + n: h_{t-1}[n]
    step_parts, gate_parts = split(T, flops, 1), split(G, flops)

    def part(k, _):
        (t0, t1), (lo, hi) = step_parts[k], gate_parts[k]
        np.matmul(dA[t0:t1].transpose(0, 2, 1), W_ih, out=dx[t0:t1])  # dx_t = da_t^T W_ih
        dA_cols = dA[:, lo:hi].transpose(1, 0, 2).reshape(hi - lo, T * N)  # column t*N + n: da_t[:, n]
        np.matmul(dA_cols, x_rows, out=dW_ih[lo:hi])
        np.matmul(dA_cols, h_rows, out=dW_hh[lo:hi])
        np.sum(dA_cols, axis=1, out=db[lo:hi])

    _run_blocks([(k, k + 1) for k in range(len(step_parts))], part)
    return dx, dW_ih, dW_hh, db
