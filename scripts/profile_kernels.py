"""Where the compiled LSTM loop's time goes, and what its float32 tanh costs (docs/BENCHMARKS.md).

Usage: python scripts/profile_kernels.py

Prints, on one thread (one BLAS thread):

- for the issue's N128 T28 D28 H128 and N32 T50 D512 H512 shapes, one batch block's forward loop
  (half the batch, as on each of the two threads) against the same number of recurrent products
  W_hh h_{t-1} alone, and the products' speed in GFLOP/s;
- the time per value of three float32 tanh in a loop of 65,536 values: NumPy's vectorised
  ``np.tanh``, the C library's ``tanhf`` called from a numba loop, and the engine's own
  (``rnnlab.scratch.kernels.tanh_f32``).
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from rnnlab.scratch import kernels as K


def best_of(fn, repeats: int = 15) -> float:
    """Seconds of the fastest of ``repeats`` calls, after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@numba.njit(nogil=True)
def _products_only(gemm, W_hh, h, act, n0, n1):
    T, G, N = act.shape
    for t in range(T):
        K._recurrent_product(gemm, W_hh, h, t % 2, act.ravel(), t * G * N, N, n0, n1, 1.0)


@numba.njit(nogil=True)
def _libm_tanh(x, out):
    for k in range(x.size):
        out[k] = math.tanh(x[k])


def loop_shares(N: int, T: int, H: int) -> None:
    rng = np.random.default_rng(0)
    G, n = 4 * H, N // 2
    W_hh = (rng.standard_normal((G, H)) * 0.1).astype(np.float32)
    bias = np.zeros(G, np.float32)
    h = np.zeros((2, H, N), np.float32)  # the forward's ring of two steps
    c = np.zeros((T + 1, H, N), np.float32)
    act = rng.standard_normal((T, G, N)).astype(np.float32)
    tanh_c = np.empty((T, H, N), np.float32)
    h_rows = np.empty((T + 1, N, H), np.float32)
    gemm, form = K._GEMM[np.dtype(np.float32)], K._gate_form(H)
    no_inputs = (np.zeros((G, 1), np.float32), np.zeros((1, 1, 1), np.float32), False)  # act holds W_ih x_t already
    whole = best_of(lambda: K._lstm_forward_rows(gemm, W_hh, bias, *form, h, c, act, tanh_c, h_rows, 0, n, *no_inputs))
    products = best_of(lambda: _products_only(gemm, W_hh, h, act, 0, n))
    gflops = 2.0 * n * G * H * T / products / 1e9
    print(f"N{N} T{T} H{H}, one block of {n} rows: forward loop {whole * 1e3:.2f} ms, of which the "
          f"recurrent products {products * 1e3:.2f} ms ({gflops:.0f} GFLOP/s)")


def tanh_costs() -> None:
    x = (np.random.default_rng(0).standard_normal(65536) * 3).astype(np.float32)
    out = np.empty_like(x)
    for name, fn in (("NumPy np.tanh", lambda: np.tanh(x, out=out)),
                     ("C library tanhf in a numba loop", lambda: _libm_tanh(x, out)),
                     ("rnnlab kernels.tanh_f32", lambda: K._tanh_array(x, out))):
        print(f"float32 tanh, {name}: {best_of(fn) / x.size * 1e9:.2f} ns per value")


def main() -> None:
    with threadpool_limits(1), K._BLAS.limit(limits=1, user_api="blas"):
        loop_shares(128, 28, 128)
        loop_shares(32, 50, 512)
        tanh_costs()


if __name__ == "__main__":
    main()
