"""Tiny PyTorch models of the five input/output patterns of recurrent networks.

Used by :func:`rnnlab.exercises.architectures.demonstrate_architectures`, which runs each on
dummy input and records the shapes that come out. Sizes are tiny (:data:`EMBED`,
:data:`HIDDEN`): the shapes are the point.
"""

from __future__ import annotations

import torch
from torch import nn

EMBED, HIDDEN = 8, 16  # tiny sizes: the shapes are the point


class OneToOne(nn.Module):
    """A feed-forward classifier: one input vector, one label, no time axis."""

    def __init__(self, D: int, C: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(D, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, C))

    def forward(self, x):  # (B, D) -> (B, C)
        return self.net(x)


class ManyToOne(nn.Module):
    """Sentiment: read T tokens, classify from the last hidden state."""

    def __init__(self, V: int, C: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.readout = nn.Linear(HIDDEN, C)

    def forward(self, tokens):  # (B, T) -> (B, C)
        _, (h_n, _) = self.rnn(self.embed(tokens))  # h_n (1, B, H)
        return self.readout(h_n[-1])


class OneToMany(nn.Module):
    """Music: from one start token, generate T notes, feeding each note back in."""

    def __init__(self, V: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, EMBED)
        self.cell = nn.GRUCell(EMBED, HIDDEN)
        self.readout = nn.Linear(HIDDEN, V)

    def forward(self, start, steps: int):  # (B,) -> logits (B, T, V), notes (B, T)
        h = torch.zeros(start.shape[0], HIDDEN)
        token, logits, notes = start, [], []
        for _ in range(steps):
            h = self.cell(self.embed(token), h)  # h_t = GRU(e(y_{t-1}), h_{t-1})
            z = self.readout(h)  # (B, V)
            token = z.argmax(dim=1)  # greedy: the generated note is the next input
            logits.append(z)
            notes.append(token)
        return torch.stack(logits, dim=1), torch.stack(notes, dim=1)


class ManyToManyAligned(nn.Module):
    """Tagging: one tag per input token, read in both directions."""

    def __init__(self, V: int, K: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, batch_first=True, bidirectional=True)
        self.readout = nn.Linear(2 * HIDDEN, K)

    def forward(self, tokens):  # (B, T) -> (B, T, K)
        hs, _ = self.rnn(self.embed(tokens))  # (B, T, 2H)
        return self.readout(hs)


class EncoderDecoder(nn.Module):
    """Translation: encode T_src tokens into a state, decode T_tgt tokens from it."""

    def __init__(self, V_src: int, V_tgt: int) -> None:
        super().__init__()
        self.src_embed = nn.Embedding(V_src, EMBED)
        self.tgt_embed = nn.Embedding(V_tgt, EMBED)
        self.encoder = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.decoder = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.readout = nn.Linear(HIDDEN, V_tgt)

    def forward(self, src, tgt_in):  # (B, T_src), (B, T_tgt) -> (B, T_tgt, V_tgt)
        _, context = self.encoder(self.src_embed(src))  # (1, B, H): the whole source
        hs, _ = self.decoder(self.tgt_embed(tgt_in), context)  # teacher forcing
        return self.readout(hs)
