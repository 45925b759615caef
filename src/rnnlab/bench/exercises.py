"""Accuracy goals of the introductory exercises, over several seeds.

- Increasing vs decreasing (exercise 5): test accuracy on fresh length-4 sequences, goal at least
  98% for every seed, and the accuracy on lengths 8 and 16 it never saw.
- BiLSTM sentiment (exercise 6) on the shipped sentences: held-out accuracy per seed against
  chance and against a logistic regression on mean GloVe vectors.

Every setting is the section's default profile (:mod:`rnnlab.experiments.exercises`).
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np

from rnnlab.errors import ConfigError

GOAL = 0.98


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--skip-sentiment", action="store_true", help="only the increasing/decreasing goal")


def main(args: argparse.Namespace) -> int:
    from rnnlab.exercises import sentiment as S
    from rnnlab.exercises.monotonic import train_monotonic
    from rnnlab.experiments.exercises import build_config

    if args.seeds < 1:
        raise ConfigError(f"expected --seeds >= 1, found {args.seeds}")
    c = build_config("default")
    print(f"rnnlab bench exercises: {args.seeds} seeds, default profile, {platform.processor() or platform.machine()}")
    print(f"\nIncreasing vs decreasing: RNN H={c.mono_hidden}, {c.mono_train} training sequences of length "
          f"{c.mono_length}, {c.mono_epochs} epochs; {c.mono_test} test sequences per length")
    lengths = c.mono_eval_lengths
    print(f"{'seed':>4}  " + "  ".join(f"{f'T={T}':>7}" for T in lengths) + "   seconds")
    rows = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        r = train_monotonic(train_size=c.mono_train, test_size=c.mono_test, length=c.mono_length,
                            eval_lengths=lengths, hidden_size=c.mono_hidden, epochs=c.mono_epochs,
                            batch_size=c.mono_batch, lr=c.mono_lr, seed=seed)
        rows.append(r)
        print(f"{seed:>4}  " + "  ".join(f"{100 * r.accuracy_by_length[T]:6.1f}%" for T in lengths)
              + f"   {time.perf_counter() - start:7.1f}")
    accs = np.array([r.test_accuracy for r in rows])
    ok = bool((accs >= GOAL).all())
    print(f"length {c.mono_length} test accuracy: mean {100 * accs.mean():.2f}%, min {100 * accs.min():.2f}% "
          f"(goal >= {100 * GOAL:.0f}% for every seed: {'PASS' if ok else 'FAIL'})")

    if not args.skip_sentiment:
        data = S.load_shipped_sentences()
        n = len(data.test)
        print(f"\nBiLSTM sentiment: {len(data.train)} training / {n} held-out shipped sentences, H={c.sent_hidden}, "
              f"{c.sent_layers} layers, {c.sent_epochs} epochs")
        accs_s = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            r = S.train_sentiment(data, hidden_size=c.sent_hidden, num_layers=c.sent_layers, dropout=c.sent_dropout,
                                  epochs=c.sent_epochs, batch_size=c.sent_batch, lr=c.sent_lr,
                                  freeze_embeddings=c.sent_freeze_embeddings, seed=seed)
            accs_s.append(r.test_accuracy)
            print(f"{seed:>4}  held-out {100 * r.test_accuracy:5.1f}%  train {100 * r.train_accuracy:5.1f}%  "
                  f"{time.perf_counter() - start:6.1f} s")
        baseline = S.mean_glove_baseline(data)
        se = math.sqrt(0.25 / n)
        print(f"mean {100 * np.mean(accs_s):.1f}% ± {100 * np.std(accs_s):.1f}% (chance 50%, one standard error "
              f"{100 * se:.1f}%); mean-GloVe logistic regression {100 * baseline:.1f}%")
    return 0 if ok else 1
