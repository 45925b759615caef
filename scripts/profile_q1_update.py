"""Where one Q1 training update's time goes, part by part (docs/BENCHMARKS.md, q1).

Usage: python scripts/profile_q1_update.py [--task text|sine] [--profile full|default] [--updates N]

Builds Q1's task and model for the profile, then times N updates (after 10 untimed ones) of each
cell, as the training loop does them: the batch, the recurrent layer's forward, the readout, the
loss, the readout's and the layer's backward, clipping and Adam. Runs as Q1 trains: one BLAS
thread, the engine on its default threads. Prints milliseconds per update.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnnlab.experiments import q1
from rnnlab.scratch import Adam, clip_grad_norm
from rnnlab.threads import limit_threads
from rnnlab.train.scratch_loop import make_model

PARTS = ("batch", "layer forward", "readout forward", "loss", "readout backward", "layer backward", "clip", "adam")


def profile(task, settings, cell: str, updates: int) -> dict[str, float]:
    """Milliseconds per update of each part, over ``updates`` updates after 10 untimed ones."""
    model = make_model(task, cell, settings, 0)
    optimiser = Adam(model.layers, lr=settings.lr)
    rng = np.random.default_rng(0)
    totals = dict.fromkeys(PARTS, 0.0)
    for step in range(10 + updates):
        times = [time.perf_counter()]
        x, y = task.batch(rng, settings.batch_size)
        times.append(time.perf_counter())
        hs, layer_cache = model.layer.forward(x)
        times.append(time.perf_counter())
        out, readout_cache = model.readout.forward(hs)
        times.append(time.perf_counter())
        _, dout = task.loss(out, y)
        times.append(time.perf_counter())
        dhs = model.readout.backward(dout, readout_cache)
        times.append(time.perf_counter())
        model.layer.backward(dhs, layer_cache, truncate=settings.bptt_window)
        times.append(time.perf_counter())
        if settings.clip is not None:
            clip_grad_norm(model.layers, settings.clip)
        times.append(time.perf_counter())
        optimiser.step()
        times.append(time.perf_counter())
        if step >= 10:
            for part, t0, t1 in zip(PARTS, times, times[1:]):
                totals[part] += t1 - t0
    return {part: 1e3 * seconds / updates for part, seconds in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("text", "sine"), default="text")
    parser.add_argument("--profile", choices=("full", "default"), default="full")
    parser.add_argument("--updates", type=int, default=50)
    args = parser.parse_args()
    config = q1.build_config(args.profile, 0, {})
    task = q1._load_data(config)[3][args.task]
    settings = config.settings(args.task)
    x, _ = task.batch(np.random.default_rng(0), settings.batch_size)
    print(f"Q1 {args.profile} profile, {args.task} task: batch {x.shape}, hidden {settings.hidden_size}, "
          f"{settings.dtype}; ms per update, mean of {args.updates}")
    print("| cell | " + " | ".join(PARTS) + " | total |")
    print("|---" * (len(PARTS) + 2) + "|")
    with limit_threads(1):
        for cell in config.cells:
            ms = profile(task, settings, cell, args.updates)
            print(f"| {cell} | " + " | ".join(f"{ms[p]:.2f}" for p in PARTS) + f" | {sum(ms.values()):.2f} |")


if __name__ == "__main__":
    main()
