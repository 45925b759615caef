"""Losses with hand-written gradients. Each returns ``(loss, dinput)`` with the mean over items."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import ShapeError
from rnnlab.scratch._checks import check_finite
from rnnlab.scratch.functional import uses_kernels


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: exp(z - max z) / sum exp(z - max z)."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_cross_entropy(logits, targets) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer class targets under softmax(logits).

    Parameters
    ----------
    logits : ndarray, (..., C)
        Unnormalised scores, e.g. (N, C) or (N, T, C).
    targets : int array, (...)
        Class indices in [0, C), same leading shape as ``logits``.

    Returns
    -------
    loss : float
        L = -mean log softmax(z)[y].
    dlogits : ndarray, (..., C)
        dL/dz = (softmax(z) - onehot(y)) / M, M the number of items.
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if logits.ndim < 1 or targets.shape != logits.shape[:-1]:
        raise ShapeError(f"expected targets of shape {logits.shape[:-1]} for logits {logits.shape}, found {targets.shape}")
    if targets.dtype.kind not in "iu":
        raise ShapeError(f"expected integer class targets, found dtype {targets.dtype}")
    C = logits.shape[-1]
    if targets.size == 0:
        raise ShapeError(f"expected at least one item in logits, found shape {logits.shape}")
    if targets.min() < 0 or targets.max() >= C:
        raise ShapeError(f"expected class targets in [0, {C}), found values in [{targets.min()}, {targets.max()}]")
    if uses_kernels(logits.dtype):  # the training dtype: the fast path (same maths, rows on two threads)
        from rnnlab.scratch import kernels

        return kernels.softmax_cross_entropy(logits, targets)
    check_finite("logits", logits)
    z = logits.reshape(-1, C)
    y = targets.reshape(-1)
    M = z.shape[0]
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    log_p = z[np.arange(M), y] - log_norm
    loss = float(-log_p.mean())
    dz = np.exp(z - log_norm[:, None])  # softmax
    dz[np.arange(M), y] -= 1.0
    dz /= M
    return loss, dz.reshape(logits.shape)


def mse(pred, target) -> tuple[float, np.ndarray]:
    """Mean squared error L = mean((pred - target)^2); returns (L, dL/dpred = 2 (pred - target) / M)."""
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ShapeError(f"expected target of shape {pred.shape} (same as the prediction), found {target.shape}")
    check_finite("prediction", pred)
    diff = pred - target.astype(pred.dtype, copy=False)
    return float(np.mean(diff * diff)), 2.0 * diff / diff.size
