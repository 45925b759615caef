"""A PyTorch RNN that tells increasing sequences from decreasing ones.

Data: T values drawn uniformly from [0, 1), sorted ascending (label 1, increasing) or descending
(label 0, decreasing), half of each. The model reads one value per step (D = 1) and classifies
from its last hidden state (:class:`rnnlab.models.classifiers.LastStateRNNClassifier`)::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (torch.nn.RNN)
    z   = W_y h_T + b_y,   prediction = argmax z

It is trained on length-4 sequences only and then tested on fresh length-4 sequences and on
longer ones (8, 16) it never saw, which shows whether it learnt the rule ("each value is larger
than the previous one") or something tied to length 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnlab.errors import ConfigError
from rnnlab.threads import limit_threads


def make_monotonic_data(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Balanced increasing/decreasing sequences.

    Parameters
    ----------
    n : int
        Number of sequences (N); labels alternate 1, 0, 1, ... before shuffling.
    length : int
        T >= 2.
    rng : numpy Generator

    Returns
    -------
    x : float32 ndarray, (N, T, 1)
        Values in [0, 1), sorted along T.
    y : int64 ndarray, (N,)
        1 increasing, 0 decreasing.
    """
    if n < 2 or length < 2:
        raise ConfigError(f"expected n >= 2 sequences of length >= 2, found n={n}, length={length}")
    values = np.sort(rng.random((n, length)), axis=1)  # ascending, (N, T)
    y = (np.arange(n) % 2 == 0).astype(np.int64)
    rng.shuffle(y)
    values[y == 0] = values[y == 0, ::-1]  # descending for label 0
    return values[..., None].astype(np.float32), y


@dataclass
class MonotonicResult:
    """Accuracies and training curve of the increasing/decreasing classifier.

    Attributes
    ----------
    train_accuracy, test_accuracy : float
        On the training set and a fresh test set, both of the training length.
    accuracy_by_length : dict[int, float]
        Test accuracy on fresh sequences of each length (training length included).
    losses, test_accuracies : list of float
        Mean training loss and test accuracy after each epoch.
    num_parameters : int
    """

    train_accuracy: float
    test_accuracy: float
    accuracy_by_length: dict[int, float]
    losses: list[float] = field(default_factory=list)
    test_accuracies: list[float] = field(default_factory=list)
    num_parameters: int = 0


def train_monotonic(
    *,
    train_size: int = 2000,
    test_size: int = 1000,
    length: int = 4,
    eval_lengths: tuple[int, ...] = (4, 8, 16),
    hidden_size: int = 16,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 0.01,
    seed: int = 0,
    device: str = "cpu",
) -> MonotonicResult:
    """Train the classifier on length-``length`` sequences and test it on several lengths.

    Deterministic for a given seed on CPU: data from ``numpy.random.default_rng(seed)``, weights
    and batch order from ``torch.Generator`` seeded with ``seed``.
    """
    with limit_threads():
        return _train_monotonic(train_size, test_size, length, eval_lengths, hidden_size, epochs,
                                batch_size, lr, seed, device)


def _train_monotonic(train_size, test_size, length, eval_lengths, hidden_size, epochs, batch_size,
                     lr, seed, device) -> MonotonicResult:
    import torch

    from rnnlab.models.classifiers import LastStateRNNClassifier
    from rnnlab.train.classify import train_epochs

    rng = np.random.default_rng(seed)
    x_train, y_train = make_monotonic_data(train_size, length, rng)
    x_test, y_test = make_monotonic_data(test_size, length, rng)
    extra = {T: make_monotonic_data(test_size, T, rng) for T in eval_lengths if T != length}

    torch.manual_seed(seed)
    model = LastStateRNNClassifier(hidden_size).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x_train).to(device), torch.from_numpy(y_train).to(device)
    generator = torch.Generator().manual_seed(seed)

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        model.eval()
        with torch.no_grad():
            pred = model(torch.from_numpy(x).to(device)).argmax(dim=1).cpu().numpy()
        model.train()
        return float(np.mean(pred == y))

    test_accs: list[float] = []
    losses = train_epochs(model, optimiser, lambda idx: ((xt[idx],), yt[idx]), len(xt), epochs=epochs,
                          batch_size=batch_size, generator=generator,
                          after_epoch=lambda epoch, loss: test_accs.append(accuracy(x_test, y_test)))

    by_length = {length: accuracy(x_test, y_test)}
    for T, (x, y) in extra.items():
        by_length[T] = accuracy(x, y)
    return MonotonicResult(
        train_accuracy=accuracy(x_train, y_train),
        test_accuracy=by_length[length],
        accuracy_by_length=dict(sorted(by_length.items())),
        losses=losses,
        test_accuracies=test_accs,
        num_parameters=int(sum(p.numel() for p in model.parameters())),
    )
