"""Optimisers and gradient clipping for the NumPy engine.

An optimiser is given the layers (anything with ``params`` and ``grads`` dicts) once, and
``step()`` updates every parameter in place from its gradient. Clipping is a separate call the
training loop makes between backward and step, never part of the backward pass.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rnnlab.errors import ConfigError


def _pairs(layers: Iterable) -> list[tuple[dict, dict, str]]:
    pairs = []
    for layer in layers:
        if not (hasattr(layer, "params") and hasattr(layer, "grads")):
            raise ConfigError(f"expected layers with params and grads, found {type(layer).__name__}")
        for name in layer.params:
            pairs.append((layer.params, layer.grads, name))
    return pairs


def global_grad_norm(layers: Iterable) -> float:
    """sqrt(sum of squared gradient entries) over every parameter of ``layers``."""
    return float(np.sqrt(sum(float(np.sum(g[n] * g[n])) for _, g, n in _pairs(layers))))


def clip_grad_norm(layers: Iterable, max_norm: float) -> float:
    """Scale all gradients so that their global norm is at most ``max_norm``.

    Returns the norm before clipping (compare it with ``max_norm`` to count clipped steps).
    """
    if not max_norm > 0:
        raise ConfigError(f"expected max_norm > 0, found {max_norm!r}")
    layers = list(layers)
    norm = global_grad_norm(layers)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for _, grads, name in _pairs(layers):
            grads[name] *= scale
    return norm


def _one_pass(*arrays: np.ndarray) -> bool:
    """True when Adam's update can run compiled: float32 (the training dtype), C-contiguous."""
    return all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays)


class SGD:
    """Stochastic gradient descent with optional momentum: v = mu v + g; p -= lr v."""

    def __init__(self, layers: Iterable, lr: float = 0.1, momentum: float = 0.0):
        if not lr > 0 or not 0 <= momentum < 1:
            raise ConfigError(f"expected lr > 0 and 0 <= momentum < 1, found lr={lr}, momentum={momentum}")
        self.pairs = _pairs(layers)
        self.lr, self.momentum = lr, momentum
        self.velocity = [np.zeros_like(p[n]) for p, _, n in self.pairs]

    def step(self) -> None:
        for (params, grads, name), v in zip(self.pairs, self.velocity):
            v *= self.momentum
            v += grads[name]
            params[name] -= self.lr * v


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction.

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, layers: Iterable, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        b1, b2 = betas
        if not lr > 0 or not (0 <= b1 < 1 and 0 <= b2 < 1) or not eps > 0:
            raise ConfigError(f"expected lr > 0, betas in [0, 1) and eps > 0, found lr={lr}, betas={betas}, eps={eps}")
        self.pairs = _pairs(layers)
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = [np.zeros_like(p[n]) for p, _, n in self.pairs]
        self.v = [np.zeros_like(p[n]) for p, _, n in self.pairs]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for (params, grads, name), m, v in zip(self.pairs, self.m, self.v):
            g = grads[name]
            if _one_pass(params[name], g, m, v):  # float32: the same lines compiled into one pass
                from rnnlab.scratch import kernels

                kernels.adam_update(params[name], g, m, v, b1=self.b1, b2=self.b2, c1=c1, c2=c2, lr=self.lr,
                                    eps=self.eps)
                continue
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * (g * g)
            params[name] -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
