"""Training NumPy models (the :mod:`rnnlab.scratch` engine, no autograd) on Q1's toy tasks.

A model is a recurrent layer (RNN, LSTM or GRU) followed by a dense readout applied at every
step; the loss (MSE for the sine task, softmax cross-entropy for text) is averaged over all steps.
One update is: forward, loss, hand-written backward (truncated BPTT with window k), global
gradient-norm clipping, Adam. Every cell gets the same budget: the same number of updates, batch
size, sequence length, hidden size, learning rate, clipping threshold and the same sequence of
training batches for a given seed.

The loop emits one :class:`EpochRecord` per epoch (and one for epoch 0, before any update) to an
optional callback and returns a :class:`TrainHistory`; it never plots or writes files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from rnnlab.cells import CELL_LABELS
from rnnlab.data.toy import CharCorpus, SineData, one_hot, random_windows, sequential_windows
from rnnlab.errors import ConfigError
from rnnlab.scratch import (
    Adam,
    Dense,
    clip_grad_norm,
    global_grad_norm,
    make_layer,
    mse,
    softmax,
    softmax_cross_entropy,
)

# ------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------


class Task(Protocol):
    """What the loop needs from a task."""

    name: str
    input_size: int
    output_size: int
    loss_name: str

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[np.ndarray, np.ndarray]: ...

    def validation(self) -> tuple[np.ndarray, np.ndarray]: ...

    def loss(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]: ...

    def features(self, x: np.ndarray, dtype) -> np.ndarray: ...


class SineTask:
    """Next-value prediction on noisy sine waves (MSE over all steps).

    Batches are training sequences drawn at random (with replacement); the validation set is the
    whole held-out set of :class:`~rnnlab.data.toy.SineData`.
    """

    name = "sine"
    input_size = 1
    output_size = 1
    loss_name = "MSE"

    def __init__(self, data: SineData, dtype=np.float32):
        self.data = data
        self.dtype = np.dtype(dtype)
        self._x = data.x_train.astype(self.dtype)
        self._y = data.y_train.astype(self.dtype)
        self._val = (data.x_val.astype(self.dtype), data.y_val.astype(self.dtype))

    def batch(self, rng, batch_size):
        idx = rng.integers(0, len(self._x), size=batch_size)
        return self._x[idx], self._y[idx]  # (B, T, 1), (B, T, 1)

    def validation(self):
        return self._val

    def loss(self, out, target):
        return mse(out, target)

    def features(self, x, dtype):
        """Inputs as (B, T, 1) floats of ``dtype``."""
        return np.asarray(x, dtype=dtype)


class TextTask:
    """Character-level language modelling (next character, cross-entropy in nats per character).

    Inputs are character ids (B, T), which the recurrent layer reads as one-hot rows of width V
    (:meth:`features` gives those rows); targets the next character ids (B, T). Training batches
    are windows at random offsets of the training text; validation uses up to
    ``max_val_windows`` consecutive windows of the held-out text, each started from a zero state.
    """

    name = "text"
    loss_name = "cross-entropy (nats/char)"

    def __init__(self, corpus: CharCorpus, seq_len: int, *, max_val_windows: int = 64, dtype=np.float32):
        corpus.check_windows(seq_len)
        self.corpus = corpus
        self.seq_len = int(seq_len)
        self.dtype = np.dtype(dtype)
        self.input_size = self.output_size = corpus.vocab_size
        xv, yv = sequential_windows(corpus.val_ids, self.seq_len, max_val_windows)
        self._val = (xv, yv)

    def batch(self, rng, batch_size):
        return random_windows(self.corpus.train_ids, batch_size, self.seq_len, rng)  # (B, T), (B, T)

    def validation(self):
        return self._val

    def loss(self, out, target):
        return softmax_cross_entropy(out, target)

    def features(self, x, dtype):
        """Character ids (B, T) as one-hot rows (B, T, V) of ``dtype``."""
        return one_hot(x, self.corpus.vocab_size, dtype)


# ------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------


class ModelCache(NamedTuple):
    """What :meth:`SeqModel.forward` keeps for :meth:`SeqModel.backward`."""

    layer: Any  # the recurrent layer's SequenceCache
    readout: Any  # the dense layer's cache
    hs: np.ndarray  # (B, T, H) hidden states


class SeqModel:
    """Recurrent layer + per-step dense readout: y_t = W_out h_t + b_out.

    Parameters
    ----------
    cell : str
        ``"rnn"``, ``"lstm"``, ``"gru"`` or ``"gru-cho"``.
    input_size, hidden_size, output_size : int
        D, H and O.
    seed : int
        Seeds the initial weights (recurrent layer and readout from independent streams).
    dtype : float32 or float64
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, *,
                 seed: int = 0, dtype=np.float32):
        layer_seed, readout_seed = np.random.SeedSequence(seed).generate_state(2)
        self.cell = cell
        self.layer = make_layer(cell, input_size, hidden_size, seed=int(layer_seed), dtype=dtype)
        self.readout = Dense(hidden_size, output_size, seed=int(readout_seed), dtype=dtype)

    @property
    def label(self) -> str:
        return CELL_LABELS.get(self.cell, self.cell)

    @property
    def layers(self) -> list:
        return [self.layer, self.readout]

    def num_parameters(self) -> int:
        return self.layer.num_parameters() + self.readout.num_parameters()

    def forward(self, x: np.ndarray, state0=None) -> tuple[np.ndarray, ModelCache]:
        """x (B, T, D) -> outputs (B, T, O) and the cache."""
        hs, layer_cache = self.layer.forward(x, state0)  # (B, T, H)
        out, readout_cache = self.readout.forward(hs)  # (B, T, O)
        return out, ModelCache(layer_cache, readout_cache, hs)

    def backward(self, dout: np.ndarray, cache: ModelCache, *, truncate: int | None = None,
                 return_dh: bool = False):
        """Fill every gradient from dL/dout (B, T, O); optionally return dL/dh_t (B, T, H)."""
        dhs = self.readout.backward(dout, cache.readout)  # (B, T, H)
        result = self.layer.backward(dhs, cache.layer, truncate=truncate, return_dh=return_dh)
        return result[2] if return_dh else None

    def final_state(self, cache: ModelCache):
        """The last hidden state (h_T, or (h_T, c_T) for the LSTM), to continue a sequence."""
        return cache.layer.final_state

    def astype(self, dtype) -> SeqModel:
        """A copy of the model with every parameter in ``dtype`` (e.g. float64 for analysis)."""
        other = object.__new__(SeqModel)
        other.cell = self.cell
        other.layer = self.layer.astype(dtype)
        other.readout = Dense(self.readout.in_features, self.readout.out_features, dtype=dtype)
        other.readout.params = {k: v.astype(dtype) for k, v in self.readout.params.items()}
        other.readout.grads = {k: np.zeros_like(v) for k, v in other.readout.params.items()}
        return other

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of all parameters, readout ones prefixed ``readout.``."""
        out = {k: v.copy() for k, v in self.layer.params.items()}
        out.update({f"readout.{k}": v.copy() for k, v in self.readout.params.items()})
        return out


# ------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """One budget shared by every cell.

    Attributes
    ----------
    hidden_size : int
        H.
    epochs : int
        Number of epochs; an epoch is ``batches_per_epoch`` updates.
    batches_per_epoch, batch_size : int
    lr : float
        Adam learning rate.
    clip : float or None
        Global gradient-norm clipping threshold (None: no clipping).
    bptt_window : int or None
        Truncated BPTT window k (None: full BPTT over the sequence).
    dtype : str
        ``"float32"`` or ``"float64"``.
    """

    hidden_size: int = 32
    epochs: int = 10
    batches_per_epoch: int = 50
    batch_size: int = 32
    lr: float = 3e-3
    clip: float | None = 5.0
    bptt_window: int | None = None
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("hidden_size", "epochs", "batches_per_epoch", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"expected {name} to be an int >= 1, found {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"expected lr > 0, found {self.lr!r}")
        if self.clip is not None and not self.clip > 0:
            raise ConfigError(f"expected clip > 0 or None, found {self.clip!r}")
        if self.bptt_window is not None and (not isinstance(self.bptt_window, int) or self.bptt_window < 1):
            raise ConfigError(f"expected bptt_window >= 1 or None, found {self.bptt_window!r}")


@dataclass(frozen=True)
class EpochRecord:
    """Numbers recorded at the end of an epoch (epoch 0: before the first update)."""

    epoch: int
    train_loss: float  # mean over the epoch's batches (epoch 0: loss on the first batch)
    val_loss: float
    seconds: float  # cumulative training time (forward, backward, update), evaluation excluded
    grad_norm: float  # mean global gradient norm before clipping (nan for epoch 0)
    clipped_fraction: float  # fraction of updates whose gradient was clipped


@dataclass
class TrainHistory:
    """Per-epoch records of one run (one task, one cell, one seed)."""

    task: str
    cell: str
    seed: int
    num_parameters: int
    settings: dict
    records: list[EpochRecord] = field(default_factory=list)

    def series(self, key: str) -> np.ndarray:
        """One recorded quantity over epochs 0..E, shape (E+1,)."""
        return np.array([getattr(r, key) for r in self.records], dtype=np.float64)


def make_model(task: Task, cell: str, settings: TrainSettings, seed: int) -> SeqModel:
    """The freshly initialised model that :func:`train_model` starts from for this seed."""
    init_seed = np.random.SeedSequence(seed).generate_state(2)[0]
    return SeqModel(cell, task.input_size, settings.hidden_size, task.output_size,
                    seed=int(init_seed), dtype=settings.dtype)


def evaluate(model: SeqModel, task: Task, batch_size: int = 256) -> float:
    """Mean validation loss of ``model`` on ``task`` (no gradients)."""
    x, y = task.validation()
    total, count = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        out, _ = model.forward(xb)
        loss, _ = task.loss(out, yb)
        total += loss * len(xb)
        count += len(xb)
    return total / count


def train_model(task: Task, cell: str, settings: TrainSettings, seed: int, *,
                on_epoch: Callable[[EpochRecord, SeqModel], None] | None = None,
                model: SeqModel | None = None) -> tuple[SeqModel, TrainHistory]:
    """Train one model with the NumPy engine.

    Parameters
    ----------
    task : SineTask or TextTask
    cell : str
        ``"rnn"``, ``"lstm"``, ``"gru"`` or ``"gru-cho"``.
    settings : TrainSettings
        The shared budget.
    seed : int
        Seeds the initial weights and, independently, the order of training batches; the batch
        order depends on the seed only, so every cell sees the same batches.
    on_epoch : callable, optional
        Called as ``on_epoch(record, model)`` after each epoch and once for epoch 0.
    model : SeqModel, optional
        Start from this model instead of a fresh one.

    Returns
    -------
    model : SeqModel
    history : TrainHistory
    """
    data_seed = np.random.SeedSequence(seed).generate_state(2)[1]
    if model is None:
        model = make_model(task, cell, settings, seed)
    rng = np.random.default_rng(int(data_seed))
    optimiser = Adam(model.layers, lr=settings.lr)
    history = TrainHistory(task.name, cell, int(seed), model.num_parameters(),
                           settings=dict(settings.__dict__))

    def emit(record: EpochRecord) -> None:
        history.records.append(record)
        if on_epoch is not None:
            on_epoch(record, model)

    x0, y0 = task.batch(np.random.default_rng(int(data_seed)), settings.batch_size)
    first_loss, _ = task.loss(model.forward(x0)[0], y0)
    emit(EpochRecord(0, first_loss, evaluate(model, task), 0.0, float("nan"), 0.0))
    seconds = 0.0
    for epoch in range(1, settings.epochs + 1):
        losses, norms, clipped = [], [], 0
        start = time.perf_counter()
        for _ in range(settings.batches_per_epoch):
            x, y = task.batch(rng, settings.batch_size)
            out, cache = model.forward(x)
            loss, dout = task.loss(out, y)
            model.backward(dout, cache, truncate=settings.bptt_window)
            if settings.clip is not None:
                norm = clip_grad_norm(model.layers, settings.clip)
                clipped += norm > settings.clip
            else:
                norm = global_grad_norm(model.layers)
            optimiser.step()
            losses.append(loss)
            norms.append(norm)
        seconds += time.perf_counter() - start
        if not np.isfinite(losses[-1]):
            raise ConfigError(f"expected a finite training loss for {cell} (seed {seed}), found "
                              f"{losses[-1]} at epoch {epoch}; lower the learning rate or clip harder")
        emit(EpochRecord(epoch, float(np.mean(losses)), evaluate(model, task), seconds,
                         float(np.mean(norms)), clipped / settings.batches_per_epoch))
    return model, history


# ------------------------------------------------------------------------------------------
# Sampling text
# ------------------------------------------------------------------------------------------


def sample_text(model: SeqModel, corpus: CharCorpus, *, prime: str, length: int,
                temperature: float, rng: np.random.Generator) -> str:
    """Generate ``length`` characters after ``prime``, sampling softmax(logits / temperature).

    Characters of ``prime`` outside the vocabulary are dropped; an empty prime starts from the
    most frequent character. Returns the prime followed by the generated text.
    """
    if not temperature > 0:
        raise ConfigError(f"expected temperature > 0, found {temperature!r}")
    V = corpus.vocab_size
    dtype = model.layer.dtype
    prime = "".join(ch for ch in prime if ch in corpus.stoi)
    if not prime:
        prime = corpus.vocab[int(np.bincount(corpus.train_ids, minlength=V).argmax())]
    out, cache = model.forward(one_hot(corpus.encode(prime)[None, :], V, dtype))  # (1, T0, V)
    state = model.final_state(cache)
    logits = out[0, -1]
    generated = []
    for _ in range(length):
        p = softmax(logits.astype(np.float64) / temperature)
        idx = int(rng.choice(V, p=p / p.sum()))
        generated.append(idx)
        x = one_hot(np.array([[idx]]), V, dtype)  # (1, 1, V)
        out, cache = model.forward(x, state)
        state = model.final_state(cache)
        logits = out[0, -1]
    return prime + corpus.decode(generated)


# ------------------------------------------------------------------------------------------
# Saving and loading a finished run (safetensors + JSON, never pickle)
# ------------------------------------------------------------------------------------------

RUN_FORMAT = "rnnlab-scratch-run/1"


def save_run(stem: str | Path, model: SeqModel, history: TrainHistory, extra: dict | None = None) -> Path:
    """Save a finished run as ``<stem>.safetensors`` (the model's arrays) and ``<stem>.json``.

    The JSON holds the history records, ``extra`` (JSON-friendly, e.g. samples) and the SHA-256
    of the safetensors file. Both are written atomically, the arrays first: the JSON marks the run
    as finished, so a crash between the two leaves a run that is simply trained again.
    """
    from safetensors.numpy import save as st_save

    from rnnlab.results import atomic_write_bytes, write_json

    stem = Path(stem)
    arrays = {k: np.ascontiguousarray(v) for k, v in model.get_params().items()}
    blob = st_save(arrays, metadata={"format": RUN_FORMAT, "cell": model.cell})
    weights = atomic_write_bytes(stem.with_name(stem.name + ".safetensors"), blob)
    record = {
        "format": RUN_FORMAT,
        "weights": weights.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "task": history.task, "cell": history.cell, "seed": history.seed,
        "num_parameters": history.num_parameters, "settings": history.settings,
        "records": [dataclasses.asdict(r) for r in history.records],
        "extra": extra or {},
    }
    return write_json(stem.with_name(stem.name + ".json"), record)


def load_run(stem: str | Path, model: SeqModel) -> tuple[SeqModel, TrainHistory, dict]:
    """Load a run saved by :func:`save_run` into ``model`` (a fresh model of the same shapes).

    Returns the model (its arrays overwritten in place, bit for bit), the history and ``extra``.

    Raises
    ------
    DataError
        One line naming the file when the JSON or the arrays are missing, damaged, do not match
        their SHA-256, or do not fit the model.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    from rnnlab.errors import DataError
    from rnnlab.results import read_json

    stem = Path(stem)
    json_path = stem.with_name(stem.name + ".json")
    weights = stem.with_name(stem.name + ".safetensors")
    data = read_json(json_path, "a finished Q1 run")
    try:
        if data["format"] != RUN_FORMAT:
            raise DataError(f"expected format {RUN_FORMAT} in {json_path}, found {data['format']!r}")
        records = [EpochRecord(**r) for r in data["records"]]
        history = TrainHistory(data["task"], data["cell"], int(data["seed"]), int(data["num_parameters"]),
                               settings=dict(data["settings"]), records=records)
        digest, extra = data["sha256"], dict(data["extra"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"expected a finished run's records in {json_path}, found a malformed file ({exc})") from None
    try:
        blob = weights.read_bytes()
    except OSError as exc:
        raise DataError(f"expected the run's arrays at {weights}, found an error: {exc}") from None
    if hashlib.sha256(blob).hexdigest() != digest:
        raise DataError(f"expected {weights} to match the SHA-256 recorded in {json_path.name}, found other bytes")
    try:
        arrays = st_load(blob)
    except (SafetensorError, ValueError) as exc:
        raise DataError(f"expected a valid safetensors file at {weights}, found a damaged one ({exc})") from None
    params = {**model.layer.params, **{f"readout.{k}": v for k, v in model.readout.params.items()}}
    if set(arrays) != set(params) or any(arrays[k].shape != v.shape or arrays[k].dtype != v.dtype
                                         for k, v in params.items()):
        raise DataError(f"expected the arrays of a {model.label} model in {weights}, found other names or shapes")
    for k, v in params.items():
        v[...] = arrays[k]  # in place: the layers keep their own arrays
    return model, history, extra
