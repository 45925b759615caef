"""Untrained RNN, LSTM and GRU question encoders over word vectors.

The three encoders share the hidden size H and one seeded initialisation scheme, so that the
differences between their hidden states come from the cell equations alone:

- ``"xavier-orthogonal"`` (default): each gate block of ``weight_ih_l0`` (H, D) is
  Xavier-uniform, each gate block of ``weight_hh_l0`` (H, H) is a random orthogonal matrix
  (spectral radius exactly 1 before the nonlinearity), biases are zero.
- ``"torch"``: PyTorch's own default, every parameter uniform in (-1/sqrt(H), 1/sqrt(H)).

Both draw from a ``torch.Generator`` seeded with ``seed``, never from the global RNG.

Questions of different lengths are batched with ``pack_padded_sequence``: the recurrence stops
at each question's last word, so padding never changes a hidden state, and the final state is
the state after the last real word (tested: a question's states are the same alone or in a
padded batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab import cells as _cells
from rnnlab.errors import ConfigError, ShapeError

CELLS = tuple(_cells.cell(key).label for key in ("rnn", "lstm", "gru"))  # ("RNN", "LSTM", "GRU")
#: G, the gate blocks stacked in weight_ih_l0 / weight_hh_l0, read from :mod:`rnnlab.cells`.
GATES = {name: _cells.cell(name).blocks for name in CELLS}
INIT_SCHEMES = ("xavier-orthogonal", "torch")


def _check_cell(cell: str) -> str:
    for name in CELLS:
        if name.lower() == str(cell).lower():
            return name
    raise ConfigError(f"expected a cell among {CELLS}, found {cell!r}")


def init_recurrent_(module, scheme: str = "xavier-orthogonal", seed: int = 0) -> None:
    """Initialise a one-layer ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` in place, seeded.

    Parameters
    ----------
    module : torch.nn.RNNBase
    scheme : {"xavier-orthogonal", "torch"}
        See the module docstring.
    seed : int
    """
    import torch
    from torch import nn

    if scheme not in INIT_SCHEMES:
        raise ConfigError(f"expected an init scheme among {INIT_SCHEMES}, found {scheme!r}")
    gen = torch.Generator().manual_seed(int(seed))
    H = module.hidden_size
    with torch.no_grad():
        for name, param in module.named_parameters():
            if scheme == "torch":
                bound = 1.0 / np.sqrt(H)
                nn.init.uniform_(param, -bound, bound, generator=gen)
            elif name.startswith("bias"):
                param.zero_()
            else:
                for g in range(param.shape[0] // H):  # one gate block (H, D) or (H, H) at a time
                    block = param[g * H : (g + 1) * H]
                    if name.startswith("weight_hh"):
                        nn.init.orthogonal_(block, generator=gen)
                    else:
                        nn.init.xavier_uniform_(block, generator=gen)


def make_encoder(
    cell: str, input_size: int, hidden_size: int, seed: int = 0, init: str = "xavier-orthogonal"
):
    """An untrained one-layer, batch-first ``nn.RNN`` (tanh), ``nn.LSTM`` or ``nn.GRU``, in eval mode."""
    from torch import nn

    cell = _check_cell(cell)
    if input_size < 1 or hidden_size < 1:
        raise ConfigError(
            f"expected positive input and hidden sizes, found {input_size} and {hidden_size}"
        )
    cls = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[cell]
    module = cls(input_size, hidden_size, num_layers=1, batch_first=True)
    init_recurrent_(module, init, seed)
    return module.eval()


@dataclass(frozen=True)
class EncodedQuestions:
    """Hidden states of N questions.

    Attributes
    ----------
    states : list of (T_i, H) float32 arrays
        The hidden state h_t after each word (for the LSTM, h_t, not the cell state).
    final : (N, H) float32
        The state after the last word of each question (its embedding).
    """

    states: list[np.ndarray]
    final: np.ndarray


def encode(module, sequences: Sequence[np.ndarray], device: str = "cpu") -> EncodedQuestions:
    """Run an encoder over word-vector sequences of different lengths, packed.

    Parameters
    ----------
    module : torch.nn.RNN, LSTM or GRU (batch_first)
    sequences : sequence of (T_i, D) arrays
        One per question, T_i >= 1.

    Returns
    -------
    EncodedQuestions

    Raises
    ------
    ShapeError
        On an empty list, an empty sequence or a D different from the encoder's input size.
    """
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    if len(sequences) == 0:
        raise ShapeError("expected at least one sequence to encode, found none")
    D = module.input_size
    lengths = []
    for i, seq in enumerate(sequences):
        seq = np.asarray(seq)
        if seq.ndim != 2 or seq.shape[1] != D or seq.shape[0] < 1:
            raise ShapeError(f"expected sequence {i} of shape (T >= 1, {D}), found {seq.shape}")
        lengths.append(seq.shape[0])
    N, T = len(sequences), max(lengths)
    padded = np.zeros((N, T, D), dtype=np.float32)  # (N, T, D), zeros after each length
    for i, seq in enumerate(sequences):
        padded[i, : lengths[i]] = seq
    x = torch.from_numpy(padded).to(device)
    module = module.to(device)
    with torch.no_grad():
        packed = pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out, _ = module(packed)
        hs, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (N, T, H)
    hs = hs.cpu().numpy().astype(np.float32)
    states = [hs[i, : lengths[i]].copy() for i in range(N)]
    final = np.stack([s[-1] for s in states])  # (N, H)
    return EncodedQuestions(states=states, final=final)
