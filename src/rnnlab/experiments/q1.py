"""Q1: RNN, LSTM and GRU from scratch (NumPy, hand-written BPTT) on two toy tasks.

The section trains the engine's RNN, LSTM and GRU with one shared budget over several seeds on
sine-wave next-value prediction and on character-level language modelling of real English text,
then measures gradient flow through time (:func:`measure`). Everything shown (loss curves,
gradient-flow figures, tables, sampled text, sentences) is then built from the saved measurements
alone (:func:`present`).

Data flow: :mod:`rnnlab.data.toy` (tasks) -> :mod:`rnnlab.train.scratch_loop` (training records)
-> :mod:`rnnlab.analysis.insights` and :mod:`rnnlab.analysis.gradflow` (numbers) -> metrics.json
-> :mod:`rnnlab.observations.q1` (sentences) and :mod:`rnnlab.viz.q1` (figures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.analysis import gradflow as gf
from rnnlab.analysis import insights
from rnnlab.cells import CELL_LABELS
from rnnlab.data.toy import (
    CharCorpus,
    load_text_source,
    make_sine_data,
    one_hot,
    random_windows,
    read_text_file,
)
from rnnlab.errors import DataError
from rnnlab.experiments.base import (
    RESUME_HELP,
    Figure,
    Presentation,
    RunContext,
    Table,
    config_to_dict,
    make_config,
    option,
)
from rnnlab.observations.q1 import GOOD_FIT_R2, TASK_TITLES, fit_quality
from rnnlab.scratch import mse, softmax_cross_entropy
from rnnlab.sections import TITLES
from rnnlab.train.scratch_loop import (
    SeqModel,
    SineTask,
    TextTask,
    TrainSettings,
    load_run,
    make_model,
    sample_text,
    save_run,
    train_model,
)

NAME = "q1"
TITLE = TITLES[NAME]


@dataclass(frozen=True)
class Config:
    """Every setting of Q1 (the same budget for every cell; seeds seed, seed+1, ...)."""

    profile: str = "default"
    seed: int = 0
    n_seeds: int = 3
    cells: tuple[str, ...] = ("rnn", "lstm", "gru")
    lr: float = 5e-3  # Adam, every cell and task
    clip: float = 5.0  # global gradient-norm clipping
    dtype: str = "float32"  # training precision (gradient flow runs in float64)
    # sine-wave next-value prediction
    sine_hidden: int = 32
    sine_train_sequences: int = 512
    sine_val_sequences: int = 128
    sine_seq_len: int = 50
    sine_noise: float = 0.1
    sine_period_min: float = 8.0
    sine_period_max: float = 40.0
    sine_epochs: int = 16
    sine_batches_per_epoch: int = 40
    sine_batch_size: int = 32
    sine_bptt_window: int | None = None
    # character-level language model
    text_path: str | None = option(
        None, "UTF-8 text file for the character-level model (default: Debian fortunes "
        "quotations if installed, else English text shipped with Python)", flag="--text", metavar="PATH")
    text_hidden: int = 64
    text_seq_len: int = 64
    text_bptt_window: int | None = 32
    text_epochs: int = 16
    text_batches_per_epoch: int = 50
    text_batch_size: int = 32
    text_val_fraction: float = 0.1
    text_val_windows: int = 64
    sample_prime: str = "The "
    sample_length: int = 200
    sample_temperature: float = 0.8  # for samples during training
    final_temperatures: tuple[float, ...] = (0.5, 1.0)  # extra samples after training
    # gradient flow
    gradflow_lengths: tuple[int, ...] = (20, 50, 100)
    gradflow_sequences: int = 16
    jacobian_sequences: int = 4
    vanishing_radius: float = 0.5
    exploding_radius: float = 3.0
    # interrupted runs
    resume: bool = option(False, RESUME_HELP)
    # how runs share the machine
    workers: int | None = option(
        None, "processes that train Q1's runs side by side, each on one core (default: one per CPU; "
        "1: one run at a time, its engine on up to two threads)", minimum=1, metavar="N")

    def settings(self, task: str) -> TrainSettings:
        """The shared training budget of ``task`` (``"sine"`` or ``"text"``)."""
        p = task + "_"
        return TrainSettings(
            hidden_size=getattr(self, p + "hidden"),
            epochs=getattr(self, p + "epochs"),
            batches_per_epoch=getattr(self, p + "batches_per_epoch"),
            batch_size=getattr(self, p + "batch_size"),
            lr=self.lr,
            clip=self.clip,
            bptt_window=getattr(self, p + "bptt_window"),
            dtype=self.dtype,
        )


PROFILE_OVERRIDES: dict[str, dict] = {
    "quick": {
        "n_seeds": 2, "sine_hidden": 8, "sine_train_sequences": 32, "sine_val_sequences": 16, "sine_seq_len": 20,
        "sine_epochs": 3, "sine_batches_per_epoch": 5, "sine_batch_size": 8, "text_hidden": 16, "text_seq_len": 16,
        "text_bptt_window": 8, "text_epochs": 3, "text_batches_per_epoch": 5, "text_batch_size": 8,
        "text_val_windows": 8, "sample_length": 40, "gradflow_lengths": (10, 20), "gradflow_sequences": 4,
        "jacobian_sequences": 2, "lr": 1e-2, "workers": 1,
    },
    "default": {},
    "full": {
        "n_seeds": 5, "sine_hidden": 64, "sine_epochs": 40, "sine_batches_per_epoch": 50, "text_hidden": 128,
        "text_seq_len": 100, "text_bptt_window": 50, "text_epochs": 40, "text_batches_per_epoch": 100,
        "text_val_windows": 200, "sample_length": 400, "gradflow_lengths": (20, 50, 100, 200),
        "gradflow_sequences": 32, "jacobian_sequences": 8, "lr": 3e-3,
    },
}


def build_config(profile: str = "default", seed: int = 0, options: Mapping[str, Any] | None = None) -> Config:
    """The configuration of ``profile`` with the user's options (``text_path``: ``--text PATH``).

    A text file given as an option is checked here, before any work: a missing, non-UTF-8 or
    empty file, or one too short for the windows, raises a one-line DataError.
    """
    config = make_config(Config, PROFILE_OVERRIDES, profile, seed, options, section="q1")
    if config.text_path is not None:
        path = Path(config.text_path).expanduser()
        text = read_text_file(path)
        config = dataclasses.replace(config, text_path=str(path.resolve()))
        _check_text(CharCorpus(text, val_fraction=config.text_val_fraction, source="file"), config)
    return config


def _check_text(corpus: CharCorpus, config: Config) -> None:
    """Raise DataError when the text is too short for the training windows or gradient flow."""
    corpus.check_windows(config.text_seq_len)
    if len(corpus.ids) <= max(config.gradflow_lengths):
        raise DataError(f"expected more than {max(config.gradflow_lengths)} characters of text for "
                        f"the gradient-flow lengths, found {len(corpus.ids)}")


# ------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="q1 training", unit="run", disable=not enabled, leave=False)


def _curves(histories) -> dict[str, list]:
    """Per-seed arrays (S, E+1) of the recorded quantities of one model."""
    keys = ("val_loss", "train_loss", "seconds", "grad_norm", "clipped_fraction")
    return {k: [h.series(k).tolist() for h in histories] for k in keys}


def _run_curves(curves: dict, num_parameters: int) -> insights.RunCurves:
    return insights.RunCurves(np.array(curves["val_loss"]), np.array(curves["seconds"]), num_parameters,
                              np.array(curves["train_loss"]))


def _mechanism(models: list[SeqModel], x: np.ndarray, y: np.ndarray, loss_fn) -> dict:
    """Gradient decay factor (loss on the last step), its fit's R^2, and gate means over seeds."""
    fits, gates = [], []
    for m in models:
        m64 = m.astype(np.float64)
        x64 = x.astype(np.float64)
        norms = gf.grad_norms_last_step(m64, x64, y, loss_fn)
        fits.append(gf.fit_decay(norms))
        gates.append(gf.gate_means(m64.layer, x64))
    factors = [f.factor_per_step for f in fits]
    out = {"grad_factor_per_step": float(np.mean(factors)),
           "grad_factor_per_seed": [float(f) for f in factors],
           "grad_fit_r2_per_seed": [float(f.r2) for f in fits]}
    for name in gates[0]:
        key = f"{name}_gate_mean" if not name.endswith(f"_above_{gf.OPEN_GATE:g}") else \
            f"{name.split('_above_')[0]}_gate_open_fraction"
        out[key] = float(np.mean([g[name] for g in gates]))
    return out


def _gradflow_entry(model: SeqModel, x: np.ndarray, y: np.ndarray) -> dict:
    norms = gf.grad_norms_last_step(model, x, y, softmax_cross_entropy)
    return {"norms": norms.tolist(), "fit": gf.fit_decay(norms).to_dict()}


def run_gradflow(config: Config, corpus: CharCorpus, init_models: dict[str, SeqModel],
                 trained_models: dict[str, SeqModel]) -> dict:
    """||dL/dh_t|| for every length, cell and condition, and Jacobian norms at the longest length.

    Inputs are windows of the text (one-hot), the loss the cross-entropy of the last step's next
    character; every model is converted to float64 first.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])
    lengths = [int(T) for T in config.gradflow_lengths]
    windows = {T: random_windows(corpus.ids, config.gradflow_sequences, T, rng) for T in lengths}
    V = corpus.vocab_size
    cells: dict[str, dict] = {}
    jacobian: dict[str, dict] = {}
    T_max = max(lengths)
    for cell, init in init_models.items():
        label = CELL_LABELS[cell]
        variants = {
            "init": init.astype(np.float64),
            "trained": trained_models[cell].astype(np.float64),
        }
        for cond, radius in (("vanishing", config.vanishing_radius), ("exploding", config.exploding_radius)):
            m = init.astype(np.float64)
            m.layer = gf.rescale_recurrent(m.layer, radius)
            variants[cond] = m
        cells[label] = {cond: {} for cond in variants}
        jacobian[label] = {}
        for cond, model in variants.items():
            for T in lengths:
                x_ids, y_ids = windows[T]
                cells[label][cond][str(T)] = _gradflow_entry(model, one_hot(x_ids, V), y_ids)
            xj = one_hot(windows[T_max][0][: config.jacobian_sequences], V)
            jacobian[label][cond] = gf.jacobian_norms(model.layer, xj).tolist()
        cells[label]["radius_init"] = gf.recurrent_radii(variants["init"].layer)
        cells[label]["radius_trained"] = gf.recurrent_radii(variants["trained"].layer)
    return {
        "lengths": lengths,
        "vanishing_radius": config.vanishing_radius,
        "exploding_radius": config.exploding_radius,
        "trained_on": "text",
        "n_sequences": config.gradflow_sequences,
        "cells": cells,
        "jacobian": jacobian,
    }


SINE_PREDICTION_SEQUENCES = (0, 1)  # validation sequences shown in the prediction figure


def sine_predictions(config: Config, task: SineTask, models: dict[str, SeqModel], sine) -> dict:
    """One-step-ahead predictions of the first seed's trained sine models on a few validation
    sequences (deterministic: no RNG), with their inputs, targets and periods."""
    xv, yv = task.validation()
    idx = [i for i in SINE_PREDICTION_SEQUENCES if i < len(xv)]
    x, y = xv[idx], yv[idx]  # (K, T, 1)
    out = {CELL_LABELS[c]: m.forward(x)[0][..., 0] for c, m in models.items()}  # (K, T)
    return {
        "seed": config.seed,
        "sequences": [
            {"index": i, "period": float(sine.periods_val[i]), "inputs": x[k, :, 0].tolist(),
             "targets": y[k, :, 0].tolist(), "predictions": {lb: p[k].tolist() for lb, p in out.items()},
             "mse": {lb: float(np.mean((p[k] - y[k, :, 0]) ** 2)) for lb, p in out.items()}}
            for k, i in enumerate(idx)
        ],
    }


CHECK_SHAPE = {"N": 2, "T": 6, "D": 3, "H": 4}  # the gradient check's sizes (as `rnnlab gradcheck`)
CHECK_LABELS = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU (PyTorch variant)",
                "gru-cho": "GRU (Cho et al. 2014 variant)"}


def correctness_check(seed: int) -> dict:
    """The engine's gradient check and torch parity for every cell and variant, in float64.

    Per cell (:data:`rnnlab.scratch.gradcheck.CHECKED_CELLS`): the worst relative error of each
    hand-written gradient (every parameter, the input x and the initial state) against centred
    finite differences (:func:`~rnnlab.scratch.gradcheck.check_layer`), and the worst absolute
    difference of the outputs ``hs`` and every gradient from torch: ``torch.nn.RNN/LSTM/GRU`` on
    the same weights (:func:`~rnnlab.scratch.gradcheck.compare_with_torch`), and for the Cho GRU,
    which torch.nn lacks, autograd of its torch transcription
    (:func:`rnnlab.scratch.gradcheck.cho_gru_torch`). Its own
    seeded layers and problems: no RNG stream of the section is touched (torch's is restored).
    """
    import torch

    from rnnlab.scratch import gradcheck as gc
    from rnnlab.scratch import make_layer

    N, T, D, H = (CHECK_SHAPE[k] for k in ("N", "T", "D", "H"))
    cells = {}
    with torch.random.fork_rng(devices=[]):
        for cell in gc.CHECKED_CELLS:
            layer = make_layer(cell, D, H, seed=seed, dtype=np.float64)
            fd = gc.check_layer(layer, N=N, T=T, seed=seed)
            parity = gc.compare_with_torch(layer, N=N, T=T, seed=seed)
            reference = ("autograd of its torch transcription" if cell == "gru-cho"
                         else f"torch.nn.{layer.torch_class}")
            cells[cell] = {"label": CHECK_LABELS[cell], "torch_reference": reference,
                           "finite_differences": {k: float(v) for k, v in fd.items()}, "torch": parity}
    return {"dtype": "float64", **CHECK_SHAPE, "seed": seed, "cells": cells}


def measure(config: Config, ctx: RunContext) -> dict:
    """Train every cell on both tasks over the seeds, then measure; returns the metrics.

    The engine's matrices are small (hidden size 32-128), where multi-threaded BLAS only adds
    synchronisation cost (measured 3-5x slower per update on a busy 2-core machine), so the
    section runs with one BLAS thread; the limit is lifted when it returns.
    """
    from rnnlab.threads import limit_threads

    with limit_threads(1):
        return _measure(config, ctx)


def _load_data(config: Config):
    """The text source, its character corpus, the sine data and the two training tasks."""
    source = load_text_source(config.text_path)
    corpus = CharCorpus(source.text, val_fraction=config.text_val_fraction, source=source.name)
    _check_text(corpus, config)
    sine = make_sine_data(config.sine_train_sequences, config.sine_val_sequences, config.sine_seq_len,
                          noise=config.sine_noise, period_range=(config.sine_period_min, config.sine_period_max),
                          seed=config.seed)
    tasks = {
        "sine": SineTask(sine, dtype=config.dtype),
        "text": TextTask(corpus, config.text_seq_len, max_val_windows=config.text_val_windows, dtype=config.dtype),
    }
    return source, corpus, sine, tasks


RUNS_DIR = "runs"
RUNS_CONFIG = "config.json"


def _runs_config(config: Config) -> dict:
    """The config a runs folder belongs to: every setting except ``resume`` itself and ``workers``
    (how many runs train side by side changes no run's numbers)."""
    out = config_to_dict(config)
    out.pop("resume")
    out.pop("workers")
    return out


def check(config: Config, out_dir: Path) -> None:
    """Before anything of a previous run is touched: with ``--resume``, the saved runs in
    ``<out_dir>/runs`` belong to this config and every one of them is intact.

    Raises
    ------
    ConfigError, DataError
        Naming the folder or file and what is wrong.
    """
    if not config.resume:
        return
    from rnnlab.results import check_units

    runs = check_units(Path(out_dir) / RUNS_DIR, _runs_config(config), True, "runs", NAME)
    *_, tasks = _load_data(config)
    check_runs(config, tasks, [config.seed + i for i in range(config.n_seeds)], runs)


def prepare_runs(config: Config, out_dir: Path) -> Path:
    """The folder of finished (task, cell, seed) runs, checked for ``--resume`` or cleared
    (:func:`rnnlab.results.prepare_units`)."""
    from rnnlab.results import prepare_units

    return prepare_units(Path(out_dir) / RUNS_DIR, _runs_config(config), config.resume, "runs", NAME)


def run_stem(runs: Path, task: str, cell: str, seed: int) -> Path:
    """``<runs>/<task>-<cell>-seed<k>`` (add ``.safetensors`` / ``.json``)."""
    return runs / f"{task}-{cell}-seed{seed}"


def check_runs(config: Config, tasks: dict, seeds: list[int], runs: Path) -> int:
    """Before any training, with ``--resume``: every finished run saved under ``runs`` loads.

    Each ``<task>-<cell>-seed<k>.json`` there is read with its arrays into a fresh model of this
    config (format, records, SHA-256, names and shapes: :func:`load_run`), its weights must be
    finite and its extra record must hold the samples and the training time. Returns the number
    of runs checked.

    Raises
    ------
    DataError
        One line naming the first damaged run file.
    """
    checked = 0
    for task_name, task in tasks.items():
        settings = config.settings(task_name)
        for seed in seeds:
            for cell in config.cells:
                stem = run_stem(runs, task_name, cell, seed)
                json_path = stem.with_name(stem.name + ".json")
                if not json_path.exists():
                    continue
                model, _, extra = load_run(stem, make_model(task, cell, settings, seed))
                bad = [k for k, v in model.get_params().items() if not np.all(np.isfinite(v))]
                if bad:
                    raise DataError(f"expected finite weights in {stem.name}.safetensors, found NaN or inf "
                                    f"in {bad[0]}; run without --resume to start over")
                try:
                    [(int(e), float(t), str(x)) for e, t, x in extra["samples"]]
                    float(extra["wall_seconds"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise DataError(f"expected the samples and training time of a finished run in {json_path}, "
                                    f"found a malformed record ({exc!r})") from None
                checked += 1
    return checked


@dataclass
class _Training:
    """What training produced: per task and cell, one history and one model per seed."""

    histories: dict[str, dict[str, list]]
    models: dict[str, dict[str, list[SeqModel]]]
    init_text: dict[str, SeqModel]  # the first seed's untrained text models, float64
    samples: dict[str, list[tuple[int, float, str]]]  # cell -> (epoch, temperature, text)
    wall_seconds: float = 0.0  # training time of every run, a reused run's as recorded
    reused: int = 0  # runs loaded from the runs folder instead of trained
    workers: set[int] = dataclasses.field(default_factory=set)  # how many trained side by side, per run


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(config: Config, jobs: int) -> int:
    """How many processes train ``jobs`` runs: ``config.workers``, else one per usable CPU; never
    more than the jobs."""
    wanted = config.workers if config.workers is not None else _usable_cpus()
    return max(1, min(wanted, jobs))


# The order runs are handed to workers: the longest first, so that the last to finish are short.
_COST_ORDER = {("text", "lstm"): 0, ("text", "gru"): 1, ("text", "gru-cho"): 1, ("text", "rnn"): 2}


def _train_one(config: Config, task, corpus: CharCorpus, task_name: str, cell: str, seed: int,
               sample_from: bool, stem: Path, workers: int) -> None:
    """Train one (task, cell, seed) run from its fresh model and save it under ``stem`` (with the
    text samples of the first seed when ``sample_from``, its wall time, and how many runs
    trained side by side with it, ``workers``)."""
    settings = config.settings(task_name)
    samples: list[tuple[int, float, str]] = []
    callback = None
    if sample_from:
        sample_epochs = sorted({1, max(1, config.text_epochs // 2), config.text_epochs})
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]).generate_state(1)[0])

        def callback(record, m):
            if record.epoch in sample_epochs:
                text = sample_text(m, corpus, prime=config.sample_prime, length=config.sample_length,
                                   temperature=config.sample_temperature, rng=rng)
                samples.append((record.epoch, config.sample_temperature, text))

    started = time.perf_counter()
    model, history = train_model(task, cell, settings, seed, on_epoch=callback)
    wall = time.perf_counter() - started
    save_run(stem, model, history, {"samples": [list(x) for x in samples], "wall_seconds": wall,
                                    "workers": workers})


def _leave_interrupts_to_the_parent() -> None:
    """A worker ignores Ctrl-C: the parent gets it, stops the pool and reports once."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _interrupts_held():
    """Block Ctrl-C while the worker processes start (they inherit the blocked signal, so one
    pressed while they import never reaches them); on leaving, a Ctrl-C pressed meanwhile
    reaches the parent. Where signals cannot be blocked (Windows), nothing."""
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


_WORKER_DATA: dict[Config, tuple] = {}  # a worker process's data, loaded once per configuration


def _train_in_worker(job: tuple) -> tuple[str, str, int]:
    """One run in a worker process (:func:`_train_all`): one BLAS thread, the engine on one thread."""
    from rnnlab.threads import limit_engine_threads, limit_threads

    config, task_name, cell, seed, sample_from, stem, workers = job
    if config not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[config] = _load_data(config)
    _, corpus, _, tasks = _WORKER_DATA[config]
    with limit_threads(1), limit_engine_threads(1):
        _train_one(config, tasks[task_name], corpus, task_name, cell, seed, sample_from, Path(stem), workers)
    return task_name, cell, seed


def _train_all(config: Config, tasks: dict, corpus: CharCorpus, seeds: list[int], progress: bool,
               runs: Path) -> _Training:
    """Train every (task, seed, cell) with the shared budget; sample text from the first seed.

    Each finished run is saved under ``runs``, then read back from there; with ``config.resume``
    a run saved there is not trained again (its model, records, samples and recorded time are the
    same). With more than one worker (:func:`workers_for`) the runs train side by side in worker
    processes, one core each; a run's numbers do not depend on this (the engine's results do not
    depend on its threads), only its recorded seconds.
    """
    run = _Training({t: {c: [] for c in config.cells} for t in tasks},
                    {t: {c: [] for c in config.cells} for t in tasks}, {}, {c: [] for c in config.cells})
    order = [(t, seed, cell) for t in tasks for seed in seeds for cell in config.cells]
    stems = {key: run_stem(runs, key[0], key[2], key[1]) for key in order}
    saved = {key for key in order if config.resume and stems[key].with_name(stems[key].name + ".json").exists()}
    todo = [(t, seed, cell) for t, seed, cell in order if (t, seed, cell) not in saved]
    workers = workers_for(config, len(todo))
    jobs = [(config, t, cell, seed, t == "text" and seed == seeds[0], str(stems[(t, seed, cell)]), workers)
            for t, seed, cell in todo]
    bar = _progress(len(order), progress)
    bar.update(len(saved))
    if workers > 1:
        import multiprocessing

        jobs.sort(key=lambda job: _COST_ORDER.get((job[1], job[2]), 3))
        with _interrupts_held():  # workers are born with Ctrl-C blocked, then ignore it
            pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_leave_interrupts_to_the_parent)
        with pool:
            for task_name, cell, seed in pool.imap_unordered(_train_in_worker, jobs):
                bar.set_postfix_str(f"{task_name} {CELL_LABELS[cell]} seed {seed}")
                bar.update(1)
    else:
        for _, task_name, cell, seed, sample_from, stem, _ in jobs:
            _train_one(config, tasks[task_name], corpus, task_name, cell, seed, sample_from, Path(stem), 1)
            bar.set_postfix_str(f"{task_name} {CELL_LABELS[cell]} seed {seed}")
            bar.update(1)
    bar.close()
    for task_name, seed, cell in order:
        settings = config.settings(task_name)
        model = make_model(tasks[task_name], cell, settings, seed)
        if task_name == "text" and seed == seeds[0]:
            run.init_text[cell] = model.astype(np.float64)
        model, history, extra = load_run(stems[(task_name, seed, cell)], model)
        run.wall_seconds += float(extra["wall_seconds"])
        run.workers.add(int(extra.get("workers", 1)))  # runs saved before this was recorded: one at a time
        if task_name == "text" and seed == seeds[0]:
            run.samples[cell].extend((int(e), float(t), str(x)) for e, t, x in extra["samples"])
        run.histories[task_name][cell].append(history)
        run.models[task_name][cell].append(model)
    run.reused = len(saved)
    for cell in config.cells:  # extra samples of the first seed's trained model
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 3]).generate_state(1)[0])
        for temperature in config.final_temperatures:
            text = sample_text(run.models["text"][cell][0], corpus, prime=config.sample_prime,
                               length=config.sample_length, temperature=temperature, rng=rng)
            run.samples[cell].append((config.text_epochs, temperature, text))
    return run


LOSS_FNS = {"sine": mse, "text": softmax_cross_entropy}
LOSS_NAMES = {"sine": "validation MSE", "text": "validation cross-entropy (nats/char)"}


def _task_metrics(config: Config, tasks: dict, run: _Training) -> dict[str, dict]:
    """Per task: the loss-curve summary, the curves, and the trained models' gradient mechanism."""
    out: dict[str, dict] = {}
    for task_name, task in tasks.items():
        histories = run.histories[task_name]
        curves = {CELL_LABELS[c]: _curves(histories[c]) for c in config.cells}
        params = {CELL_LABELS[c]: histories[c][0].num_parameters for c in config.cells}
        summary = insights.summarize_runs({m: _run_curves(curves[m], params[m]) for m in curves})
        xv, yv = task.validation()
        n_mech = min(len(xv), config.gradflow_sequences)
        x_mech = task.features(xv[:n_mech], np.float64)  # text: one-hot rows
        mechanism = {CELL_LABELS[c]: _mechanism(run.models[task_name][c], x_mech, yv[:n_mech],
                                                LOSS_FNS[task_name])
                     for c in config.cells}
        out[task_name] = {**summary, "curves": curves, "mechanism": mechanism, "loss": LOSS_NAMES[task_name]}
    return out


def _measure(config: Config, ctx: RunContext) -> dict:
    start = time.perf_counter()
    runs = prepare_runs(config, ctx.out_dir)
    seeds = [config.seed + i for i in range(config.n_seeds)]
    source, corpus, sine, tasks = _load_data(config)
    if config.resume:
        check_runs(config, tasks, seeds, runs)
    run = _train_all(config, tasks, corpus, seeds, ctx.progress, runs)
    train_seconds = time.perf_counter() - start
    task_metrics = _task_metrics(config, tasks, run)
    task_metrics["sine"]["copy_last_value_mse"] = sine.baseline_mse
    task_metrics["text"]["unigram_entropy_nats"] = corpus.summary()["unigram_entropy_nats"]
    gradflow = run_gradflow(config, corpus, run.init_text, {c: run.models["text"][c][0] for c in config.cells})
    predictions = sine_predictions(config, tasks["sine"], {c: run.models["sine"][c][0] for c in config.cells}, sine)
    return {
        "text_source": {"name": source.name, "description": source.description, "files": list(source.files),
                        **corpus.summary()},
        "sine_data": {"train_sequences": config.sine_train_sequences, "val_sequences": config.sine_val_sequences,
                      "seq_len": config.sine_seq_len, "noise": config.sine_noise,
                      "copy_last_value_mse": sine.baseline_mse},
        "seeds": seeds,
        "tasks": task_metrics,
        "gradflow": gradflow,
        "samples": {CELL_LABELS[c]: [{"epoch": e, "temperature": temp, "text": s} for e, temp, s in run.samples[c]]
                    for c in config.cells},
        "sine_predictions": predictions,
        "timing": {"training_seconds": train_seconds, "total_seconds": time.perf_counter() - start,
                   "runs_seconds": run.wall_seconds, "reused_runs": run.reused,
                   "workers": sorted(run.workers)},
        "correctness": correctness_check(config.seed),
    }


# ------------------------------------------------------------------------------------------
# Presenting (from the saved metrics alone)
# ------------------------------------------------------------------------------------------


TEXT_FOCUS_LAST = 0.5  # the text loss panel's y axis fits the last half of the epochs


FIGURE_TOPICS = {  # figure file -> topic key (rnnlab.observations.q1.TOPICS)
    "loss_curves.png": "loss", "loss_vs_time.png": "cost", "sine_predictions.png": "sine",
    "gradflow_init_vs_trained.png": "gradflow", "gradflow_vanishing_exploding.png": "vanishing",
    "jacobian_norms.png": "jacobian",
}


def present(metrics: Mapping[str, Any], config: Config, out_dir: str | Path) -> Presentation:
    """Figures, tables, sampled text and sentences of Q1, from its metrics alone, organised by
    topic (:data:`rnnlab.observations.q1.TOPICS`), with the key findings and the limitations
    chosen by rule (:func:`~rnnlab.observations.q1.findings`, :func:`~rnnlab.observations.q1.limitations`)."""
    from rnnlab.observations import q1 as O
    from rnnlab.results import Topic

    figures = _figures(metrics, config, Path(out_dir) / "figures")
    task_tables = _tables(metrics, config)
    correctness = [_correctness_table(metrics["correctness"])] if "correctness" in metrics else []
    texts = _text_blocks(metrics, config)
    sentences = O.topic_sentences(metrics, config)
    claimed: dict[str, tuple[list[str], list[str], list[str]]] = {key: ([], [], []) for key, _ in O.TOPICS}
    for f in figures:
        claimed[FIGURE_TOPICS[Path(f.path).name]][0].append(f.path)
    for t in task_tables[:-1]:
        claimed["loss"][1].append(t.title)
    claimed["gradflow"][1].append(task_tables[-1].title)
    claimed["correctness"][1].extend(t.title for t in correctness)
    claimed["text"][2].extend(texts)
    return Presentation(
        observations=[s for topic in sentences.values() for s in topic],
        figures=figures,
        tables=correctness + task_tables,
        text_blocks=texts,
        topics=[Topic(key, title, sentences[key], *claimed[key]) for key, title in O.TOPICS
                if sentences[key] or any(claimed[key])],
        findings=O.findings(metrics, config),
        limitations=O.limitations(metrics, config),
    )


def _correctness_table(correctness: Mapping[str, Any]) -> Table:
    """One row per cell and gradient: its worst error against finite differences and torch."""
    from rnnlab.observations.q1 import GRADCHECK_TOLERANCE, TORCH_TOLERANCE

    rows = []
    for entry in correctness["cells"].values():
        fd, th = entry["finite_differences"], entry["torch"]
        names = [*fd, *(k for k in th if k not in fd)]
        for i, name in enumerate(names):
            rows.append([entry["label"] if i == 0 else "", "outputs hs" if name == "hs" else name,
                         f"{fd[name]:.1e}" if name in fd else "",
                         f"{th[name]:.1e}" if name in th else "", entry["torch_reference"] if i == 0 else ""])
    sizes = ", ".join(f"{k} = {correctness[k]}" for k in ("N", "T", "D", "H"))
    return Table(
        f"Correctness of the hand-written BPTT ({correctness['dtype']}, {sizes}, seed {correctness['seed']}): "
        f"worst relative error against centred finite differences (pass < {GRADCHECK_TOLERANCE:.0e}) and "
        f"worst absolute difference from torch (pass < {TORCH_TOLERANCE:.0e}), per array",
        ["cell", "array", "vs finite differences", "vs torch", "torch reference"], rows)


def _figures(metrics: Mapping[str, Any], config: Config, figs_dir: Path) -> list[Figure]:
    """Draw Q1's figures into ``figs_dir`` (via :mod:`rnnlab.viz.q1`) and return them with captions."""
    from rnnlab.viz import q1 as viz
    from rnnlab.viz.style import save_figure

    tasks, gradflow = metrics["tasks"], metrics["gradflow"]
    figures: list[Figure] = []
    panels = {
        f"{TASK_TITLES[t]}: {m['loss']}": {
            "curves": {lb: {k: np.array(v, dtype=np.float64) for k, v in c.items()} for lb, c in m["curves"].items()},
            "ylabel": m["loss"],
            "threshold": m["threshold"],
            "log_y": True if t == "sine" else None,
            "focus_last": None if t == "sine" else TEXT_FOCUS_LAST,
        }
        for t, m in tasks.items()
    }
    for x, fname, what in (("epoch", "loss_curves.png", "epochs"),
                           ("seconds", "loss_vs_time.png", "training seconds")):
        save_figure(viz.figure_loss_curves(panels, x=x), figs_dir / fname)
        figures.append(Figure(f"figures/{fname}", (
            f"Validation loss (solid; band: min-max over {len(metrics['seeds'])} seeds) and training loss "
            f"(dashed) of the NumPy RNN, LSTM and GRU against {what}; dotted line: the loss threshold "
            f"used for 'time to threshold'. The text panel's y axis covers the last "
            f"{TEXT_FOCUS_LAST:.0%} of the epochs, so the small gaps between the trained models show; "
            f"the early curves leave it at the top.")))
    if "sine_predictions" in metrics:  # results saved before this figure existed lack it
        pred = metrics["sine_predictions"]
        seqs = [{"truth": s["targets"], "inputs": s["inputs"], "predictions": s["predictions"],
                 "title": f"validation sequence {s['index']} (period {s['period']:.1f} steps); MSE "
                          + ", ".join(f"{lb} {v:.3g}" for lb, v in s["mse"].items())}
                for s in pred["sequences"]]
        save_figure(viz.figure_sine_predictions(seqs), figs_dir / "sine_predictions.png")
        figures.append(Figure("figures/sine_predictions.png", (
            f"Sine task: the target next value (black), the noisy input (grey dots) and each trained "
            f"model's one-step-ahead prediction (seed {pred['seed']}) on held-out sequences.")))
    lengths = [int(T) for T in gradflow["lengths"]]
    radii = {"vanishing_radius": gradflow["vanishing_radius"], "exploding_radius": gradflow["exploding_radius"]}
    save_figure(viz.figure_gradflow_init_vs_trained(gradflow["cells"], lengths, trained_on=gradflow["trained_on"]),
                figs_dir / "gradflow_init_vs_trained.png")
    figures.append(Figure("figures/gradflow_init_vs_trained.png", (
        "||dL/dh_t|| for a loss on the last step only, from the hand-written BPTT (float64, mean over "
        f"{gradflow['n_sequences']} text windows), per cell and sequence length, at initialisation "
        "(dashed) and after training (solid); the legend gives the fitted factor per step, marked as a "
        f"poor fit when R^2 < {GOOD_FIT_R2:g}.")))
    save_figure(viz.figure_gradflow_radius(gradflow["cells"], lengths, **radii),
                figs_dir / "gradflow_vanishing_exploding.png")
    figures.append(Figure("figures/gradflow_vanishing_exploding.png", (
        f"Vanishing (every W_hh gate block at spectral radius {radii['vanishing_radius']:g}) and exploding "
        f"(radius {radii['exploding_radius']:g}) gradients in untrained cells, per sequence length.")))
    save_figure(viz.figure_jacobian(gradflow["jacobian"], T=max(lengths), trained_on=gradflow["trained_on"],
                                    **radii), figs_dir / "jacobian_norms.png")
    figures.append(Figure("figures/jacobian_norms.png", (
        f"Spectral norm of the Jacobian product dh_T/dh_t against the lag T - t (T = {max(lengths)}, "
        f"mean over {config.jacobian_sequences} text windows), computed exactly by backpropagating each "
        "unit vector from h_T through the engine's BPTT.")))
    return figures


def _never(x: float | None, fmt: str) -> str:
    return "never" if x is None else format(x, fmt)


def _tables(metrics: Mapping[str, Any], config: Config) -> list[Table]:
    """Per task: the comparison table; then the gradient-flow fits of every cell and condition."""
    tables = []
    for t, m in metrics["tasks"].items():
        rows = []
        for label in m["ranking"]:
            d, mech = m["models"][label], m["mechanism"][label]
            rows.append([
                label, d["num_parameters"], f"{d['final_val_mean']:.4g} ± {d['final_val_std']:.2g}",
                f"{d['best_val_mean']:.4g}", _never(d["epochs_to_threshold_mean"], ".1f"),
                _never(d["seconds_to_threshold_mean"], ".2f"), f"{d['seeds_reached']}/{m['n_seeds']}",
                f"{d['seconds_per_epoch']:.3f}", f"{mech['grad_factor_per_step']:.3f}",
                f"{fit_quality(mech):.2f}",
            ])
        tables.append(Table(
            f"{TASK_TITLES[t]}: {m['loss']} after {m['epochs']} epochs, threshold {m['threshold']:.4g}",
            ["model", "parameters", "final loss (mean ± sd)", "best loss (mean)", "epochs to threshold",
             "seconds to threshold", "seeds reaching it", "seconds per epoch",
             "gradient factor per step (trained)", "R^2 of its fit (mean)"],
            rows))
    gradflow = metrics["gradflow"]
    rows = []
    for label, conds in gradflow["cells"].items():
        for cond in ("init", "trained", "vanishing", "exploding"):
            for T in gradflow["lengths"]:
                e = conds[cond][str(T)]
                rows.append([label, cond, T, f"{e['fit']['factor_per_step']:.3f}", f"{e['fit']['r2']:.2f}",
                             f"{e['norms'][-1]:.3g}", f"{e['norms'][0]:.3g}"])
    tables.append(Table(
        f"Gradient flow: fitted factor per step back in time of ||dL/dh_t|| (vanishing: radius "
        f"{gradflow['vanishing_radius']:g}, exploding: radius {gradflow['exploding_radius']:g}; "
        f"a fit with R^2 < {GOOD_FIT_R2:g} is poor and its factor is not a rate)",
        ["cell", "condition", "T", "factor per step", "R^2 of fit", "norm at t = T", "norm at t = 1"], rows))
    return tables


def _text_blocks(metrics: Mapping[str, Any], config: Config) -> dict[str, str]:
    """The sampled text of each cell (first seed), as saved in ``metrics["samples"]``."""
    blocks = {}
    for label, samples in metrics["samples"].items():
        lines = [f"--- epoch {s['epoch']}, temperature {s['temperature']:g} ---\n{s['text']}" for s in samples]
        title = f"Sampled text, {label} (seed {metrics['seeds'][0]}, prime {config.sample_prime!r})"
        blocks[title] = "\n\n".join(lines)
    return blocks
