"""The manual forward pass of a vanilla RNN on the exercise's numbers.

    a_t = W_xh x_t + W_hh h_{t-1} + b        (pre-activation)
    h_t = tanh(a_t)

computed twice: :func:`forward_loop` with plain Python floats and explicit sums (what a student
does on paper), and :func:`forward_engine` with the NumPy engine's :class:`rnnlab.scratch.RNN`.
The engine keeps PyTorch's two bias vectors (b_ih and b_hh, added together); the exercise's single
bias b is loaded as ``bias_ih_l0 = b`` with ``bias_hh_l0 = 0``, which gives the same a_t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ShapeError

Vector = tuple[float, ...]
Matrix = tuple[Vector, ...]


@dataclass(frozen=True)
class ForwardPassProblem:
    """Inputs and weights of a manual forward pass (H hidden units, D inputs, T steps).

    Attributes
    ----------
    xs : T vectors of length D
    h0 : vector of length H
    W_xh : (H, D) matrix, rows are hidden units
    W_hh : (H, H) matrix
    b : vector of length H (the single bias of the exercise)
    """

    xs: tuple[Vector, ...]
    h0: Vector
    W_xh: Matrix
    W_hh: Matrix
    b: Vector

    def __post_init__(self) -> None:
        H, D = len(self.h0), len(self.xs[0]) if self.xs else 0
        if not self.xs or any(len(x) != D for x in self.xs):
            raise ShapeError(f"expected T >= 1 input vectors of one length, found lengths {[len(x) for x in self.xs]}")
        if len(self.W_xh) != H or any(len(r) != D for r in self.W_xh):
            raise ShapeError(f"expected W_xh of shape ({H}, {D}), found {np.shape(self.W_xh)}")
        if len(self.W_hh) != H or any(len(r) != H for r in self.W_hh):
            raise ShapeError(f"expected W_hh of shape ({H}, {H}), found {np.shape(self.W_hh)}")
        if len(self.b) != H:
            raise ShapeError(f"expected b of length {H}, found {len(self.b)}")


#: The exercise: x_1 = [0.5, -1.0], x_2 = [1.0, 0.0], x_3 = [-0.5, 0.5], h_0 = 0.
EXERCISE = ForwardPassProblem(
    xs=((0.5, -1.0), (1.0, 0.0), (-0.5, 0.5)),
    h0=(0.0, 0.0),
    W_xh=((0.6, -0.2), (0.1, 0.5)),
    W_hh=((0.3, 0.4), (-0.2, 0.2)),
    b=(0.0, 0.1),
)


@dataclass(frozen=True)
class ForwardPassResult:
    """Pre-activations and hidden states of every step (T lists of H floats each)."""

    pre_activations: tuple[Vector, ...]
    hidden_states: tuple[Vector, ...]


def forward_loop(problem: ForwardPassProblem = EXERCISE) -> ForwardPassResult:
    """The forward pass with plain Python loops and floats, one sum per hidden unit."""
    h_prev = list(problem.h0)
    pre, hs = [], []
    for x in problem.xs:
        a = []
        for i in range(len(h_prev)):
            # a_i = sum_j W_xh[i][j] x_j + sum_k W_hh[i][k] h_prev_k + b_i
            s = sum(w * xj for w, xj in zip(problem.W_xh[i], x))
            s += sum(w * hk for w, hk in zip(problem.W_hh[i], h_prev))
            a.append(s + problem.b[i])
        h_prev = [math.tanh(v) for v in a]  # h_t = tanh(a_t)
        pre.append(tuple(a))
        hs.append(tuple(h_prev))
    return ForwardPassResult(tuple(pre), tuple(hs))


def engine_rnn(problem: ForwardPassProblem = EXERCISE):
    """A :class:`rnnlab.scratch.RNN` (float64) holding the problem's weights.

    ``bias_ih_l0 = b`` and ``bias_hh_l0 = 0``: the engine adds both biases, so their sum is the
    exercise's single b.
    """
    from rnnlab.scratch import RNN

    H, D = len(problem.h0), len(problem.xs[0])
    layer = RNN(D, H, dtype=np.float64)
    layer.load_params({
        "weight_ih_l0": np.array(problem.W_xh, dtype=np.float64),  # (H, D)
        "weight_hh_l0": np.array(problem.W_hh, dtype=np.float64),  # (H, H)
        "bias_ih_l0": np.array(problem.b, dtype=np.float64),       # (H,) the single b
        "bias_hh_l0": np.zeros(H),                                  # (H,) zero: b_ih + b_hh = b
    })
    return layer


def forward_engine(problem: ForwardPassProblem = EXERCISE) -> np.ndarray:
    """Hidden states h_1..h_T, (T, H), from the NumPy engine's RNN (a batch of one sequence)."""
    layer = engine_rnn(problem)
    x = np.array(problem.xs, dtype=np.float64)[None]  # (1, T, D)
    h0 = np.array(problem.h0, dtype=np.float64)[None]  # (1, H)
    hs, _ = layer.forward(x, h0)  # (1, T, H)
    return hs[0]


def format_forward_pass(problem: ForwardPassProblem = EXERCISE, decimals: int = 8) -> tuple[str, float]:
    """A printable walk-through of the forward pass and the largest loop/engine difference.

    Returns
    -------
    text : str
        The equation, the weights, and for every step a_t, h_t by the loop and h_t by the engine.
    max_abs_diff : float
        max |h_t(loop) - h_t(engine)| over all steps and units.
    """
    loop = forward_loop(problem)
    engine = forward_engine(problem)
    diff = float(np.max(np.abs(np.array(loop.hidden_states) - engine)))
    return describe_forward_pass(problem, loop.pre_activations, loop.hidden_states, engine, diff, decimals), diff


def describe_forward_pass(problem: ForwardPassProblem, pre_activations, h_loop, h_engine, max_abs_diff: float,
                          decimals: int = 8) -> str:
    """The walk-through of :func:`format_forward_pass` from computed numbers (T lists of H each)."""

    def vec(v) -> str:
        return "[" + ", ".join(f"{float(e): .{decimals}f}" for e in v) + "]"

    lines = [
        "h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)",
        f"W_xh = {[list(r) for r in problem.W_xh]}",
        f"W_hh = {[list(r) for r in problem.W_hh]}",
        f"b    = {list(problem.b)}   (engine: bias_ih = b, bias_hh = 0)",
        f"h_0  = {list(problem.h0)}",
        "",
    ]
    for t, (x, a, h_l, h_e) in enumerate(zip(problem.xs, pre_activations, h_loop, h_engine), start=1):
        lines += [
            f"t = {t}: x_{t} = {list(x)}",
            f"  a_{t}          = {vec(a)}",
            f"  h_{t} (loop)   = {vec(h_l)}",
            f"  h_{t} (engine) = {vec(h_e)}",
        ]
    same = "equal" if max_abs_diff < 10 ** (-decimals) else "DIFFERENT"
    lines += ["", f"max |loop - engine| = {max_abs_diff:.2e}: the two computations are {same} to {decimals} decimals"]
    return "\n".join(lines)
