"""Time each shape-dependent choice of the compiled LSTM against its alternative (docs/BENCHMARKS.md).

Usage: python scripts/profile_lstm_choices.py [--repeats R]

The float32 LSTM (``rnnlab.scratch.kernels``) chooses by the shape:

- ``PROJECT_IN_LOOP_D``: inputs this narrow are projected (W_ih x_t) inside the loop, step by
  step, instead of for all steps before it;
- ``PROJECT_WIDE_D`` / ``PROJECT_THIN_N``: wide inputs with a narrow batch are projected by one
  product over all steps instead of one per step;
- ``UNITS_MIN_H`` / ``UNITS_MAX_HALF``: with a narrow batch and a wide layer, the backward splits
  the hidden units between the two threads instead of the batch.

For each choice and a shape where it applies, this prints the median milliseconds of one layer
forward plus backward (float32, the engine on its two threads, one BLAS thread each) with the
choice as shipped and switched off, timed in alternating blocks in one process. Both give the
same numbers (the tests hold them to the reference); only the time differs. Last, the time of
the backward's W_hh^T: NumPy's transposing copy against the tiled one of ``kernels._transposed``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnnlab.scratch import kernels as K
from rnnlab.scratch import make_layer

# (constant, value that switches the choice off, shapes (N, T, D, H) where the choice applies)
CHOICES = [
    ("PROJECT_IN_LOOP_D", 0, [(128, 28, 28, 128), (32, 50, 32, 32)]),
    ("PROJECT_WIDE_D", 10**9, [(32, 50, 512, 512)]),
    ("UNITS_MIN_H", 10**9, [(32, 50, 512, 512)]),
]


def step_time(shape, repeats: int, constant: str, off) -> tuple[float, float]:
    """Median ms of forward + backward with the choice as shipped and switched off."""
    N, T, D, H = shape
    rng = np.random.default_rng(0)
    layer = make_layer("lstm", D, H, seed=0, dtype=np.float32)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    dhs = rng.standard_normal((N, T, H)).astype(np.float32)
    shipped = getattr(K, constant)

    def run(value) -> float:
        setattr(K, constant, value)
        _, cache = layer.forward(x)  # untimed: caches warm again after the other setting
        layer.backward(dhs, cache)
        t0 = time.perf_counter()
        for _ in range(2):
            _, cache = layer.forward(x)
            layer.backward(dhs, cache)
        return 1e3 * (time.perf_counter() - t0) / 2

    times = {"on": [], "off": []}
    try:
        run(shipped)
        run(off)  # compile and warm both paths
        for _ in range(repeats):
            times["on"].append(run(shipped))
            times["off"].append(run(off))
    finally:
        setattr(K, constant, shipped)
    return statistics.median(times["on"]), statistics.median(times["off"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="alternating rounds (median reported; default 9)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"expected --repeats >= 1, found {args.repeats}")
    print("| choice | shape (N T D H) | as shipped, ms | switched off, ms |")
    print("|---|---|---|---|")
    for constant, off, shapes in CHOICES:
        for shape in shapes:
            on_ms, off_ms = step_time(shape, args.repeats, constant, off)
            name = "N{} T{} D{} H{}".format(*shape)
            print(f"| {constant} = {getattr(K, constant)} | {name} | {on_ms:.1f} | {off_ms:.1f} |")
    W = np.random.default_rng(0).standard_normal((2048, 512)).astype(np.float32)
    numpy_ms, tiled_ms = (1e3 * min(_seconds(fn) for _ in range(args.repeats))
                          for fn in (lambda: np.ascontiguousarray(W.T), lambda: K._transposed(W, np.float32)))
    print(f"\nW_hh^T of a 2048 x 512 W_hh: NumPy's transposing copy {numpy_ms:.2f} ms, "
          f"kernels._transposed {tiled_ms:.2f} ms (fastest of {args.repeats})")


def _seconds(fn) -> float:
    fn()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
