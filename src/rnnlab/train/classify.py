"""A plain minibatch training loop for small PyTorch classifiers (the introductory exercises).

:func:`train_epochs` is the loop the exercises (the increasing/decreasing RNN, the sentiment
BiLSTM) have always run, in one public place: each epoch draws a permutation of the training
examples from a ``torch.Generator``, cuts it into consecutive batches, and for each batch does
``zero_grad``, forward, loss, backward, ``step``. No clipping, no learning-rate schedule, no
checkpoints: for those use :func:`rnnlab.train.torch_loop.fit`. For a given seed it reproduces
the exercises' numbers bit for bit (same permutation calls, same step order, the mean loss
summed in the same order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.errors import ConfigError

#: What :func:`train_epochs` asks for one batch: the model's inputs (a tuple, passed as
#: ``model(*inputs)``) and the targets, given the example indices of the batch.
BatchFn = Callable[[list[int]], tuple[Sequence[torch.Tensor], torch.Tensor]]


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: BatchFn,
    n_examples: int,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    after_epoch: Callable[[int, float], Any] | None = None,
) -> list[float]:
    """Train ``model`` for ``epochs`` passes over ``n_examples`` examples in shuffled batches.

    Every epoch::

        model.train()
        order = torch.randperm(n_examples, generator=generator).tolist()
        for start in range(0, n_examples, batch_size):
            idx = order[start : start + batch_size]          # list of int
            inputs, targets = batch(idx)
            optimizer.zero_grad()
            loss = loss_fn(model(*inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        mean_loss = total / n_examples
        after_epoch(epoch, mean_loss)                        # epoch counts from 1

    Parameters
    ----------
    model : nn.Module
        Built (and seeded) by the caller, already on its device.
    optimizer : torch.optim.Optimizer
        Built by the caller over the parameters to train (e.g. only those with
        ``requires_grad``).
    batch : callable
        ``batch(idx) -> (inputs, targets)``: ``idx`` is a list of example indices (ints);
        ``inputs`` a tuple of tensors for ``model(*inputs)``; ``targets`` (B,) class ids on the
        model's device. E.g. ``lambda idx: ((x[idx],), y[idx])`` for tensors, or a padding
        function for token lists (``((tokens, lengths), y[idx])``). Move tensors to the device
        here.
    n_examples : int
        N, the number of training examples (indices 0..N-1).
    epochs : int
        Passes over the data (0: no training).
    batch_size : int
        B; the last batch of an epoch may be smaller.
    generator : torch.Generator
        Draws each epoch's permutation (CPU generator, e.g.
        ``torch.Generator().manual_seed(seed)``); nothing else uses it. Dropout and other
        randomness inside the model use torch's global generator, as usual.
    loss_fn : callable
        ``loss_fn(logits, targets)`` -> scalar mean loss (default cross-entropy, the same as
        ``nn.CrossEntropyLoss()``).
    after_epoch : callable, optional
        ``after_epoch(epoch, mean_loss)`` after each epoch (epoch = 1, 2, ...), e.g. to measure
        test accuracy. It may put the model in eval mode: the next epoch sets training mode
        again.

    Returns
    -------
    list of float
        The mean training loss of each epoch: sum over batches of ``loss.item() * len(idx)``,
        divided by ``n_examples`` (a loss measured while the weights change).

    Raises
    ------
    ConfigError
        For ``n_examples < 1``, ``batch_size < 1`` or ``epochs < 0``.
    """
    for name, value, low in (("n_examples", n_examples, 1), ("batch_size", batch_size, 1),
                             ("epochs", epochs, 0)):  # fmt: skip
        if int(value) < low:
            raise ConfigError(f"expected {name} >= {low}, found {value}")
    losses = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n_examples, generator=generator).tolist()
        total = 0.0
        for start in range(0, n_examples, batch_size):
            idx = order[start : start + batch_size]
            inputs, targets = batch(idx)
            optimizer.zero_grad()
            loss = loss_fn(model(*inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n_examples)
        if after_epoch is not None:
            after_epoch(epoch, losses[-1])
    return losses
