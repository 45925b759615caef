"""Training loop for the PyTorch models, with per-epoch records and resumable checkpoints.

:func:`fit` trains one model and returns its history: one record (a dict) per epoch, epoch 0
being the untrained model. Each record holds the learning rate, train and test loss, accuracy
(classification) or mean absolute error in the target's unit (regression), gradient-norm
statistics before clipping, how many steps were clipped or skipped, every step's loss, and the
wall time. With a ``checkpoint_dir`` the weights of every epoch, the optimiser and RNG state and
the history are saved (see :mod:`rnnlab.train.checkpoints`), and ``resume=True`` continues from
the last complete epoch to exactly the result of an uninterrupted run with the same seed.

Non-finite losses or gradients stop the run with an error naming the epoch and step
(``nonfinite="stop"``) or skip that step and count it (``nonfinite="skip"``). Gradient-norm
clipping is on by default (``clip_norm=1.0``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.errors import ConfigError, RnnlabError, ShapeError
from rnnlab.train import checkpoints as ckpt

TASKS = ("classification", "regression")
SCHEDULES = ("cosine", "constant")
NONFINITE = ("stop", "skip")


class TrainingDiverged(RnnlabError):
    """A non-finite loss or gradient stopped training (the message names epoch and step)."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (the same for every model that is compared).

    Attributes
    ----------
    task : {"classification", "regression"}
        Cross-entropy on logits, or mean squared error on one output.
    epochs : int
        Epochs after epoch 0 (the untrained model).
    batch_size : int
    lr : float
        Peak learning rate of Adam.
    weight_decay : float
    schedule : {"cosine", "constant"}
        Learning rate of epoch e (1-based): lr * (min_lr_fraction + (1 - min_lr_fraction) *
        (1 + cos(pi (e - 1) / epochs)) / 2) for cosine.
    min_lr_fraction : float
    clip_norm : float or None
        Clip the global gradient norm to this value (None or 0: no clipping).
    nonfinite : {"stop", "skip"}
    seed : int
        Seed of the shuffling generator (the model's initial weights are seeded by the caller).
    target_scale : float
        Regression: the target's standard deviation, so MAE is reported in the target's unit.
    eval_batch_size : int
    train_eval_size : int or None
        Measure the training loss and metric after each epoch on this many training examples,
        evenly spaced through the set (None: all of them). Large sets evaluate faster this way.
    """

    task: str = "classification"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    min_lr_fraction: float = 0.0
    clip_norm: float | None = 1.0
    nonfinite: str = "stop"
    seed: int = 0
    target_scale: float = 1.0
    eval_batch_size: int = 1000
    train_eval_size: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.task in TASKS, f"task in {TASKS}", self.task),
            (self.schedule in SCHEDULES, f"schedule in {SCHEDULES}", self.schedule),
            (self.nonfinite in NONFINITE, f"nonfinite in {NONFINITE}", self.nonfinite),
            (self.epochs >= 0, "epochs >= 0", self.epochs),
            (self.batch_size >= 1, "batch_size >= 1", self.batch_size),
            (self.lr > 0, "lr > 0", self.lr),
            (
                self.clip_norm is None or self.clip_norm >= 0,
                "clip_norm >= 0 or None",
                self.clip_norm,
            ),
        ]
        for ok, expected, found in checks:
            if not ok:
                raise ConfigError(f"expected {expected}, found {found!r}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate used during ``epoch`` (1-based)."""
        if self.schedule == "constant" or self.epochs <= 1:
            return self.lr
        frac = 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / self.epochs))
        return self.lr * (self.min_lr_fraction + (1.0 - self.min_lr_fraction) * frac)


@dataclass(frozen=True)
class TensorSet:
    """A dataset held as tensors.

    Attributes
    ----------
    x : Tensor
        (N, T, D) float inputs or (N, T) token ids.
    y : Tensor
        (N,) int64 class labels or (N,) float targets.
    lengths : Tensor or None
        (N,) true lengths of padded sequences.
    """

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if self.y.shape != (n,):
            raise ShapeError(f"expected targets of shape ({n},), found {tuple(self.y.shape)}")
        if self.lengths is not None and self.lengths.shape != (n,):
            raise ShapeError(f"expected lengths of shape ({n},), found {tuple(self.lengths.shape)}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, size: int | None) -> TensorSet:
        """``size`` examples evenly spaced through the set (all when None or larger)."""
        if size is None or size >= len(self):
            return self
        index = torch.linspace(0, len(self) - 1, size, device=self.x.device).round().long()
        lengths = self.lengths[index] if self.lengths is not None else None
        return TensorSet(self.x[index], self.y[index], lengths)

    def to(self, device: str) -> TensorSet:
        lengths = self.lengths.to(device) if self.lengths is not None else None
        return TensorSet(self.x.to(device), self.y.to(device), lengths)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Rows ``index``; padded id batches are cut to their longest sequence."""
        x, y = self.x[index], self.y[index]
        if self.lengths is None:
            return x, y, None
        lengths = self.lengths[index]
        return x[:, : int(lengths.max())], y, lengths


@dataclass(frozen=True)
class TrainResult:
    """History of a run: records of epochs 0..E and where it resumed from (None: fresh)."""

    history: list[dict[str, Any]]
    resumed_from: int | None
    checkpoint_dir: Path | None


def _loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out.squeeze(-1), y)


@torch.no_grad()
def evaluate(
    model: nn.Module, data: TensorSet, config: TrainConfig, return_outputs: bool = False
) -> dict[str, Any]:
    """Mean loss and accuracy (or MAE in target units) of ``model`` on ``data``.

    With ``return_outputs`` the outputs (N, output_size) come back on the CPU as ``outputs``.
    """
    model.eval()
    total_loss, total_hits, total_abs, n = 0.0, 0, 0.0, 0
    outputs = []
    device = data.x.device
    for start in range(0, len(data), config.eval_batch_size):
        index = torch.arange(start, min(start + config.eval_batch_size, len(data)), device=device)
        x, y, lengths = data.batch(index)
        out = model(x, lengths)
        total_loss += float(_loss(config.task, out, y)) * len(y)
        if config.task == "classification":
            total_hits += int((out.argmax(dim=-1) == y).sum())
        else:
            total_abs += float((out.squeeze(-1) - y).abs().sum())
        n += len(y)
        if return_outputs:
            outputs.append(out.cpu())
    result: dict[str, Any] = {"loss": total_loss / max(n, 1)}
    if config.task == "classification":
        result["accuracy"] = total_hits / max(n, 1)
    else:
        result["mae"] = total_abs / max(n, 1) * config.target_scale
    if return_outputs:
        result["outputs"] = torch.cat(outputs) if outputs else torch.empty(0)
    return result


@dataclass
class StepOutcome:
    """What one optimisation step did.

    Attributes
    ----------
    loss : float
        The batch's training loss (before the step).
    grad_norm : float
        The global gradient norm before clipping; NaN when the loss was non-finite (no
        backward pass ran).
    clipped : bool
        Whether the norm exceeded the clipping threshold (the gradients were scaled down).
    problem : str or None
        Why the step was not applied (a non-finite loss or gradient norm), else None.
    """

    loss: float
    grad_norm: float
    clipped: bool
    problem: str | None


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    lengths: torch.Tensor | None,
    task: str,
    clip: float,
) -> StepOutcome:
    """One optimisation step with gradient-norm clipping and a check for non-finite values.

    Loss, backward, clipping of the global gradient norm to ``clip`` (``math.inf``: none), then
    ``optimizer.step()``, unless the loss or the gradient norm is non-finite: then the gradients
    are cleared, the parameters stay as they were and :attr:`StepOutcome.problem` says why.

    Parameters
    ----------
    model : nn.Module
        In training mode; ``model(x, lengths)`` returns (N, out).
    optimizer : torch.optim.Optimizer
        Its parameters (all groups, in order) are the ones clipped and updated.
    x : Tensor
        (N, T, D) inputs or (N, T) token ids.
    y : Tensor
        (N,) class labels or regression targets.
    lengths : Tensor or None
        (N,) true lengths of padded sequences.
    task : {"classification", "regression"}
    clip : float
        Maximum global gradient norm (``math.inf`` to only measure it).

    Returns
    -------
    StepOutcome
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    loss = _loss(task, model(x, lengths), y)
    loss_value = float(loss.detach())
    optimizer.zero_grad(set_to_none=True)
    if not math.isfinite(loss_value):
        return StepOutcome(
            loss_value, float("nan"), False, f"non-finite training loss ({loss_value})"
        )
    loss.backward()
    norm = float(nn.utils.clip_grad_norm_(params, clip))  # norm before clipping
    if not math.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return StepOutcome(loss_value, norm, False, f"non-finite gradient norm ({norm})")
    optimizer.step()
    return StepOutcome(loss_value, norm, norm > clip, None)


@dataclass
class EpochSteps:
    """The steps of one epoch, as :func:`epoch_record` reports them.

    Attributes
    ----------
    losses : list of float
        Every step's training loss, skipped steps included.
    grad_norms : list of float
        Every step's gradient norm before clipping (NaN for a skipped step).
    clipped, skipped : int
        Steps whose gradients were clipped; steps skipped for non-finite values.
    """

    losses: list[float] = dataclasses.field(default_factory=list)
    grad_norms: list[float] = dataclasses.field(default_factory=list)
    clipped: int = 0
    skipped: int = 0

    def add(self, outcome: StepOutcome) -> None:
        """Count one step."""
        self.losses.append(outcome.loss)
        if outcome.problem is not None:
            self.skipped += 1
            self.grad_norms.append(float("nan"))
        else:
            self.grad_norms.append(outcome.grad_norm)
            self.clipped += int(outcome.clipped)

    @property
    def applied_norms(self) -> list[float]:
        """Gradient norms of the steps that were applied (not skipped)."""
        return [n for n in self.grad_norms if not math.isnan(n)]  # skipped steps hold NaN


def _where(epoch: int, step: int, label: str) -> str:
    return f"at epoch {epoch}, step {step}" + (f" of {label}" if label else "")


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: TensorSet,
    config: TrainConfig,
    generator: torch.Generator,
    epoch: int,
    label: str = "",
) -> EpochSteps:
    """One pass over ``train`` in an order drawn from ``generator``, one :func:`train_step` per batch.

    The learning rate of the optimiser must already be set for this epoch.

    Raises
    ------
    TrainingDiverged
        A step had a non-finite loss or gradient and ``config.nonfinite == "stop"``, or every
        step of the epoch was skipped.
    """
    clip = config.clip_norm if config.clip_norm else math.inf
    model.train()
    order = torch.randperm(len(train), generator=generator).to(train.x.device)
    steps = EpochSteps()
    for step, begin in enumerate(range(0, len(train), config.batch_size), start=1):
        x, y, lengths = train.batch(order[begin : begin + config.batch_size])
        outcome = train_step(model, optimizer, x, y, lengths, config.task, clip)
        if outcome.problem is not None and config.nonfinite == "stop":
            raise TrainingDiverged(
                f"{outcome.problem} {_where(epoch, step, label)}; expected finite values: lower "
                f"the learning rate, keep gradient clipping on, or skip such steps (--nonfinite skip)"
            )
        steps.add(outcome)
    n_steps = len(steps.losses)
    if steps.skipped and steps.skipped == n_steps:
        raise TrainingDiverged(
            f"all {n_steps} steps of epoch {epoch}"
            + (f" of {label}" if label else "")
            + " had non-finite losses or gradients; expected at least one finite step"
        )
    return steps


def epoch_record(
    epoch: int,
    lr: float,
    train: dict[str, Any],
    test: dict[str, Any],
    task: str,
    steps: EpochSteps,
    time_s: float,
) -> dict[str, Any]:
    """The record of one epoch (epoch 0: the untrained model, no steps).

    Parameters
    ----------
    epoch : int
    lr : float
        Learning rate used during the epoch (0.0 for epoch 0).
    train, test : dict
        :func:`evaluate` results (``loss`` and ``accuracy`` or ``mae``).
    task : {"classification", "regression"}
    steps : EpochSteps
    time_s : float
        Wall time of the epoch (training and evaluation).

    Returns
    -------
    dict
        ``epoch, lr, train_loss, train_<metric>, test_loss, test_<metric>, grad_norm_mean,
        grad_norm_max`` (over applied steps; NaN without any), ``steps, clipped_steps,
        skipped_steps, step_losses, step_grad_norms, time_s``; metric is ``accuracy`` or ``mae``.
    """
    metric = "accuracy" if task == "classification" else "mae"
    norms = steps.applied_norms
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": train["loss"],
        f"train_{metric}": train[metric],
        "test_loss": test["loss"],
        f"test_{metric}": test[metric],
        "grad_norm_mean": sum(norms) / len(norms) if norms else float("nan"),
        "grad_norm_max": max(norms) if norms else float("nan"),
        "steps": len(steps.losses),
        "clipped_steps": steps.clipped,
        "skipped_steps": steps.skipped,
        "step_losses": steps.losses,
        "step_grad_norms": steps.grad_norms,
        "time_s": time_s,
    }


@dataclass
class _Run:
    """What :func:`fit` carries from epoch to epoch."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    folder: Path | None
    settings: dict[str, Any]
    device: str
    history: list[dict[str, Any]]
    on_epoch: Callable[[dict[str, Any]], None] | None

    def start(self, resume: bool) -> int | None:
        """Resume from the last complete epoch (returns it) or start afresh (returns None)."""
        point = (
            ckpt.resume_point(self.folder, self.settings)
            if (self.folder is not None and resume)
            else None
        )
        if point is None:
            if self.folder is not None:
                ckpt.clear_run(self.folder)
            return None
        epoch, records = point
        self.history.extend(records)
        ckpt.remove_temporary(self.folder)
        self.model.load_state_dict(ckpt.load_weights(ckpt.weights_path(self.folder, epoch)))
        ckpt.load_state(self.folder, epoch, self.optimizer, self.generator, self.device)
        return epoch

    def finish_epoch(self, record: dict[str, Any], bar: Any = None, task: str = "") -> None:
        """Append the record, checkpoint the epoch, update the bar, then call ``on_epoch``."""
        self.history.append(record)
        if self.folder is not None:
            _save_epoch(
                self.folder,
                record["epoch"],
                self.model,
                self.optimizer,
                self.generator,
                self.device,
                self.settings,
                self.history,
            )
        if bar is not None:
            metric = "test_accuracy" if task == "classification" else "test_mae"
            bar.set_postfix(loss=f"{record['train_loss']:.3f}", **{metric: f"{record[metric]:.3f}"})
            bar.update(1)
        if self.on_epoch is not None:
            self.on_epoch(record)


def _progress_bar(config: TrainConfig, first: int, label: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=config.epochs,
        initial=first - 1,
        desc=label or "training",
        unit="epoch",
        leave=False,
    )


def run_settings(config: TrainConfig, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """What :func:`fit` records in a checkpoint folder's history.json and checks on resume."""
    return {"train": dataclasses.asdict(config), **(settings or {})}


def check_resume(
    checkpoint_dir: str | Path, config: TrainConfig, settings: dict[str, Any] | None = None
) -> int | None:
    """Check, before any training, that :func:`fit` could resume from ``checkpoint_dir``.

    Compares the saved settings with ``config`` and ``settings`` and verifies every file the
    resume would read (see :func:`rnnlab.train.checkpoints.resume_point`); nothing is written.
    Returns the epoch a resume would continue from (None: it would start afresh).

    Raises
    ------
    ConfigError
        When the checkpoints were saved with other settings.
    DataError
        When history.json is malformed or a checkpoint is missing, changed or damaged.
    """
    point = ckpt.resume_point(checkpoint_dir, run_settings(config, settings))
    return None if point is None else point[0]


def fit(
    model: nn.Module,
    train: TensorSet,
    test: TensorSet,
    config: TrainConfig,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    device: str = "cpu",
    settings: dict[str, Any] | None = None,
    progress: bool = False,
    label: str = "",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``model`` and return its per-epoch history.

    Epoch 0 records the untrained model; each later epoch sets its learning rate
    (:meth:`TrainConfig.lr_at`), runs :func:`train_epoch`, evaluates, and appends
    :func:`epoch_record`; with a ``checkpoint_dir`` every epoch is saved before the next begins.

    Parameters
    ----------
    model : nn.Module
        Already built and seeded by the caller; ``model(x, lengths)`` returns (N, out).
    train, test : TensorSet
    config : TrainConfig
    checkpoint_dir : path, optional
        Save weights of every epoch (0..E), optimiser/RNG state and history there.
    resume : bool
        Continue from the last complete epoch found in ``checkpoint_dir`` (when there is one;
        its settings must equal this run's). Without it, old checkpoints there are deleted.
    device : str
        ``"cpu"`` or ``"cuda"``: the model and the data are moved there.
    settings : dict, optional
        Extra settings (model, data) stored with the history and checked on resume.
    progress : bool
        Show a progress bar over epochs.
    label : str
        Name of the run in messages, e.g. ``"LSTM on mnist"``.
    on_epoch : callable, optional
        Called with each new record after its checkpoint is written (tests interrupt here).

    Raises
    ------
    TrainingDiverged
        A non-finite loss or gradient with ``nonfinite="stop"``, or a whole epoch of skipped
        steps with ``"skip"``.
    """
    model.to(device)
    train, test = train.to(device), test.to(device)
    train_eval = train.subset(config.train_eval_size)
    params = [p for p in model.parameters() if p.requires_grad]
    run = _Run(
        model=model,
        optimizer=torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay),
        generator=torch.Generator().manual_seed(config.seed),
        folder=Path(checkpoint_dir) if checkpoint_dir is not None else None,
        settings=run_settings(config, settings),
        device=device,
        history=[],
        on_epoch=on_epoch,
    )
    resumed_from = run.start(resume)
    if resumed_from is None:
        start = time.perf_counter()
        train_0, test_0 = evaluate(model, train_eval, config), evaluate(model, test, config)
        steps_0 = EpochSteps()
        run.finish_epoch(
            epoch_record(0, 0.0, train_0, test_0, config.task, steps_0, time.perf_counter() - start)
        )

    first = run.history[-1]["epoch"] + 1
    epochs = range(first, config.epochs + 1)
    bar = _progress_bar(config, first, label) if (progress and len(epochs)) else None
    for epoch in epochs:
        lr = config.lr_at(epoch)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        steps = train_epoch(model, run.optimizer, train, config, run.generator, epoch, label)
        train_e, test_e = evaluate(model, train_eval, config), evaluate(model, test, config)
        record = epoch_record(
            epoch, lr, train_e, test_e, config.task, steps, time.perf_counter() - start
        )
        run.finish_epoch(record, bar, config.task)
    if bar is not None:
        bar.close()
    return TrainResult(run.history, resumed_from, run.folder)


def _save_epoch(
    folder: Path,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: str,
    settings: dict[str, Any],
    history: list[dict[str, Any]],
) -> None:
    """Weights, then state, then history (which marks the epoch complete), then old state.

    Raises
    ------
    TrainingDiverged
        When a weight became NaN or infinite (nothing of this epoch is written).
    """
    state = model.state_dict()
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise TrainingDiverged(
            f"expected finite weights after epoch {epoch}, found NaN or infinite values in "
            f"{', '.join(bad[:3])}; lower the learning rate or keep gradient clipping on"
        )
    ckpt.save_weights(folder, epoch, state)
    ckpt.save_state(folder, epoch, optimizer, generator, device)
    ckpt.write_history(folder, settings, history)
    if epoch > 0:
        ckpt.remove_state(folder, epoch - 1)
