"""The NumPy engine: RNN, LSTM and GRU with hand-written backpropagation through time.

>>> from rnnlab.scratch import RNN, LSTM, GRU, Dense, Adam, softmax_cross_entropy
"""

from rnnlab.scratch.functional import BPTT, sigmoid
from rnnlab.scratch.layers import (
    GRU,
    LSTM,
    RNN,
    Dense,
    RecurrentLayer,
    SequenceCache,
    Stack,
    make_layer,
)
from rnnlab.scratch.losses import mse, softmax, softmax_cross_entropy
from rnnlab.scratch.optim import SGD, Adam, clip_grad_norm, global_grad_norm

__all__ = [
    "BPTT",
    "GRU",
    "LSTM",
    "RNN",
    "SGD",
    "Adam",
    "Dense",
    "RecurrentLayer",
    "SequenceCache",
    "Stack",
    "clip_grad_norm",
    "global_grad_norm",
    "make_layer",
    "mse",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
]
