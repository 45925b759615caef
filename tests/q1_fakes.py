"""Fabricated Q1 loss curves shared by the Q1 insight and sentence tests."""

import numpy as np

from rnnlab.analysis.insights import RunCurves


def _curves(finals, spread, rate, seconds_per_epoch, params, E=10, S=3):
    """Fabricated exponential-decay curves ending near ``finals`` with +-``spread`` over seeds."""
    out = {}
    for label in finals:
        e = np.arange(E + 1)
        decay = (np.exp(-rate[label] * e) - np.exp(-rate[label] * E)) / (1 - np.exp(-rate[label] * E))
        base = finals[label] + (1.0 - finals[label]) * decay  # 1 at epoch 0, finals at epoch E
        offsets = np.linspace(-spread[label], spread[label], S)[:, None]
        val = base[None, :] + offsets
        sec = np.tile(e * seconds_per_epoch[label], (S, 1))
        out[label] = RunCurves(val, sec, params[label], val + 0.01)
    return out


FINALS = {"RNN": 0.30, "LSTM": 0.20, "GRU": 0.18}
RATE = {"RNN": 0.3, "LSTM": 0.6, "GRU": 0.8}
SECS = {"RNN": 0.1, "LSTM": 0.4, "GRU": 0.3}
PARAMS = {"RNN": 100, "LSTM": 400, "GRU": 300}
