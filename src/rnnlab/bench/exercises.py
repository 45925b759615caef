"""Accuracy goals of the introductory exercises, over several seeds (``rnnlab bench exercises``).

- Increasing vs decreasing (exercise 5): test accuracy on fresh length-4 sequences, goal at least
  98% for every seed, and the accuracy on lengths 8 and 16 it never saw.
- BiLSTM sentiment (exercise 6) on the shipped sentences (:mod:`rnnlab.data.sentences`):
  held-out accuracy per seed against chance and against a logistic regression on mean GloVe
  vectors.

Every setting is the section's profile (:func:`rnnlab.experiments.exercises.build_config`,
``--profile``, default ``default``); the training goes through the exercises' public functions
(:func:`rnnlab.exercises.monotonic.train_monotonic`,
:func:`rnnlab.exercises.sentiment.train_sentiment`), which build their models from
:mod:`rnnlab.models` and train them with :mod:`rnnlab.train`.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from typing import Any

import numpy as np

from rnnlab.errors import ConfigError

GOAL = 0.98
PROFILES = ("quick", "default", "full")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument(
        "--skip-sentiment", action="store_true", help="only the increasing/decreasing goal"
    )
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default="default",
        help="the exercises section's settings to use (default: default)",
    )


def monotonic_goal(c: Any, seeds: int) -> bool:
    """Train the increasing/decreasing RNN once per seed; print a row each; True when every
    seed reaches :data:`GOAL` on the training length."""
    from rnnlab.exercises.monotonic import train_monotonic

    print(
        f"\nIncreasing vs decreasing: RNN H={c.mono_hidden}, {c.mono_train} training sequences "
        f"of length {c.mono_length}, {c.mono_epochs} epochs; {c.mono_test} test sequences per "
        "length"
    )
    lengths = c.mono_eval_lengths
    print(f"{'seed':>4}  " + "  ".join(f"{f'T={T}':>7}" for T in lengths) + "   seconds")
    accs = []
    for seed in range(seeds):
        start = time.perf_counter()
        r = train_monotonic(
            train_size=c.mono_train,
            test_size=c.mono_test,
            length=c.mono_length,
            eval_lengths=lengths,
            hidden_size=c.mono_hidden,
            epochs=c.mono_epochs,
            batch_size=c.mono_batch,
            lr=c.mono_lr,
            seed=seed,
        )
        accs.append(r.test_accuracy)
        row = "  ".join(f"{100 * r.accuracy_by_length[T]:6.1f}%" for T in lengths)
        print(f"{seed:>4}  {row}   {time.perf_counter() - start:7.1f}")
    acc = np.array(accs)
    ok = bool((acc >= GOAL).all())
    print(
        f"length {c.mono_length} test accuracy: mean {100 * acc.mean():.2f}%, min "
        f"{100 * acc.min():.2f}% (goal >= {100 * GOAL:.0f}% for every seed: "
        f"{'PASS' if ok else 'FAIL'})"
    )
    return ok


def sentiment_accuracies(c: Any, seeds: int) -> list[float]:
    """Train the BiLSTM once per seed on the shipped sentences; print each held-out accuracy
    and the mean-GloVe baseline; return the held-out accuracies."""
    from rnnlab.data.sentences import load_shipped_sentences
    from rnnlab.exercises.sentiment import mean_glove_baseline, train_sentiment

    data = load_shipped_sentences()
    n = len(data.test)
    print(
        f"\nBiLSTM sentiment: {len(data.train)} training / {n} held-out shipped sentences, "
        f"H={c.sent_hidden}, {c.sent_layers} layers, {c.sent_epochs} epochs"
    )
    accs = []
    for seed in range(seeds):
        start = time.perf_counter()
        r = train_sentiment(
            data,
            hidden_size=c.sent_hidden,
            num_layers=c.sent_layers,
            dropout=c.sent_dropout,
            epochs=c.sent_epochs,
            batch_size=c.sent_batch,
            lr=c.sent_lr,
            freeze_embeddings=c.sent_freeze_embeddings,
            seed=seed,
        )
        accs.append(r.test_accuracy)
        print(
            f"{seed:>4}  held-out {100 * r.test_accuracy:5.1f}%  train "
            f"{100 * r.train_accuracy:5.1f}%  {time.perf_counter() - start:6.1f} s"
        )
    baseline = mean_glove_baseline(data)
    se = math.sqrt(0.25 / n)  # one standard error of an accuracy of 50% on n texts
    print(
        f"mean {100 * np.mean(accs):.1f}% ± {100 * np.std(accs):.1f}% (chance 50%, one standard "
        f"error {100 * se:.1f}%); mean-GloVe logistic regression {100 * baseline:.1f}%"
    )
    return accs


def main(args: argparse.Namespace) -> int:
    from rnnlab.experiments.exercises import build_config

    if args.seeds < 1:
        raise ConfigError(f"expected --seeds >= 1, found {args.seeds}")
    profile = getattr(args, "profile", "default")
    c = build_config(profile)
    machine = platform.processor() or platform.machine()
    print(f"rnnlab bench exercises: {args.seeds} seeds, {profile} profile, {machine}")
    ok = monotonic_goal(c, args.seeds)
    if not args.skip_sentiment:
        sentiment_accuracies(c, args.seeds)
    return 0 if ok else 1
