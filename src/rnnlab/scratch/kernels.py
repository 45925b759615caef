"""Compiled float32 loops for the RNN, the LSTM and PyTorch's GRU. Read reference.py first.

A recurrent cell's cost is its recurrence: per step one product W_hh h_{t-1} and a dozen
elementwise operations, which NumPy runs as a dozen separate calls (:mod:`functional`). Here each
sequence loop, forward and backward, is one function compiled by numba: per step one BLAS product
and one fused pass over the gates. The mathematics is exactly the reference's steps
(:func:`rnnlab.scratch.reference.lstm_step`, ``gru_step``, ``rnn_step``) and their backward
twins; the tests hold the two equal to 1e-10 in float64 (the loops compile for float64 too).

What makes it fast:

- **Batch halves on two threads.** The rows of a batch never interact in a sequence loop, so
  the batch is cut into two blocks and each block runs its whole loop, forward or backward, on
  its own thread, with no synchronisation per step (numba releases the GIL). The products
  around the loops (W_ih x_t for all steps; dx and the weight gradients, each a single product
  over all steps and rows) are cut in two as well. Whether to cut depends on the shape only
  (:func:`split`), so one thread or two give bitwise the same numbers. For a narrow batch the
  LSTM's backward cuts its hidden units instead (:func:`units_split`), the two threads meeting
  at a spin barrier once per step (:func:`_meet`).
- **Feature-major states**, step by step: h_t is (H, N), so a block's recurrent product reads
  compact memory and BLAS gets the orientation where the weight matrix is the wide operand
  (faster than the batch-major one for thin blocks on OpenBLAS, by timing).
- **tanh in float32** is a rational function x P(x^2) / Q(x^2) evaluated in float64 and rounded
  once (:func:`tanh_f32`): within 1 unit in the last place of the exact tanh for every float32
  (``scripts/fit_tanh.py`` prints the largest error, and NumPy's own for comparison), and
  vectorised by the compiler where the C library's ``tanhf`` is not. Sigmoid is
  (1 + tanh(a / 2)) / 2, as in the reference. float64 uses the C library's ``tanh``.
- **Arrays on cache lines**: the per-pass arrays start on 64-byte boundaries (:func:`_empty`),
  so the two threads never write the same cache line of a row.
- **Token ids** (T, N) as x stand for one-hot rows: W_ih x_t picks columns of W_ih
  (:func:`_gather_columns`), dW_ih sums by id (:func:`_scatter_columns`) and dx is None.

The float32 readout (:func:`dense_forward`, :func:`dense_backward`), the softmax cross-entropy
and Adam's update (:func:`adam_update`) have their fast paths here too.

Layouts: the caller's x (T, N, D), hs and dh (T, N, H); inside, states (T+1, H, N) and gates
(T, G*H, N) in torch's order (LSTM i, f, g, o; GRU r, z, n), plus a batch-major copy of the
states (T+1, N, H) that doubles as the returned hs (read-only) and as the h_{t-1} rows of dW_hh.
The LSTM keeps its feature-major arrays per batch block, (blocks, T, rows, width), so that each
thread's memory is its own, and its feature-major h only as a ring of two steps.
"""

from __future__ import annotations

import ctypes
import functools
import math
import platform
from typing import NamedTuple

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the loops call: loaded before the controller below)
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import get_cython_function_address, intrinsic, overload
from threadpoolctl import ThreadpoolController

from rnnlab.errors import ShapeError
from rnnlab.scratch._checks import check_finite, check_step_ids, is_ids
from rnnlab.scratch.reference import B_HH, B_IH, BPTT, W_HH, W_IH, Params

# tanh(x) = x P(x^2) / Q(x^2), fitted on |x| <= TANH_CLAMP for relative error (1.3e-9 at most)
# by scripts/fit_tanh.py (do not edit by hand), and +-1 from TANH_ONE = atanh(1 - 2^-25) up,
# where float32's tanh rounds to 1.
TANH_CLAMP = 9.0
TANH_ONE = 0.5 * math.log(2.0**26 - 1.0)  # 9.0109...
TANH_P = (0.9999999987297791, 0.13680862765000307, 0.0038695158191837486, 2.8031462848697838e-05,
          3.064286891718828e-08, -1.2246477410578923e-11)
TANH_Q = (1.0, 0.4701419485667652, 0.02725018550848279, 0.00039407269676894905, 1.2890453869571385e-06)
_P0, _P1, _P2, _P3, _P4, _P5 = TANH_P
_Q0, _Q1, _Q2, _Q3, _Q4 = TANH_Q

# Work is cut in two from this many floating-point operations per pass (2 N G H (D + H) T) up:
# below it, handing half to the helper thread costs more than it saves (chosen by timing Q1's
# default shapes, which lie on both sides). Each half of the batch has at least MIN_BLOCK rows.
THREAD_MIN_FLOPS = 4.0e7
MIN_BLOCK = 8
GEMM_ROWS = 96  # gate rows per BLAS call for W_hh h_{t-1} (faster for thin blocks, by timing: issue 12)

_ONE, _ZERO = np.float32(1), np.float32(0)  # float32 in float32 loops, promoted in float64 ones
_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}  # numpy's error model: loops vectorise

# Every BLAS call runs on one BLAS thread: the two threads are the batch blocks'.
_BLAS = ThreadpoolController()

# A pass allocates and frees arrays of several MB (a text LSTM's gates: 6.5 MB). glibc serves
# them by mmap, or gives the freed top of its heap back to the OS, so that every pass pays page
# faults again. Arrays below 64 MB stay in the heap, and up to 256 MB of freed heap stays mapped
# (Q1's text updates were faster so, timed during issue 12). Linux with glibc only; elsewhere nothing.
MALLOC_MMAP_THRESHOLD = 1 << 26
MALLOC_TRIM_THRESHOLD = 1 << 28


def _keep_freed_memory() -> bool:
    """Apply the two thresholds above through glibc's mallopt; False where there is none."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    return bool(mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold,
                                                                                  MALLOC_TRIM_THRESHOLD))


_keep_freed_memory()


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
    u = v
    if u > TANH_ONE:  # noqa: PLR1730  (not min/max: NaN fails every test here and stays NaN)
        u = TANH_ONE
    if u < -TANH_ONE:  # noqa: PLR1730
        u = -TANH_ONE
    z = u * u
    p = ((((_P5 * z + _P4) * z + _P3) * z + _P2) * z + _P1) * z + _P0
    q = (((_Q4 * z + _Q3) * z + _Q2) * z + _Q1) * z + _Q0
    y = u * p / q
    if v >= TANH_ONE:
        y = 1.0
    if v <= -TANH_ONE:
        y = -1.0
    return y


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
# Two threads in one loop: a spin barrier
# --------------------------------------------------------------------------------------------
# The LSTM's backward can split the hidden units instead of the batch between the two threads
# (:func:`units_split`); then both threads meet once per step. numba has no atomics, so the three
# below emit LLVM's. A barrier's state is an int64 array of 24 (:func:`_barrier_state`): arrivals
# at [0], the generation at [8] and a give-up flag at [16], each on its own cache line.

ARRIVALS, GENERATION, GIVE_UP = 0, 8, 16


@intrinsic
def _atomic_add(typingctx, arr, idx, val):
    """arr[idx] += val atomically (int64), returning the value before."""
    sig = types.int64(arr, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0],
                                       context.make_array(signature.args[0])(context, builder, args[0]), [args[1]])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return sig, codegen


@intrinsic
def _atomic_load(typingctx, arr, idx):
    """arr[idx] (int64), read atomically: never hoisted out of a waiting loop."""
    sig = types.int64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0],
                                       context.make_array(signature.args[0])(context, builder, args[0]), [args[1]])
        return builder.load_atomic(ptr, "seq_cst", 8)

    return sig, codegen


@intrinsic
def _spin_pause(typingctx):
    """The x86 PAUSE hint in a waiting loop (elsewhere nothing)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if platform.machine().lower() in ("x86_64", "amd64", "i686", "x86"):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(**_JIT)
def _meet(state, parties):
    """Wait until ``parties`` threads have called this (a reusable barrier). Returns False,
    without waiting further, once the give-up flag is set (the other thread failed)."""
    generation = _atomic_load(state, GENERATION)
    if _atomic_add(state, ARRIVALS, 1) == parties - 1:
        _atomic_add(state, ARRIVALS, -parties)
        _atomic_add(state, GENERATION, 1)
        return True
    while _atomic_load(state, GENERATION) == generation:
        if _atomic_load(state, GIVE_UP) != 0:
            return False
        _spin_pause()
    return True


def _barrier_state() -> np.ndarray:
    state = _empty((24,), np.int64)
    state[:] = 0
    return state


# --------------------------------------------------------------------------------------------
# The loops
# --------------------------------------------------------------------------------------------


@numba.njit(**_JIT)
def _gemm(gemm, m, n, k, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc):
    """C = A B + beta C through BLAS ``gemm`` (column-major, no transposes): A m x k read at
    ``a[a_off:]`` with leading dimension ``lda``, B k x n, C m x n; a, b and c are flat arrays.

    A row-major (R, C) array read column-major with leading dimension C is its transpose, so
    columns n0..n1-1 of a feature-major (units, N) state are an (n1 - n0, units) matrix at
    offset n0 with leading dimension N. (BLAS's own transpose flag for B timed slower on these
    thin products than handing it W_hh^T laid out, during issue 12: :func:`_transposed`.)
    """
    dims = np.empty(6, np.int32)
    dims[0], dims[1], dims[2], dims[3], dims[4], dims[5] = m, n, k, lda, ldb, ldc
    scal = np.empty(2, c.dtype)
    scal[0], scal[1] = 1, beta
    no = np.full(1, 78, np.uint8)  # 'N': no transpose
    gemm(no.ctypes, no.ctypes, dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes,
         scal[0:].ctypes, a[a_off:].ctypes, dims[3:].ctypes, b[b_off:].ctypes, dims[4:].ctypes,
         scal[1:].ctypes, c[c_off:].ctypes, dims[5:].ctypes)


@numba.njit(**_JIT)
def _recurrent_product(gemm, W, h, t, o_flat, o_off, ldo, n0, n1, beta):
    """out[:, n0:n1] = W (rows, H) h_t[:, n0:n1] + beta out, in GEMM_ROWS-row calls, where out
    is a (rows, N) matrix inside the flat array ``o_flat``: entry (r, q) at o_off + r ldo + q."""
    G, H = W.shape
    N = h.shape[2]
    n = n1 - n0
    h_flat, W_flat = h.ravel(), W.ravel()
    for r0 in range(0, G, GEMM_ROWS):
        rows = min(GEMM_ROWS, G - r0)
        _gemm(gemm, n, rows, H, h_flat, t * H * N + n0, N, W_flat, r0 * H, H, beta, o_flat, o_off + r0 * ldo + n0, ldo)


@numba.njit(**_JIT)
def _to_rows(src, dst, n0, n1):
    """dst[n, :] = src[:, n] for n in n0..n1-1: a block of a feature-major (H, N) state, batch-major."""
    H = src.shape[0]
    for q in range(n0, n1):
        out = dst[q]
        for j in range(H):
            out[j] = src[j, q]


@numba.njit(**_JIT)
def _total_dh(dhs, dh_next, t, dh, dh_total, n0, n1, u0=0, u1=-1):
    """dL/dh_t = the loss's dhs[t] + dL/dh_t from step t+1 (dh_next, feature-major), for batch
    rows n0..n1-1 and units u0..u1-1 (u1 = -1: all H): into the feature-major scratch ``dh``
    (H, n) and the caller's dh_total[t]."""
    if u1 < 0:
        u1 = dh.shape[0]
    for q in range(n1 - n0):
        direct, out = dhs[t, n0 + q], dh_total[t, n0 + q]
        for j in range(u0, u1):
            d = direct[j] + dh_next[j, n0 + q]
            dh[j, q] = d
            out[j] = d


@numba.njit(**_JIT)
def _lstm_forward_rows(gemm, W_hh, bias, gk, gs, go, h, c, act, tanh_c, h_rows, n0, n1, W_ih, x_fm, project):
    """Steps 0..T-1 for batch rows n0..n1-1 of h, c, act, tanh_c and h_rows.

    ``act`` (T, 4H, N) holds W_ih x_t on entry, or with ``project`` gets it at the start of each
    step from x_fm (T, D, N), the inputs feature-major (while act[t] is in cache: faster for
    narrow inputs, see PROJECT_IN_LOOP_D); c is (T+1, H, N), h_rows (T+1, N, H), both with step 0
    set; h (2, H, N) is a ring for the feature-major h_{t-1} and h_t (h_0 in slot 0: the backward
    reads the states from h_rows). Per step::

        a = W_ih x_t + W_hh h_{t-1} + b         (the recurrent product added onto act[t])
        i, f, o = sigma(a_i, a_f, a_o)   g = tanh(a_g)     (gate row r: go[r] + gs[r] tanh(gk[r] a))
        c_t = f c_{t-1} + i g            h_t = o tanh(c_t)
    """
    G, H = W_hh.shape
    T, _, N = act.shape
    D = W_ih.shape[1]
    n = n1 - n0
    act_flat, x_flat, W_ih_flat = act.ravel(), x_fm.ravel(), W_ih.ravel()
    for t in range(T):
        if project:  # a = W_ih x_t: (n, D) @ (D, 4H), column-major
            _gemm(gemm, n, G, D, x_flat, t * D * N + n0, N, W_ih_flat, 0, D, 0.0, act_flat, t * G * N + n0, N)
        _recurrent_product(gemm, W_hh, h, t % 2, act_flat, t * G * N, N, n0, n1, 1.0)  # a += W_hh h_{t-1}   (4H, n)
        a_t, h_t = act[t], h[(t + 1) % 2]
        for r in range(G):
            a, k, sc, off, b = a_t[r, n0:n1], gk[r], gs[r], go[r], bias[r]
            for q in range(n):
                a[q] = _gate(a[q] + b, k, sc, off)
        for j in range(H):
            i, f, g, o = a_t[j, n0:n1], a_t[H + j, n0:n1], a_t[2 * H + j, n0:n1], a_t[3 * H + j, n0:n1]
            c_prev, c_new, h_new, tc_new = c[t, j, n0:n1], c[t + 1, j, n0:n1], h_t[j, n0:n1], tanh_c[t, j, n0:n1]
            for q in range(n):
                ct = f[q] * c_prev[q] + i[q] * g[q]  # c_t = f * c_{t-1} + i * g
                tc = _tanh(ct)
                c_new[q] = ct
                tc_new[q] = tc
                h_new[q] = o[q] * tc  # h_t = o * tanh(c_t)
        _to_rows(h_t, h_rows[t + 1], n0, n1)  # h_t batch-major too


@numba.njit(**_JIT)
def _lstm_gate_grads(a_t, c_prev, tc_t, d_t, dh, dc_next, u0, u1, n, o, cut):
    """One step's gate gradients for units u0..u1-1 and n batch columns: read from a block's
    act[t], c[t] and tanh_c[t] at columns 0..n-1, written to d_t (4H rows) and dc_next, and read
    from dh, at columns o..o+n-1. From dh = dL/dh_t (direct + from step t+1) and dc_next =
    dL/dc_t from step t+1::

        dc = dc_next + dh o (1 - tanh(c_t)^2)
        da_i = dc g i (1 - i)    da_f = dc c_{t-1} f (1 - f)
        da_g = dc i (1 - g^2)    da_o = dh tanh(c_t) o (1 - o)
        dL/dc_{t-1} = dc f       (0 where the truncation cuts)
    """
    H = c_prev.shape[0]
    for j in range(u0, u1):
        i, f, g, og = a_t[j, :n], a_t[H + j, :n], a_t[2 * H + j, :n], a_t[3 * H + j, :n]
        da_i, da_f = d_t[j, o : o + n], d_t[H + j, o : o + n]
        da_g, da_o = d_t[2 * H + j, o : o + n], d_t[3 * H + j, o : o + n]
        c_row, tc_row, dh_row, dc_row = c_prev[j, :n], tc_t[j, :n], dh[j, o : o + n], dc_next[j, o : o + n]
        for q in range(n):
            tc = tc_row[q]
            dc = dc_row[q] + dh_row[q] * og[q] * (_ONE - tc * tc)
            da_i[q] = dc * g[q] * (i[q] * (_ONE - i[q]))
            da_f[q] = dc * c_row[q] * (f[q] * (_ONE - f[q]))
            da_g[q] = dc * i[q] * (_ONE - g[q] * g[q])
            da_o[q] = dh_row[q] * tc * (og[q] * (_ONE - og[q]))
            dc_row[q] = _ZERO if cut else dc * f[q]


@numba.njit(**_JIT)
def _lstm_backward_rows(gemm, W_hhT, dhs, act, c, tanh_c, dh_total, dA, dh_next, dc_next, dh, truncate, n):
    """BPTT from step T-1 down to 0 for one batch block of n rows (``truncate`` 0: full BPTT).

    The block's own arrays, as :func:`_lstm_forward_rows` left them: act (T, 4H, w), c
    (T+1, H, w), tanh_c (T, H, w), with w >= n columns; dA (T, 4H, w), dh_next and dc_next
    (H, w), the scratch ``dh`` (H, w); dhs and dh_total (T, n, H) are the block's rows of the
    caller's. Per step: dL/dh_t, the gate gradients (:func:`_lstm_gate_grads`), then
    dL/dh_{t-1} = W_hh^T da. On return dh_next and dc_next hold dL/dh_0 and dL/dc_0; dx and the
    weight gradients are products over all steps, after the loop (:func:`_step_sums`).
    """
    H, G = W_hhT.shape
    T, _, w = dA.shape
    dA_flat, W_flat, dh_flat = dA.ravel(), W_hhT.ravel(), dh_next.ravel()
    for t in range(T - 1, -1, -1):
        cut = truncate > 0 and t > 0 and t % truncate == 0
        _total_dh(dhs, dh_next, t, dh, dh_total, 0, n)
        _lstm_gate_grads(act[t], c[t], tanh_c[t], dA[t], dh, dc_next, 0, H, n, 0, cut)
        if cut:
            dh_next[:, :n] = 0
        else:  # dL/dh_{t-1} = W_hh^T da: (n, 4H) @ (4H, H), column-major
            _gemm(gemm, n, H, G, dA_flat, t * G * w, w, W_flat, 0, G, 0.0, dh_flat, 0, w)


@numba.njit(**_JIT)
def _lstm_backward_units(gemm, W_hhT, dhs, act, c, tanh_c, starts, dh_total, dA, dh_next, dc_next, dh, truncate,
                         units, barrier, parties):
    """BPTT from step T-1 down to 0 for the unit blocks ``units`` ((k, 2) rows [u0, u1)) and
    every batch row: the units split between two threads (:func:`units_split`).

    act, c and tanh_c are the forward's batch blocks (B, T, 4H, w) etc., block b holding batch
    rows starts[b]..starts[b+1]-1; dA (T, 4H, N), dh_next, dc_next and the scratch dh (H, N) span
    the whole batch. The rows of dL/dh_{t-1} = W_hh^T da for a block of units need da of every
    unit, so with ``parties`` 2 the threads meet at ``barrier`` (:func:`_meet`) once da_t is
    complete, then each multiplies its rows over all N columns.
    """
    G = W_hhT.shape[1]
    T, _, N = dA.shape
    dA_flat, W_flat, dh_flat = dA.ravel(), W_hhT.ravel(), dh_next.ravel()
    for t in range(T - 1, -1, -1):
        cut = truncate > 0 and t > 0 and t % truncate == 0
        for block in range(units.shape[0]):
            u0, u1 = units[block, 0], units[block, 1]
            _total_dh(dhs, dh_next, t, dh, dh_total, 0, N, u0, u1)
            for b in range(starts.size - 1):
                _lstm_gate_grads(act[b, t], c[b, t], tanh_c[b, t], dA[t], dh, dc_next, u0, u1,
                                 starts[b + 1] - starts[b], starts[b], cut)
        if parties > 1 and not _meet(barrier, parties):
            return  # the other thread failed: give up (the caller raises its error)
        for block in range(units.shape[0]):
            u0, u1 = units[block, 0], units[block, 1]
            if cut:
                dh_next[u0:u1] = 0
            else:  # rows u0..u1-1 of dL/dh_{t-1} = W_hh^T da: (N, 4H) @ (4H, u1 - u0), column-major
                _gemm(gemm, N, u1 - u0, G, dA_flat, t * G * N, N, W_flat, u0 * G, G, 0.0, dh_flat, u0 * N, N)


# --------------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------------


class LSTMRowsCache(NamedTuple):
    """Saved by :func:`lstm_forward` for :func:`lstm_backward`. The feature-major arrays are
    stored per batch block (:func:`split`), each block's memory its own: block b holds batch rows
    blocks[b][0]..blocks[b][1]-1 in its first blocks[b][1] - blocks[b][0] of w columns."""

    x: np.ndarray  # (T, N, D) inputs, or (T, N) ids of one-hot rows
    blocks: tuple[tuple[int, int], ...]  # the batch blocks [n0, n1)
    h_rows: np.ndarray  # (T+1, N, H) h_0..h_T, batch-major (its [1:] is the returned hs)
    c: np.ndarray  # (B, T+1, H, w) c_0..c_T
    act: np.ndarray  # (B, T, 4H, w) activated gates i, f, g, o
    tanh_c: np.ndarray  # (B, T, H, w)

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(h_T, c_T), each (N, H), as new arrays."""
        return self.h_rows[-1].copy(), _from_blocks(self.c[:, -1], self.blocks)


def _from_blocks(blocked: np.ndarray, blocks) -> np.ndarray:
    """(N, H) from per-block feature-major (B, H, w) columns."""
    return np.concatenate([blocked[k, :, : b - a].T for k, (a, b) in enumerate(blocks)])


def split(n: int, flops: float, min_block: int = MIN_BLOCK) -> list[tuple[int, int]]:
    """Ranges [a, b) covering 0..n: two halves for a problem of THREAD_MIN_FLOPS or more with
    n >= 2 * min_block, else one. A function of the shape only, never of the threads, so that
    one thread or two give bitwise the same numbers."""
    if flops < THREAD_MIN_FLOPS or n < 2 * min_block:
        return [(0, n)]
    return [(0, n // 2), (n // 2, n)]


# The LSTM forward projects W_ih x_t inside its loop, step by step, for inputs this narrow: act[t]
# is then in cache for the recurrent product and the gates. Wider inputs timed slower so, and
# project all steps before the loop. `python scripts/profile_lstm_choices.py` times this choice,
# and the two below, against their alternatives.
PROJECT_IN_LOOP_D = 32

# The backward splits the hidden units instead of the batch when a batch half would be narrower
# than this many rows and H is at least UNITS_MIN_H: its product W_hh^T da then runs on all N
# columns (BLAS is slow on very thin products).
UNITS_MAX_HALF = 32
UNITS_MIN_H = 256


def units_split(N: int, H: int, flops: float) -> list[tuple[int, int]] | None:
    """Two blocks of hidden units for the LSTM's backward loop, or None (cut the batch instead,
    :func:`split`). A function of the shape only, like :func:`split`."""
    if flops < THREAD_MIN_FLOPS or N // 2 >= UNITS_MAX_HALF or H < UNITS_MIN_H:
        return None
    return [(0, H // 2), (H // 2, H)]


def _run_meeting(blocks: list[tuple[int, int]], work) -> None:
    """Run ``work(units, barrier, parties)`` for two blocks of units that meet once per step:
    on two threads when the helper is free and the engine may use two, else both blocks in one
    call (the same operations, so the same numbers). If either thread fails, the other stops
    waiting (the give-up flag) and the error is raised."""
    from rnnlab.scratch._lanes import Lane
    from rnnlab.threads import engine_threads

    every = np.array(blocks, dtype=np.intp)
    with Lane(enabled=engine_threads() >= 2) as lane:
        if not lane.parallel:
            work(every, _barrier_state(), 1)
            return
        state = _barrier_state()

        def run(units):
            try:
                work(units, state, 2)
            except BaseException:
                state[GIVE_UP] = 1
                raise

        lane.add(lambda: run(every[1:]))
        run(every[:1])
        lane.finish()


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


def _flops(T: int, N: int, D: int, H: int, gates: int = 4) -> float:
    """Floating-point operations of one pass's products: 2 N G H (D + H) T for G gates."""
    return 2.0 * N * gates * H * (D + H) * T


@_one_blas_thread
def lstm_forward(params: Params, x: np.ndarray, state0: tuple[np.ndarray, np.ndarray]):
    """Run an LSTM over a sequence with the compiled loops (float32 or float64).

    Parameters
    ----------
    params : dict
        As for :func:`rnnlab.scratch.reference.lstm_forward` (torch's layout and gate order).
    x : ndarray, (T, N, D), or integer ids (T, N) in [0, D) standing for one-hot rows
    state0 : pair of ndarray
        (h0, c0), each (N, H).

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T, read-only (it is part of the cache).
    cache : LSTMRowsCache
    """
    x, dtype, T, N, D = _inputs(params, x)
    H = params[W_HH].shape[1]
    G = 4 * H
    W_ih = np.ascontiguousarray(params[W_IH], dtype=dtype)
    W_hh = np.ascontiguousarray(params[W_HH], dtype=dtype)
    bias = (params[B_IH] + params[B_HH]).astype(dtype)
    flops = _flops(T, N, D, H)
    blocks = tuple(split(N, flops))
    B, w = len(blocks), max(n1 - n0 for n0, n1 in blocks)
    h, c = _empty((B, 2, H, w), dtype=dtype), _empty((B, T + 1, H, w), dtype=dtype)  # h: a ring of two steps
    act, tanh_c = _empty((B, T, G, w), dtype=dtype), _empty((B, T, H, w), dtype=dtype)
    h_rows = _empty((T + 1, N, H), dtype=dtype)
    h_rows[0] = state0[0]
    in_loop = x.ndim == 3 and D <= PROJECT_IN_LOOP_D
    wide = None if in_loop else _wide_rows(W_ih, x, flops)
    gemm, form = _GEMM[np.dtype(dtype)], _gate_form(H)

    def block(k, _):
        n0, n1 = blocks[k]
        n = n1 - n0
        h[k, 0, :, :n], c[k, 0, :, :n] = state0[0][n0:n1].T, state0[1][n0:n1].T
        if in_loop:  # the block's inputs feature-major, (T, D, w)
            x_fm = np.empty((T, D, w), dtype=dtype)
            x_fm[:, :, :n] = x[:, n0:n1].transpose(0, 2, 1)
        else:
            x_fm = np.empty((1, 1, 1), dtype=dtype)
            _project_block(W_ih, x, wide, act[k], n0, n1)
        _lstm_forward_rows(gemm, W_hh, bias, *form, h[k], c[k], act[k], tanh_c[k], h_rows[:, n0:n1], 0, n, W_ih, x_fm,
                           in_loop)

    _run_blocks([(k, k + 1) for k in range(B)], block)
    return _read_only(h_rows), LSTMRowsCache(x, blocks, h_rows, c, act, tanh_c)


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
        dx (T, N, D) (None for ids), dstate0 = (dh0, dc0), grads in torch's layout, dh (T, N, H).
    """
    dtype = dhs.dtype
    T, N, H = dhs.shape
    G = 4 * H
    W_hhT = _transposed(params[W_HH], dtype)
    dh_T, dc_T = dstate_T if dstate_T is not None else (None, None)
    dh_total = _empty((T, N, H), dtype=dtype)
    cols = _empty((G, T * N), dtype=dtype)  # column t*N + n: da_t[:, n] (the layout of _step_sums)
    k = 0 if truncate is None else int(truncate)
    flops = _flops(T, N, params[W_IH].shape[1], H)
    gemm = _GEMM[np.dtype(dtype)]
    blocks = cache.blocks
    units = units_split(N, H, flops)
    if units is None:  # batch blocks on two threads (or one block), each in its own arrays
        B, w = cache.act.shape[0], cache.act.shape[3]
        dA = _empty((B, T, G, w), dtype=dtype)
        dh_next, dc_next = _grad_start(dh_T, H, N, dtype, blocks, w), _grad_start(dc_T, H, N, dtype, blocks, w)

        def block(b, _):
            n0, n1 = blocks[b]
            _lstm_backward_rows(gemm, W_hhT, dhs[:, n0:n1], cache.act[b], cache.c[b], cache.tanh_c[b],
                                dh_total[:, n0:n1], dA[b], dh_next[b], dc_next[b], _empty((H, w), dtype=dtype), k,
                                n1 - n0)
            cols.reshape(G, T, N)[:, :, n0:n1] = dA[b, :, :, : n1 - n0].transpose(1, 0, 2)

        _run_blocks([(b, b + 1) for b in range(B)], block)
        dstate0 = (_from_blocks(dh_next, blocks), _from_blocks(dc_next, blocks))
    else:  # hidden units on two threads, all batch rows
        dA = _empty((T, G, N), dtype=dtype)
        dh_next, dc_next = _grad_start(dh_T, H, N, dtype), _grad_start(dc_T, H, N, dtype)
        starts = np.array([n0 for n0, _ in blocks] + [N], dtype=np.intp)

        def units_loop(unit_blocks, barrier, parties):
            _lstm_backward_units(gemm, W_hhT, dhs, cache.act, cache.c, cache.tanh_c, starts, dh_total, dA, dh_next,
                                 dc_next, _empty((H, N), dtype=dtype), k, unit_blocks, barrier, parties)

        _run_meeting(units, units_loop)

        def lay_out(g0, g1):
            cols[g0:g1].reshape(g1 - g0, T, N)[:] = dA[:, g0:g1].transpose(1, 0, 2)

        _run_blocks(split(G, flops, 1), lay_out)
        dstate0 = (dh_next.T.copy(), dc_next.T.copy())
    every = slice(0, G)
    dx, dW_ih, dW_hh, db_ih, db_hh = _step_sums([cols], np.ascontiguousarray(params[W_IH], dtype=dtype), cache.x,
                                                cache.h_rows[:T].reshape(T * N, H), [_Grad(0, every, every, every)],
                                                flops)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db_ih, B_HH: db_hh}
    return BPTT(dx, dstate0, grads, dh_total)


# --------------------------------------------------------------------------------------------
# GRU (PyTorch's variant) and the vanilla RNN
# --------------------------------------------------------------------------------------------


@numba.njit(**_JIT)
def _gru_forward_rows(gemm, W_hh, b_ih, b_hh, h, act, hn, gh, h_rows, n0, n1):
    """Steps 0..T-1 of PyTorch's GRU for batch rows n0..n1-1.

    ``act`` (T, 3H, N) holds W_ih x_t on entry and r, z, n on return; hn (T, H, N) gets
    W_hn h_{t-1} + b_hn; ``gh`` is a (3H, N) scratch for W_hh h_{t-1}. Per step::

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)    z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn))  h_t = (1 - z) n + z h_{t-1}
    """
    H = W_hh.shape[1]
    T = act.shape[0]
    n = n1 - n0
    for t in range(T):
        _recurrent_product(gemm, W_hh, h, t, gh.ravel(), 0, gh.shape[1], n0, n1, 0.0)  # W_hh h_{t-1}   (3H, n)
        a_t = act[t]
        for r in range(2 * H):  # r, z = sigma(.) = (1 + tanh(./2)) / 2
            a, g, b = a_t[r, n0:n1], gh[r, n0:n1], b_ih[r] + b_hh[r]
            for q in range(n):
                a[q] = _gate(a[q] + b + g[q], 0.5, 0.5, 0.5)
        for j in range(H):
            rg, z, nn, g = a_t[j, n0:n1], a_t[H + j, n0:n1], a_t[2 * H + j, n0:n1], gh[2 * H + j, n0:n1]
            hn_t, h_prev, h_new = hn[t, j, n0:n1], h[t, j, n0:n1], h[t + 1, j, n0:n1]
            b_in, b_hn = b_ih[2 * H + j], b_hh[2 * H + j]
            for q in range(n):
                hnq = g[q] + b_hn
                hn_t[q] = hnq  # W_hn h + b_hn
                nq = _tanh(nn[q] + b_in + rg[q] * hnq)  # n = tanh(W_in x + b_in + r (W_hn h + b_hn))
                nn[q] = nq
                h_new[q] = nq + z[q] * (h_prev[q] - nq)  # h_t = (1 - z) n + z h_{t-1}
        _to_rows(h[t + 1], h_rows[t + 1], n0, n1)


@numba.njit(**_JIT)
def _gru_backward_rows(gemm, W_hhT, dhs, act, h, hn, dh_total, dGi, dHn, dh_next, dh, truncate, n0, n1):
    """BPTT of :func:`_gru_forward_rows` from step T-1 down to 0 for batch rows n0..n1-1.

    dGi (T, 3H, N) gets da_r, da_z, da_n (what reaches W_ih x + b_ih), dHn (T, H, N) gets
    d(W_hn h + b_hn); W_hh's rows see da_r, da_z and dHn. ``dh`` is an (H, n1 - n0) scratch.
    Per step, from dh = dL/dh_t::

        dz = dh (h_{t-1} - n)     da_n = dh (1 - z) (1 - n^2)     d(W_hn h + b_hn) = da_n r
        da_r = da_n (W_hn h + b_hn) r (1 - r)      da_z = dz z (1 - z)
        dL/dh_{t-1} = dh z + W_hh^T [da_r; da_z; d(W_hn h + b_hn)]
    """
    H, G = W_hhT.shape
    T, _, N = dGi.shape
    n = n1 - n0
    dGi_flat, dHn_flat, W_flat, dh_flat = dGi.ravel(), dHn.ravel(), W_hhT.ravel(), dh_next.ravel()
    for t in range(T - 1, -1, -1):
        cut = truncate > 0 and t > 0 and t % truncate == 0
        _total_dh(dhs, dh_next, t, dh, dh_total, n0, n1)
        a_t, d_t = act[t], dGi[t]
        for j in range(H):
            rg, z, nn = a_t[j, n0:n1], a_t[H + j, n0:n1], a_t[2 * H + j, n0:n1]
            da_r, da_z, da_n, dhn = d_t[j, n0:n1], d_t[H + j, n0:n1], d_t[2 * H + j, n0:n1], dHn[t, j, n0:n1]
            h_prev, hn_t, dh_row, dh_out = h[t, j, n0:n1], hn[t, j, n0:n1], dh[j], dh_next[j, n0:n1]
            for q in range(n):
                d = dh_row[q]
                dan = d * (_ONE - z[q]) * (_ONE - nn[q] * nn[q])
                da_n[q] = dan
                dhn[q] = dan * rg[q]
                da_r[q] = dan * hn_t[q] * (rg[q] * (_ONE - rg[q]))
                da_z[q] = d * (h_prev[q] - nn[q]) * (z[q] * (_ONE - z[q]))
                dh_out[q] = _ZERO if cut else d * z[q]  # the direct path through z h_{t-1}
        if not cut:  # dL/dh_{t-1} += W_hr^T da_r + W_hz^T da_z + W_hn^T d(W_hn h + b_hn), column-major
            _gemm(gemm, n, H, 2 * H, dGi_flat, t * G * N + n0, N, W_flat, 0, G, 1.0, dh_flat, n0, N)
            _gemm(gemm, n, H, H, dHn_flat, t * H * N + n0, N, W_flat, 2 * H, G, 1.0, dh_flat, n0, N)


@numba.njit(**_JIT)
def _rnn_forward_rows(gemm, W_hh, bias, relu, h, h_rows, n0, n1):
    """Steps 0..T-1 of the vanilla RNN for batch rows n0..n1-1: h (T+1, H, N) holds h_0 and, in
    h[1:], W_ih x_t on entry; per step h_t = f(W_ih x_t + b + W_hh h_{t-1}), f tanh or relu."""
    H = W_hh.shape[0]
    T, _, N = h.shape
    T -= 1
    n = n1 - n0
    h_flat = h.ravel()
    for t in range(T):
        _recurrent_product(gemm, W_hh, h, t, h_flat, (t + 1) * H * N, N, n0, n1, 1.0)  # += W_hh h_{t-1}
        for j in range(H):
            a, b = h[t + 1, j, n0:n1], bias[j]
            for q in range(n):
                v = a[q] + b
                a[q] = (_ZERO if v <= 0 else v) if relu else _tanh(v)  # relu: NaN fails v <= 0 and stays
        _to_rows(h[t + 1], h_rows[t + 1], n0, n1)


@numba.njit(**_JIT)
def _rnn_backward_rows(gemm, W_hhT, dhs, h, relu, dh_total, dA, dh_next, dh, truncate, n0, n1):
    """BPTT of :func:`_rnn_forward_rows`: da_t = dh f'(a_t) (1 - h_t^2 for tanh, [h_t > 0] for
    relu), dL/dh_{t-1} = W_hh^T da_t; dA (T, H, N), ``dh`` an (H, n1 - n0) scratch."""
    H = W_hhT.shape[0]
    T, _, N = dA.shape
    n = n1 - n0
    dA_flat, W_flat, dh_flat = dA.ravel(), W_hhT.ravel(), dh_next.ravel()
    for t in range(T - 1, -1, -1):
        cut = truncate > 0 and t > 0 and t % truncate == 0
        _total_dh(dhs, dh_next, t, dh, dh_total, n0, n1)
        for j in range(H):
            ht, da, d = h[t + 1, j, n0:n1], dA[t, j, n0:n1], dh[j]
            for q in range(n):
                da[q] = (d[q] if ht[q] > 0 else _ZERO * d[q]) if relu else d[q] * (_ONE - ht[q] * ht[q])
        if cut:
            dh_next[:, n0:n1] = 0
        else:
            _gemm(gemm, n, H, H, dA_flat, t * H * N + n0, N, W_flat, 0, H, 0.0, dh_flat, n0, N)


class GRURowsCache(NamedTuple):
    """Saved by :func:`gru_forward` for :func:`gru_backward`."""

    x: np.ndarray  # (T, N, D) inputs, or (T, N) ids of one-hot rows
    h: np.ndarray  # (T+1, H, N) h_0..h_T
    h_rows: np.ndarray  # (T+1, N, H) the same, batch-major (its [1:] is the returned hs)
    act: np.ndarray  # (T, 3H, N) r, z, n
    hn: np.ndarray  # (T, H, N) W_hn h_{t-1} + b_hn

    def final_state(self) -> np.ndarray:
        """h_T (N, H), a new array."""
        return self.h_rows[-1].copy()


class RNNRowsCache(NamedTuple):
    """Saved by :func:`rnn_forward` for :func:`rnn_backward`."""

    x: np.ndarray  # (T, N, D) inputs, or (T, N) ids of one-hot rows
    h: np.ndarray  # (T+1, H, N) h_0..h_T
    h_rows: np.ndarray  # (T+1, N, H) the same, batch-major (its [1:] is the returned hs)
    nonlinearity: str

    def final_state(self) -> np.ndarray:
        """h_T (N, H), a new array."""
        return self.h_rows[-1].copy()


def _inputs(params: Params, x: np.ndarray):
    """(x, dtype, T, N, D) as the loops read them: float inputs (T, N, D) in their dtype, or ids
    (T, N) standing for one-hot rows of width D, in W_ih's dtype. The ids are checked here too
    (the compiled gather does not check its indices)."""
    if is_ids(x):
        W_ih = params[W_IH]
        check_step_ids(x, W_ih.shape[1])
        return np.ascontiguousarray(x, dtype=np.intp), W_ih.dtype, x.shape[0], x.shape[1], W_ih.shape[1]
    if x.ndim != 3:
        raise ShapeError(f"expected inputs x of shape (T, N, D) or integer ids (T, N), found shape {x.shape}")
    return np.ascontiguousarray(x), x.dtype, *x.shape


@numba.njit(**_JIT)
def _gather_columns(W, ids, out, t0, t1):
    """out[t][:, n] = W[:, ids[t, n]] for steps t0..t1-1: W_ih x_t for one-hot x_t given as ids
    (exactly the product's numbers: the other terms are zeros)."""
    G, N = W.shape[0], ids.shape[1]
    for t in range(t0, t1):
        row, o = ids[t], out[t]
        for g in range(G):
            w, og = W[g], o[g]
            for q in range(N):
                og[q] = w[row[q]]


@numba.njit(**_JIT)
def _scatter_columns(a, ids, out):
    """out[:, v] = sum of a[:, j] over the j with ids[j] == v (in the order of j): sum_t da_t x_t^T
    for one-hot x_t given as ids, a (rows, T*N) and out (rows, D)."""
    for g in range(a.shape[0]):
        src, o = a[g], out[g]
        o[:] = 0
        for j in range(ids.size):
            o[ids[j]] += src[j]


# The input product W_ih x_t runs as one product over all steps, (T*N, D) @ (D, G*H), then laid
# out step by step, when D >= PROJECT_WIDE_D and N <= PROJECT_THIN_N: there the per-step products
# are thin; elsewhere the per-step products timed faster. The numbers are bitwise the same either
# way.
PROJECT_WIDE_D = 256
PROJECT_THIN_N = 64


def _wide_rows(W_ih: np.ndarray, x: np.ndarray, flops: float) -> np.ndarray | None:
    """W_ih x_t for every step as one product over all steps, (T, N, G*H), row n of step t
    x_t[n]'s, in two halves of the rows, when the input is wide (see PROJECT_WIDE_D); else None."""
    if x.ndim != 3 or x.shape[2] < PROJECT_WIDE_D or x.shape[1] > PROJECT_THIN_N:
        return None
    T, N, D = x.shape
    rows = np.empty((T * N, W_ih.shape[0]), dtype=W_ih.dtype)
    x_rows = x.reshape(T * N, D)
    _run_blocks(split(T * N, flops), lambda r0, r1: np.matmul(x_rows[r0:r1], W_ih.T, out=rows[r0:r1]))
    return rows.reshape(T, N, -1)


def _project_block(W_ih: np.ndarray, x: np.ndarray, wide: np.ndarray | None, out: np.ndarray, n0: int,
                   n1: int) -> None:
    """out[t][:, :n1 - n0] = W_ih x_t for batch rows n0..n1-1, every step: from the wide product
    (:func:`_wide_rows`), by picking columns of W_ih for ids, else one product per step."""
    n = n1 - n0
    if wide is not None:
        out[:, :, :n] = wide[:, n0:n1].transpose(0, 2, 1)
    elif x.ndim == 2:
        _gather_columns(W_ih, x[:, n0:n1], out, 0, x.shape[0])
    else:
        np.matmul(W_ih, x[:, n0:n1].transpose(0, 2, 1), out=out[:, :, :n])


def _project(W_ih: np.ndarray, x: np.ndarray, out: np.ndarray, flops: float) -> None:
    """out[t] = W_ih x_t for every step and the whole batch (:func:`_project_block`), in two
    halves of the steps."""
    T, N = x.shape[:2]
    wide = _wide_rows(W_ih, x, flops)
    _run_blocks(split(T, flops, 1), lambda t0, t1: _project_block(
        W_ih, x[t0:t1], None if wide is None else wide[t0:t1], out[t0:t1], 0, N))


@numba.njit(**_JIT)
def _transpose_into(W, out):
    """out = W^T, in 32 x 32 tiles (about ten times faster than NumPy's transposing copy for a
    2048 x 512 W_hh: ``python scripts/profile_lstm_choices.py`` prints both)."""
    R, C = W.shape
    for r0 in range(0, R, 32):
        r1 = min(r0 + 32, R)
        for c0 in range(0, C, 32):
            for c in range(c0, min(c0 + 32, C)):
                row = out[c]
                for r in range(r0, r1):
                    row[r] = W[r, c]


def _transposed(W: np.ndarray, dtype) -> np.ndarray:
    """W^T as a new C-contiguous array of ``dtype`` (W_hh^T for the backward's products)."""
    W = np.ascontiguousarray(W, dtype=dtype)
    out = np.empty(W.shape[::-1], dtype=dtype)
    _transpose_into(W, out)
    return out


def _empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """np.empty with its data on a 64-byte boundary (NumPy's is 16-byte). Both threads write every
    row of a (rows, N) state; with the row start on a cache-line boundary, a split at a multiple
    of 16 float32 columns (N = 32: 16 + 16) gives each thread its own cache lines, where a
    misaligned array makes the two threads write the same line at every row (false sharing)."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    raw = np.empty(size + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + size].view(dtype).reshape(shape)


def _states(T: int, N: int, dtype, h0: np.ndarray, H: int):
    """h (T+1, H, N) and h_rows (T+1, N, H), both with h_0 set."""
    h = _empty((T + 1, H, N), dtype=dtype)
    h_rows = _empty((T + 1, N, H), dtype=dtype)
    h[0], h_rows[0] = h0.T, h0
    return h, h_rows


def _read_only(h_rows: np.ndarray) -> np.ndarray:
    hs = h_rows[1:]
    hs.flags.writeable = False
    return hs


def _grad_start(d: np.ndarray | None, H: int, N: int, dtype, blocks=None, w: int = 0) -> np.ndarray:
    """A final-state gradient (N, H) or None as a new feature-major (H, N) array, or with
    ``blocks`` as (B, H, w), block b's rows in its first columns."""
    if blocks is None:
        out = _empty((H, N), dtype)
        out[:] = 0 if d is None else d.T
        return out
    out = _empty((len(blocks), H, w), dtype)
    out[:] = 0
    if d is not None:
        for b, (n0, n1) in enumerate(blocks):
            out[b, :, : n1 - n0] = d[n0:n1].T
    return out


@_one_blas_thread
def gru_forward(params: Params, x: np.ndarray, h0: np.ndarray):
    """Run PyTorch's GRU over a sequence with the compiled loops.

    Parameters
    ----------
    params : dict
        As for :func:`rnnlab.scratch.reference.gru_step` (gate blocks r, z, n).
    x : ndarray, (T, N, D), or integer ids (T, N) in [0, D) standing for one-hot rows
    h0 : ndarray, (N, H)

    Returns
    -------
    hs : ndarray, (T, N, H)
        h_1..h_T, read-only (it is part of the cache).
    cache : GRURowsCache
    """
    x, dtype, T, N, D = _inputs(params, x)
    H = params[W_HH].shape[1]
    W_hh = np.ascontiguousarray(params[W_HH], dtype=dtype)
    b_ih, b_hh = params[B_IH].astype(dtype), params[B_HH].astype(dtype)
    h, h_rows = _states(T, N, dtype, h0, H)
    act = _empty((T, 3 * H, N), dtype=dtype)
    hn = _empty((T, H, N), dtype=dtype)
    gh = _empty((3 * H, N), dtype=dtype)
    flops = _flops(T, N, D, H, 3)
    _project(np.ascontiguousarray(params[W_IH], dtype=dtype), x, act, flops)
    gemm = _GEMM[np.dtype(dtype)]
    _run_blocks(split(N, flops), lambda n0, n1: _gru_forward_rows(gemm, W_hh, b_ih, b_hh, h, act, hn, gh, h_rows, n0, n1))
    return _read_only(h_rows), GRURowsCache(x, h, h_rows, act, hn)


@_one_blas_thread
def gru_backward(params: Params, dhs: np.ndarray, cache: GRURowsCache, dh_T: np.ndarray | None = None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`gru_forward` with the compiled loops (arguments and result as for
    :func:`rnnlab.scratch.functional.gru_backward`)."""
    dtype = dhs.dtype
    T, N, H = dhs.shape
    G = 3 * H
    W_hhT = _transposed(params[W_HH], dtype)
    dh_next = _grad_start(dh_T, H, N, dtype)
    dh_total = _empty((T, N, H), dtype=dtype)
    dGi = _empty((T, G, N), dtype=dtype)
    dHn = _empty((T, H, N), dtype=dtype)
    k = 0 if truncate is None else int(truncate)
    flops = _flops(T, N, params[W_IH].shape[1], H, 3)
    gemm = _GEMM[np.dtype(dtype)]

    def loop(n0, n1):
        dh = np.empty((H, n1 - n0), dtype=dtype)
        _gru_backward_rows(gemm, W_hhT, dhs, cache.act, cache.h, cache.hn, dh_total, dGi, dHn, dh_next, dh, k, n0, n1)

    _run_blocks(split(N, flops), loop)
    rz, n = slice(0, 2 * H), slice(2 * H, G)  # r, z reach both sides alike; n: da_n (W_ih), d(W_hn h + b_hn) (W_hh)
    blocks = [_Grad(0, rz, rz, rz), _Grad(0, n, n, None), _Grad(1, slice(0, H), None, n)]
    dx, dW_ih, dW_hh, db_ih, db_hh = _step_sums([dGi, dHn], np.ascontiguousarray(params[W_IH], dtype=dtype), cache.x,
                                                cache.h_rows[:T].reshape(T * N, H), blocks, flops)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db_ih, B_HH: db_hh}
    return BPTT(dx, dh_next.T.copy(), grads, dh_total)


@_one_blas_thread
def rnn_forward(params: Params, x: np.ndarray, h0: np.ndarray, nonlinearity: str = "tanh"):
    """Run a vanilla RNN over a sequence with the compiled loops (``nonlinearity`` checked by the
    caller). Returns hs (T, N, H), read-only, and an :class:`RNNRowsCache`."""
    x, dtype, T, N, D = _inputs(params, x)
    H = params[W_HH].shape[1]
    h, h_rows = _states(T, N, dtype, h0, H)
    flops = _flops(T, N, D, H, 1)
    _project(np.ascontiguousarray(params[W_IH], dtype=dtype), x, h[1:], flops)  # h[t+1] starts as W_ih x_t
    W_hh = np.ascontiguousarray(params[W_HH], dtype=dtype)
    bias = (params[B_IH] + params[B_HH]).astype(dtype)
    gemm, relu = _GEMM[np.dtype(dtype)], nonlinearity == "relu"
    _run_blocks(split(N, flops), lambda n0, n1: _rnn_forward_rows(gemm, W_hh, bias, relu, h, h_rows, n0, n1))
    return _read_only(h_rows), RNNRowsCache(x, h, h_rows, nonlinearity)


@_one_blas_thread
def rnn_backward(params: Params, dhs: np.ndarray, cache: RNNRowsCache, dh_T: np.ndarray | None = None,
                 truncate: int | None = None) -> BPTT:
    """BPTT for :func:`rnn_forward` with the compiled loops (arguments and result as for
    :func:`rnnlab.scratch.functional.rnn_backward`)."""
    dtype = dhs.dtype
    T, N, H = dhs.shape
    W_hhT = _transposed(params[W_HH], dtype)
    dh_next = _grad_start(dh_T, H, N, dtype)
    dh_total = _empty((T, N, H), dtype=dtype)
    dA = _empty((T, H, N), dtype=dtype)
    k = 0 if truncate is None else int(truncate)
    flops = _flops(T, N, params[W_IH].shape[1], H, 1)
    gemm, relu = _GEMM[np.dtype(dtype)], cache.nonlinearity == "relu"

    def loop(n0, n1):
        dh = np.empty((H, n1 - n0), dtype=dtype)
        _rnn_backward_rows(gemm, W_hhT, dhs, cache.h, relu, dh_total, dA, dh_next, dh, k, n0, n1)

    _run_blocks(split(N, flops), loop)
    every = slice(0, H)
    dx, dW_ih, dW_hh, db_ih, db_hh = _step_sums([dA], np.ascontiguousarray(params[W_IH], dtype=dtype), cache.x,
                                                cache.h_rows[:T].reshape(T * N, H), [_Grad(0, every, every, every)],
                                                flops)
    grads = {W_IH: dW_ih, W_HH: dW_hh, B_IH: db_ih, B_HH: db_hh}
    return BPTT(dx, dh_next.T.copy(), grads, dh_total)


class _Grad(NamedTuple):
    """One block of gate gradients for :func:`_step_sums`: rows ``rows`` of source array
    ``source`` and the rows of the weight (and bias) gradients they make through W_ih and
    through W_hh (None: not that side)."""

    source: int
    rows: slice
    ih: slice | None
    hh: slice | None


def _step_sums(sources: list[np.ndarray], W_ih: np.ndarray, x: np.ndarray, h_rows: np.ndarray, blocks: list[_Grad],
               flops: float):
    """What BPTT does after the loop::

        dx_t = da_t^T W_ih      dW_ih = sum_t da_t x_t      dW_hh = sum_t da_t h_{t-1}^T      db = sum_t da_t 1

    ``sources`` are the loop's gate gradients, each (T, rows, N) or already laid out as
    (rows, T*N) (the LSTM's); the first is the whole
    gradient reaching W_ih x_t + b_ih (G*H rows), and ``blocks`` say which rows of the weight
    gradients each part of a source makes (the LSTM and the RNN: one block for both sides; the
    GRU's n gate differs between them). h_rows (T*N, H) has h_{t-1}[n] in row t*N + n.

    Every sum over steps is one product over all (step, batch row) pairs: the sources are first
    laid out as (rows, T*N) (column t*N + n is da_t[:, n]); then dW = cols @ x or h_{t-1} as
    (T*N, .) rows, and dx = cols^T W_ih. Each stage is two tasks when the problem is large
    enough (:func:`split`), the second on the helper thread: half the rows of every source and
    of the weight gradients, then half of dx's rows.

    For ids (x (T, N), one-hot rows of width D): dW_ih gathers the columns of each id instead
    of a product (:func:`_scatter_columns`), and dx is None (ids have no gradient).

    With every source laid out already (the LSTM's), each task also computes its half of dx's
    rows, with no wait between the two stages.

    Returns dx (T, N, D) or None, dW_ih, dW_hh, db_ih, db_hh.
    """
    T, N = x.shape[:2]
    D, H = W_ih.shape[1], h_rows.shape[1]
    ids = x.ndim == 2
    dtype = sources[0].dtype
    cols = [src if src.ndim == 2 else np.empty((src.shape[1], T * N), dtype=dtype) for src in sources]
    GH = cols[0].shape[0]
    dW_ih, dW_hh = np.empty((GH, D), dtype=dtype), np.empty((GH, H), dtype=dtype)
    db_ih, db_hh = np.empty(GH, dtype=dtype), np.empty(GH, dtype=dtype)
    x_rows = x.reshape(T * N, *x.shape[2:])  # row t*N + n: x_t[n] (for ids: entry t*N + n)
    source_parts = [split(out.shape[0], flops) for out in cols]
    tasks = max(len(p) for p in source_parts)  # a source too small to cut is all in task 0
    laid_out = all(src.ndim == 2 for src in sources)
    dx = None if ids else np.empty((T * N, D), dtype=dtype)
    dx_parts = split(T * N, flops)
    if laid_out:
        tasks = max(tasks, len(dx_parts))

    def weights(k, _):
        for src, out, parts in zip(sources, cols, source_parts):
            if k < len(parts) and src.ndim == 3:
                lo, hi = parts[k]
                out[lo:hi].reshape(hi - lo, T, N)[:] = src[:, lo:hi].transpose(1, 0, 2)
        for block in blocks:
            parts = source_parts[block.source]
            if k >= len(parts):
                continue
            lo, hi = max(parts[k][0], block.rows.start), min(parts[k][1], block.rows.stop)
            if lo >= hi:
                continue
            a = cols[block.source][lo:hi]
            summed = None  # db of the first side: the second side's is the same sum
            for side, dW, db, rows in ((block.ih, dW_ih, db_ih, x_rows), (block.hh, dW_hh, db_hh, h_rows)):
                if side is not None:
                    r = side.start + lo - block.rows.start
                    if ids and rows is x_rows:
                        _scatter_columns(a, rows, dW[r : r + hi - lo])
                    else:
                        np.matmul(a, rows, out=dW[r : r + hi - lo])
                    if summed is None:
                        summed = np.sum(a, axis=1, out=db[r : r + hi - lo])
                    else:
                        db[r : r + hi - lo] = summed
        if laid_out and dx is not None and k < len(dx_parts):
            dx_part(*dx_parts[k])

    def dx_part(r0, r1):
        np.matmul(cols[0][:, r0:r1].T, W_ih, out=dx[r0:r1])

    _run_blocks([(k, k + 1) for k in range(tasks)], weights)
    if ids:
        return None, dW_ih, dW_hh, db_ih, db_hh
    if not laid_out:
        _run_blocks(dx_parts, dx_part)
    return dx.reshape(T, N, D), dW_ih, dW_hh, db_ih, db_hh


# --------------------------------------------------------------------------------------------
# The readout and the loss: NumPy products and ufuncs on rows cut in two
# --------------------------------------------------------------------------------------------


@_one_blas_thread
def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """y = x W^T + b over the last axis, x (..., D) C-contiguous -> y (..., O): one product on
    the (M, D) rows, its two halves of rows on two threads (:func:`split`)."""
    D, O = x.shape[-1], W.shape[0]
    rows = x.reshape(-1, D)
    M = rows.shape[0]
    y = np.empty((M, O), dtype=x.dtype)

    def part(r0, r1):
        out = np.matmul(rows[r0:r1], W.T, out=y[r0:r1])
        out += b

    _run_blocks(split(M, 2.0 * M * D * O), part)
    return y.reshape(*x.shape[:-1], O)


@_one_blas_thread
def dense_backward(dy: np.ndarray, x: np.ndarray, W: np.ndarray):
    """dx = dy W, dW = sum_m dy_m x_m^T and db = sum_m dy_m for :func:`dense_forward` (x its
    C-contiguous input): dx in two halves of its rows, dW and db in two halves of theirs, each
    one product over all M rows. Returns dx (..., D), dW (O, D), db (O,)."""
    O, D = W.shape
    rows = x.reshape(-1, D)
    M = rows.shape[0]
    dy2 = np.ascontiguousarray(dy).reshape(M, O)
    dx, dW, db = np.empty((M, D), dtype=x.dtype), np.empty((O, D), dtype=x.dtype), np.empty(O, dtype=x.dtype)
    flops = 2.0 * M * D * O
    row_parts, out_parts = split(M, flops), split(O, flops, 1)

    def part(k, _):
        if k < len(row_parts):
            r0, r1 = row_parts[k]
            np.matmul(dy2[r0:r1], W, out=dx[r0:r1])
        if k < len(out_parts):
            o0, o1 = out_parts[k]
            np.matmul(dy2[:, o0:o1].T, rows, out=dW[o0:o1])
            np.sum(dy2[:, o0:o1], axis=0, out=db[o0:o1])

    _run_blocks([(k, k + 1) for k in range(max(len(row_parts), len(out_parts)))], part)
    return dx.reshape(*x.shape[:-1], D), dW, db


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """:func:`rnnlab.scratch.losses.softmax_cross_entropy` (arguments checked by it) with the
    rows cut in two halves on two threads; each half's loss is summed in float64, and the loss
    is their sum over M. Raises ShapeError for NaN or inf logits."""
    C = logits.shape[-1]
    z = np.ascontiguousarray(logits).reshape(-1, C)
    y = targets.reshape(-1)
    M = z.shape[0]
    scale = 1.0 / M
    dz = np.empty_like(z)
    parts = split(M, 200.0 * M * C)  # counted as 200 operations per entry: cut in two from M C = 2e5 (by timing)
    losses = [0.0] * len(parts)
    finite = [True] * len(parts)

    def part(k, _):
        r0, r1 = parts[k]
        rows, e = z[r0:r1], dz[r0:r1]
        top = rows.max(axis=1, keepdims=True)
        if not (np.isfinite(top).all() and np.isfinite(rows.min(axis=1)).all()):
            finite[k] = False
            return
        np.subtract(rows, top, out=e)  # z - max z
        picked = e[np.arange(r1 - r0), y[r0:r1]]  # (z - max z)[y]
        np.exp(e, out=e)
        total = e.sum(axis=1)
        losses[k] = float(np.sum(np.log(total) - picked, dtype=np.float64))  # -log softmax(z)[y]
        e *= (scale / total)[:, None]  # softmax / M
        e[np.arange(r1 - r0), y[r0:r1]] -= scale

    _run_blocks([(k, k + 1) for k in range(len(parts))], part)
    if not all(finite):
        check_finite("logits", z)  # raises, counting the NaN and inf entries
    return sum(losses) * scale, dz.reshape(logits.shape)


# --------------------------------------------------------------------------------------------
# Adam
# --------------------------------------------------------------------------------------------


@numba.njit(**_JIT)
def _adam_update(p, g, m, v, b1, one_b1, b2, one_b2, c1, c2, lr, eps):
    """One Adam step on flat arrays, in one pass: the same operations in the same order, each
    rounded to the arrays' dtype, as :meth:`rnnlab.scratch.optim.Adam.step`'s NumPy lines (so
    bitwise their numbers; the scalars come in that dtype)."""
    for k in range(p.size):
        gk = g[k]
        mk = m[k] * b1 + one_b1 * gk  # m = b1 m + (1 - b1) g
        vk = v[k] * b2 + one_b2 * (gk * gk)  # v = b2 v + (1 - b2) g^2
        m[k] = mk
        v[k] = vk
        p[k] = p[k] - lr * (mk / c1) / (np.sqrt(vk / c2) + eps)  # p -= lr m_hat / (sqrt(v_hat) + eps)


def adam_update(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, b1: float, b2: float, c1: float,
                c2: float, lr: float, eps: float) -> None:
    """:func:`_adam_update` on C-contiguous arrays of one dtype, the Python scalars rounded to it
    as NumPy does for an array and a Python float."""
    s = p.dtype.type
    _adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), s(b1), s(1.0 - b1), s(b2),
                 s(1.0 - b2), s(c1), s(c2), s(lr), s(eps))
