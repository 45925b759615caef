"""One PyTorch sequence model for the three recurrent cells: RNN, LSTM or GRU.

:class:`RecurrentNet` is a single recurrent layer (``torch.nn.RNN`` / ``LSTM`` / ``GRU``,
batch-first, so its parameters are named ``rnn.weight_ih_l0`` (G*H, D), ``rnn.weight_hh_l0``
(G*H, H), ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0`` with gate blocks LSTM i|f|g|o and GRU r|z|n)
followed by a linear read-out of the last hidden state. Optionally an embedding layer in front
(for token ids, e.g. IMDb), with padded batches packed so that padding never enters the
recurrence. The same ``cell`` argument switches the model; hidden size, read-out and everything
else stay the same, which is what a fair comparison needs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab import cells
from rnnlab.errors import ConfigError, ShapeError

#: The cells torch has a layer for (``"gru-cho"`` of :mod:`rnnlab.cells` is NumPy-only).
CELLS = ("rnn", "lstm", "gru")
#: ``"lstm"`` -> ``"LSTM"``, read from :data:`rnnlab.cells.CELL_LABELS`.
DISPLAY_NAMES = {key: cells.CELL_LABELS[key] for key in CELLS}
#: G, the H-sized gate blocks in ``weight_ih_l0`` / ``weight_hh_l0``, from :mod:`rnnlab.cells`.
GATES = {key: cells.cell(key).blocks for key in CELLS}
_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def cell_key(name: str) -> str:
    """``"RNN"``/``"rnn"`` -> ``"rnn"`` (checked: one of :data:`CELLS`)."""
    key = str(name).lower()
    if key not in CELLS:
        raise ConfigError(f"expected a cell in {CELLS}, found {name!r}")
    return key


class Hidden(NamedTuple):
    """What the recurrent layer saw and produced, for analysis.

    Attributes
    ----------
    inputs : Tensor, shape (N, T, D)
        The inputs of the recurrent layer (embedded tokens for text).
    states : Tensor, shape (N, T, H)
        h_t for every step (zeros after each sequence's end when lengths are given).
    mask : Tensor of bool, shape (N, T), or None
        True where a step is real (not padding); None when every step is real.
    """

    inputs: torch.Tensor
    states: torch.Tensor
    mask: torch.Tensor | None


class RecurrentNet(nn.Module):
    """Recurrent layer + linear read-out of the last hidden state.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    input_size : int
        D, features per step (the embedding size when ``vocab_size`` is given).
    hidden_size : int
        H.
    output_size : int
        Classes (logits) or regression targets.
    vocab_size : int, optional
        V: when given, inputs are token ids (N, T) and an embedding (V, D) comes first.
    padding_idx : int
        Token id of padding (its embedding is zero and not trained).

    Shapes
    ------
    forward(x, lengths=None): x (N, T, D) floats or (N, T) ids; lengths (N,) -> (N, output_size)
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        vocab_size: int | None = None,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.cell = cell_key(cell)
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("output_size", output_size),
        ):
            if int(value) < 1:
                raise ConfigError(f"expected {name} >= 1, found {value}")
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.embedding = (
            nn.Embedding(vocab_size, input_size, padding_idx=padding_idx) if vocab_size else None
        )
        self.rnn = _LAYERS[self.cell](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    @property
    def display_name(self) -> str:
        return DISPLAY_NAMES[self.cell]

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
                raise ShapeError(
                    f"expected token ids of shape (N, T), found {x.dtype} {tuple(x.shape)}"
                )
            return self.embedding(x)  # (N, T, D)
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"expected inputs of shape (N, T, {self.input_size}), found {tuple(x.shape)}"
            )
        return x

    def _run(
        self, inputs: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All hidden states (N, T, H) and the last real one of each sequence (N, H)."""
        if lengths is None:
            states, _ = self.rnn(inputs)  # (N, T, H)
            return states, states[:, -1]
        if lengths.shape != (inputs.shape[0],):
            raise ShapeError(
                f"expected lengths of shape ({inputs.shape[0]},), found {tuple(lengths.shape)}"
            )
        packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)
        h_last = (h_n[0] if isinstance(h_n, tuple) else h_n)[-1]  # (N, H), in input order
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=inputs.shape[1])
        return states, h_last

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        _, h_last = self._run(self._embed(x), lengths)
        return self.head(h_last)  # (N, output_size)

    @torch.no_grad()
    def hidden_states(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Hidden:
        """Inputs and hidden states of the recurrent layer for a batch (see :class:`Hidden`)."""
        inputs = self._embed(x)
        states, _ = self._run(inputs, lengths)
        mask = None
        if lengths is not None:
            steps = torch.arange(inputs.shape[1], device=inputs.device)
            mask = steps[None, :] < lengths.to(inputs.device)[:, None]
        return Hidden(inputs, states, mask)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
