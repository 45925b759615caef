"""A many-to-one NumPy RNN classifying four toy sequences, trained by hand-written BPTT.

    h_t    = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     (rnnlab.scratch.RNN)
    z      = W_y h_T + b_y                                    (linear readout, rnnlab.scratch.Dense)
    p      = softmax(z),  prediction = argmax_c p_c
    L      = -mean_n log p_{n, y_n}

The gradient dL/dz flows into the readout, gives dL/dh_T, and the engine's backward pass carries
it back through the three steps (BPTT). No autograd anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnnlab.errors import ConfigError, ShapeError

#: The exercise's four sequences (N=4, T=3, D=2) and their labels.
TOY_X = np.array(
    [
        [[1.0, 0.5], [0.2, 0.1], [0.3, -0.1]],
        [[-0.5, -0.4], [0.1, -0.2], [-0.3, -0.1]],
        [[0.8, 0.2], [0.5, 0.4], [0.1, 0.2]],
        [[-0.6, -0.2], [-0.4, -0.3], [0.0, -0.1]],
    ]
)
TOY_Y = np.array([1, 0, 1, 0])


class ToyCache(NamedTuple):
    """What :meth:`ManyToOneRNN.forward` keeps for the backward pass."""

    rnn: object  # the RNN's SequenceCache
    readout: object  # the Dense layer's cache (its input h_T)
    hs_shape: tuple[int, int, int]  # (N, T, H)


class ManyToOneRNN:
    """RNN over the sequence, a linear readout of the last hidden state, C classes.

    Parameters
    ----------
    input_size, hidden_size, num_classes : int
        D, H, C.
    seed : int
        Initial weights (engine initialisation: U(-1/sqrt(H), 1/sqrt(H))).
    """

    def __init__(self, input_size: int = 2, hidden_size: int = 4, num_classes: int = 2, *, seed: int = 0):
        from rnnlab.scratch import RNN, Dense

        self.rnn = RNN(input_size, hidden_size, seed=seed, dtype=np.float64)
        self.readout = Dense(hidden_size, num_classes, seed=seed + 1, dtype=np.float64)

    @property
    def layers(self) -> list:
        return [self.rnn, self.readout]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, ToyCache]:
        """x (N, T, D) -> logits (N, C) and the cache."""
        hs, rnn_cache = self.rnn.forward(x)  # (N, T, H)
        logits, readout_cache = self.readout.forward(hs[:, -1])  # z = W_y h_T + b_y, (N, C)
        return logits, ToyCache(rnn_cache, readout_cache, hs.shape)

    def backward(self, dlogits: np.ndarray, cache: ToyCache) -> None:
        """Fill every layer's ``grads`` from dL/dz (N, C)."""
        dh_T = self.readout.backward(dlogits, cache.readout)  # (N, H)
        dhs = np.zeros(cache.hs_shape)  # only h_T feeds the loss
        dhs[:, -1] = dh_T
        self.rnn.backward(dhs, cache.rnn)  # BPTT through all T steps

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """softmax(z), (N, C)."""
        from rnnlab.scratch import softmax

        logits, _ = self.forward(x)
        return softmax(logits)


@dataclass(frozen=True)
class ToyTrainingResult:
    """Before/after predictions and the training curve of the toy classifier.

    Attributes
    ----------
    probs_before, probs_after : ndarray (N, C)
    pred_before, pred_after : ndarray (N,)
    accuracy_before, accuracy_after : float
    losses, accuracies : ndarray (epochs,)
        Cross-entropy and accuracy after each update's forward pass.
    first_epoch_all_correct : int or None
        First epoch (1-based) whose forward pass classified all sequences correctly.
    """

    probs_before: np.ndarray
    probs_after: np.ndarray
    pred_before: np.ndarray
    pred_after: np.ndarray
    accuracy_before: float
    accuracy_after: float
    losses: np.ndarray
    accuracies: np.ndarray
    first_epoch_all_correct: int | None


def train_toy_classifier(
    x: np.ndarray = TOY_X,
    y: np.ndarray = TOY_Y,
    *,
    hidden_size: int = 4,
    epochs: int = 200,
    lr: float = 0.05,
    seed: int = 0,
) -> tuple[ManyToOneRNN, ToyTrainingResult]:
    """Train :class:`ManyToOneRNN` full-batch with Adam on the engine's gradients.

    Parameters
    ----------
    x : ndarray, (N, T, D)
    y : int ndarray, (N,)
    hidden_size, epochs, lr, seed
        H, full-batch updates, Adam learning rate, initial-weight seed.
    """
    from rnnlab.scratch import Adam, softmax_cross_entropy

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise ShapeError(f"expected x (N, T, D) and y (N,), found {x.shape} and {y.shape}")
    if epochs < 1:
        raise ConfigError(f"expected epochs >= 1, found {epochs}")
    C = int(y.max()) + 1
    model = ManyToOneRNN(x.shape[2], hidden_size, max(C, 2), seed=seed)
    probs_before = model.predict_proba(x)
    optimiser = Adam(model.layers, lr=lr)
    losses, accuracies = [], []
    first = None
    for epoch in range(1, epochs + 1):
        logits, cache = model.forward(x)
        loss, dlogits = softmax_cross_entropy(logits, y)  # L and dL/dz
        acc = float(np.mean(logits.argmax(axis=1) == y))
        losses.append(loss)
        accuracies.append(acc)
        if first is None and acc == 1.0:
            first = epoch
        model.backward(dlogits, cache)  # hand-written BPTT
        optimiser.step()
    probs_after = model.predict_proba(x)
    result = ToyTrainingResult(
        probs_before=probs_before,
        probs_after=probs_after,
        pred_before=probs_before.argmax(axis=1),
        pred_after=probs_after.argmax(axis=1),
        accuracy_before=float(np.mean(probs_before.argmax(axis=1) == y)),
        accuracy_after=float(np.mean(probs_after.argmax(axis=1) == y)),
        losses=np.array(losses),
        accuracies=np.array(accuracies),
        first_epoch_all_correct=first,
    )
    return model, result


def format_predictions(result: ToyTrainingResult, y: np.ndarray = TOY_Y) -> str:
    """A table of label, prediction and P(class 1) for every sequence, before and after."""
    return describe_predictions(y, result.pred_before, result.probs_before[:, 1], result.pred_after,
                                result.probs_after[:, 1], result.accuracy_before, result.accuracy_after,
                                len(result.losses), float(result.losses[-1]))


def describe_predictions(labels, pred_before, prob_before, pred_after, prob_after, accuracy_before: float,
                         accuracy_after: float, epochs: int, final_loss: float) -> str:
    """:func:`format_predictions` from the numbers (P(class 1) per sequence, before and after)."""
    lines = [(f"{'seq':>3}  {'label':>5}  {'pred before':>11}  {'P(1) before':>11}  "
             f"{'pred after':>10}  {'P(1) after':>10}")]
    for n in range(len(labels)):
        lines.append(
            f"{n + 1:>3}  {int(labels[n]):>5}  {int(pred_before[n]):>11}  "
            f"{prob_before[n]:>11.4f}  {int(pred_after[n]):>10}  "
            f"{prob_after[n]:>10.4f}"
        )
    lines.append(f"accuracy before training {accuracy_before:.0%}, "
                 f"after {epochs} epochs {accuracy_after:.0%} "
                 f"(final loss {final_loss:.4f})")
    return "\n".join(lines)
