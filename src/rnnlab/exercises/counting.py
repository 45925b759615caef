"""Parameter counting for recurrent layers with shared weights.

A recurrent layer applies the same weights at every time step, so its number of parameters does
not depend on the sequence length T. For one layer and one direction with G weight blocks (RNN 1,
GRU 3, LSTM 4), input size D and hidden size H::

    params = G * (H*D  +  H*H  +  n_b*H)
                  W_ih    W_hh    biases

where n_b is the number of bias vectors per block: the textbook formula
h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) has one (n_b = 1); PyTorch (following cuDNN) keeps two,
b_ih and b_hh, whose sum acts as the single bias (n_b = 2), so it reports G*H more parameters
than the textbook count with no extra expressive power. A bidirectional layer has two independent
directions (twice the count); in a stack, layer l > 0 reads the previous layer's output, of size
H (or 2H when bidirectional), instead of D.

>>> count_parameters("rnn", 4, 3, biases=1).total
24
>>> count_parameters("rnn", 4, 3).total     # PyTorch's two bias vectors: 24 + 3
27
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.cells import CELLS
from rnnlab.errors import ConfigError

_COUNTED = ("rnn", "gru", "lstm")

#: Weight blocks per cell: G, the number of H-sized pre-activations computed each step
#: (derived from :data:`rnnlab.cells.CELLS`).
CELL_BLOCKS: dict[str, int] = {key: CELLS[key].blocks for key in _COUNTED}


def _gate_description(key: str) -> str:
    cell = CELLS[key]
    if not cell.sigmoid:
        return "none (one tanh block)"
    return f"{', '.join(cell.sigmoid)} (sigmoid gates) + {', '.join(cell.tanh)} (tanh candidate)"


#: What the blocks are, in words (derived from :data:`rnnlab.cells.CELLS`).
CELL_GATES: dict[str, str] = {key: _gate_description(key) for key in _COUNTED}


def _check_cell(cell: str) -> str:
    key = str(cell).lower()
    if key not in CELL_BLOCKS:
        raise ConfigError(f"expected cell 'rnn', 'lstm' or 'gru', found {cell!r}")
    return key


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"expected {name} to be a positive int, found {value!r}")


@dataclass(frozen=True)
class ParameterCount:
    """The parameter count of a (possibly stacked, bidirectional) recurrent layer.

    Attributes
    ----------
    cell, input_size, hidden_size, num_layers, bidirectional, biases
        The layer's description (``biases`` = bias vectors per weight block: 0, 1 or 2).
    weight_ih, weight_hh, bias : int
        Totals of the input weights, recurrent weights and biases over all layers/directions.
    per_layer : tuple of int
        Total of each layer (both directions).
    total : int
        Everything.
    formula : str
        The arithmetic, e.g. ``"1*(3*4 + 3*3 + 1*3) = 24"``.
    """

    cell: str
    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    biases: int
    weight_ih: int
    weight_hh: int
    bias: int
    per_layer: tuple[int, ...]
    total: int
    formula: str


def count_parameters(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    biases: int = 2,
) -> ParameterCount:
    """Count the parameters of a recurrent layer.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    input_size : int
        D.
    hidden_size : int
        H (per direction).
    num_layers : int
        Stacked layers L; layer l > 0 has input size H * directions.
    bidirectional : bool
        Two directions per layer.
    biases : {0, 1, 2}
        Bias vectors per weight block: 2 as in PyTorch (``bias=True``), 1 as in the textbook
        formula, 0 for ``bias=False``.

    Returns
    -------
    ParameterCount
    """
    key = _check_cell(cell)
    _check_positive(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
    if biases not in (0, 1, 2):
        raise ConfigError(f"expected biases to be 0, 1 or 2, found {biases!r}")
    G, H, dirs = CELL_BLOCKS[key], hidden_size, 2 if bidirectional else 1
    w_ih = w_hh = b = 0
    per_layer, terms = [], []
    for layer in range(num_layers):
        D_l = input_size if layer == 0 else H * dirs  # layer l > 0 reads the layer below
        ih, hh, bb = G * H * D_l, G * H * H, G * biases * H  # W_ih (G*H, D_l), W_hh (G*H, H), biases
        per_layer.append(dirs * (ih + hh + bb))
        w_ih, w_hh, b = w_ih + dirs * ih, w_hh + dirs * hh, b + dirs * bb
        bias_term = f" + {biases}*{H}" if biases else ""
        prefix = f"{dirs}*" if dirs > 1 else ""
        terms.append(f"{prefix}{G}*({H}*{D_l} + {H}*{H}{bias_term})")
    total = w_ih + w_hh + b
    return ParameterCount(
        cell=key, input_size=input_size, hidden_size=H, num_layers=num_layers,
        bidirectional=bool(bidirectional), biases=biases, weight_ih=w_ih, weight_hh=w_hh, bias=b,
        per_layer=tuple(per_layer), total=total, formula=" + ".join(terms) + f" = {total}",
    )


def torch_parameter_count(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    bias: bool = True,
) -> int:
    """Number of parameters of the matching ``torch.nn.RNN/LSTM/GRU`` (builds the module)."""
    import torch

    key = _check_cell(cell)
    _check_positive(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
    module_class = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[key]
    module = module_class(input_size, hidden_size, num_layers=num_layers,
                          bidirectional=bidirectional, bias=bias)
    return int(sum(p.numel() for p in module.parameters()))


def unshared_parameter_count(cell: str, input_size: int, hidden_size: int, steps: int, *,
                             biases: int = 1) -> int:
    """Parameters of a single-layer network unrolled over ``steps`` WITHOUT weight sharing.

    Every step would own its W_ih, W_hh and biases: ``steps`` times the shared count. The
    shared (real) count is :func:`count_parameters`, the same for every T.
    """
    _check_positive(steps=steps)
    return steps * count_parameters(cell, input_size, hidden_size, biases=biases).total


def macs_per_step(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                  bidirectional: bool = False) -> int:
    """Multiply-adds of the matrix products of one time step for one sequence.

    Per layer and direction: G*H*D_l (W_ih x_t) + G*H*H (W_hh h_{t-1}). Element-wise work (the
    nonlinearities, gate products, O(G*H)) is left out: it is small next to the products for
    H >> 1.
    """
    key = _check_cell(cell)
    _check_positive(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
    G, H, dirs = CELL_BLOCKS[key], hidden_size, 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        D_l = input_size if layer == 0 else H * dirs
        total += dirs * G * H * (D_l + H)
    return total
