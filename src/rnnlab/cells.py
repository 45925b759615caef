"""The one table of recurrent cells: names, labels, gate blocks and what each block does.

Every part of rnnlab that needs to know a cell's gates (the NumPy engine, the PyTorch models,
the weight and saturation analyses, the parameter counter, the figures) reads it here. Gate
blocks are listed in PyTorch's order, the order of the rows of ``weight_ih_l0`` /
``weight_hh_l0`` (shape ``(G*H, D)`` / ``(G*H, H)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.errors import ConfigError


@dataclass(frozen=True)
class Cell:
    """One recurrent cell.

    Attributes
    ----------
    name : str
        The lower-case key (``"rnn"``, ``"lstm"``, ``"gru"``, ``"gru-cho"``).
    label : str
        How figures and sentences name it (``"LSTM"``).
    gates : tuple of str
        One letter per H-sized block of pre-activations, in PyTorch's row order.
    sigmoid : tuple of str
        The blocks that pass through a sigmoid (the gates proper); the others use tanh.
    """

    name: str
    label: str
    gates: tuple[str, ...]
    sigmoid: tuple[str, ...]

    @property
    def blocks(self) -> int:
        """G, the number of H-sized blocks computed each step."""
        return len(self.gates)

    @property
    def tanh(self) -> tuple[str, ...]:
        return tuple(g for g in self.gates if g not in self.sigmoid)


CELLS: dict[str, Cell] = {
    "rnn": Cell("rnn", "RNN", ("h",), ()),
    "lstm": Cell("lstm", "LSTM", ("i", "f", "g", "o"), ("i", "f", "o")),
    "gru": Cell("gru", "GRU", ("r", "z", "n"), ("r", "z")),
    "gru-cho": Cell("gru-cho", "GRU-cho", ("r", "z", "n"), ("r", "z")),
}

#: What each gate letter stands for (figure legends, tables).
GATE_LABELS: dict[str, str] = {
    "h": "tanh (RNN)",
    "i": "input i",
    "f": "forget f",
    "g": "cell g",
    "o": "output o",
    "r": "reset r",
    "z": "update z",
    "n": "new n",
}

#: Lower-case key -> label, e.g. ``"lstm"`` -> ``"LSTM"``.
CELL_LABELS: dict[str, str] = {key: cell.label for key, cell in CELLS.items()}


def cell(name: str) -> Cell:
    """The :class:`Cell` called ``name`` (case-insensitive: ``"LSTM"`` or ``"lstm"``).

    Raises
    ------
    ConfigError
        For an unknown cell.
    """
    key = str(name).lower()
    if key not in CELLS:
        raise ConfigError(f"expected a cell in {', '.join(CELLS)}, found {name!r}")
    return CELLS[key]
