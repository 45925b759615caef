"""Speed of the NumPy engine against torch.nn on the CPU.

One training step's recurrent work (forward and backward) of RNN, LSTM and GRU at the row-wise
MNIST shape (batch 128, 28 steps, 28 inputs, hidden 128, float32), the NumPy engine and torch.nn
in the same process. FLOPs of one step: about 6 * B * T * G * H * (I + H) (2 for the forward
matmuls, 4 for the backward ones), G = 4 (LSTM), 3 (GRU), 1 (RNN).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from rnnlab.errors import ConfigError

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=28)
    p.add_argument("--input-size", type=int, default=28)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions (median reported)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument(
        "--numpy-threads", type=int, default=1,
        help="BLAS threads for the NumPy engine (default 1: its per-step products are small, and "
        "threads waiting on each other cost more than they save, badly so on a busy machine)",
    )


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def measure(B: int, T: int, I: int, H: int, repeats: int, dtype: str) -> list[dict]:
    import torch

    from rnnlab.scratch import make_layer

    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    dhs = rng.standard_normal((B, T, H)).astype(dtype)
    rows = []
    for cell, G in GATES.items():
        layer = make_layer(cell, I, H, seed=0, dtype=dtype)

        def numpy_step():
            hs, cache = layer.forward(x)
            layer.backward(dhs, cache)

        module = layer.to_torch()
        xt = torch.tensor(x, requires_grad=True)
        gt = torch.tensor(dhs)

        def torch_step():
            module.zero_grad(set_to_none=True)
            out, _ = module(xt)
            out.backward(gt)

        ms_np = _median_ms(numpy_step, repeats)
        ms_torch = _median_ms(torch_step, repeats)
        flops = 6.0 * B * T * G * H * (I + H)
        rows.append(
            {
                "cell": cell.upper(),
                "numpy_ms": ms_np,
                "torch_ms": ms_torch,
                "numpy_gflops": flops / ms_np / 1e6,
                "torch_gflops": flops / ms_torch / 1e6,
                "speed_vs_torch": ms_torch / ms_np,
            }
        )
    return rows


def main(args: argparse.Namespace) -> int:
    import torch

    for name in ("batch", "steps", "input_size", "hidden_size", "repeats"):
        if getattr(args, name) < 1:
            raise ConfigError(f"expected --{name.replace('_', '-')} >= 1, found {getattr(args, name)}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    B, T, I, H = args.batch, args.steps, args.input_size, args.hidden_size
    print(f"rnnlab bench engine: forward+backward, B={B} T={T} I={I} H={H} {args.dtype}, median of {args.repeats}")
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numpy {np.__version__}")
    from threadpoolctl import threadpool_limits

    if args.numpy_threads < 1:
        raise ConfigError(f"expected --numpy-threads >= 1, found {args.numpy_threads}")
    print(f"NumPy engine with {args.numpy_threads} BLAS thread(s)")
    with threadpool_limits(args.numpy_threads, user_api="blas"):
        rows = measure(B, T, I, H, args.repeats, args.dtype)
    print(f"{'cell':<6}{'numpy ms':>10}{'torch ms':>10}{'numpy GFLOP/s':>15}{'torch GFLOP/s':>15}{'numpy/torch speed':>19}")
    for r in rows:
        print(f"{r['cell']:<6}{r['numpy_ms']:>10.1f}{r['torch_ms']:>10.1f}{r['numpy_gflops']:>15.1f}"
              f"{r['torch_gflops']:>15.1f}{r['speed_vs_torch']:>18.2f}x")
    print("speed = torch time / numpy time (above 1.0x: the NumPy engine is faster)")
    return 0
