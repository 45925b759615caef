"""Small sequence classifiers of the introductory exercises.

:class:`BiLSTMClassifier` (the sentiment model)::

    e_t    = E[w_t]                                    (B, T, E) word vectors (GloVe rows)
    h_t^f  = LSTM_f(e_t, h_{t-1}^f),  h_t^b = LSTM_b(e_t, h_{t+1}^b)   stacked, dropout between
    r      = [h_T^f ; h_1^b]                           (B, 2H) last layer, both directions
    z      = W dropout(r) + b                          (B, C)

Padded batches are packed, so h_T^f is the state after each text's own last word.
:class:`LastStateRNNClassifier` reads a sequence of numbers and classifies from h_T.
"""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMClassifier(nn.Module):
    """Embedding -> stacked bidirectional LSTM -> [h_T^f; h_1^b] -> dropout -> linear.

    Parameters
    ----------
    vocab_size, embed_dim : int
        V and E; row 0 of the embedding is padding.
    hidden_size, num_layers : int
        H per direction, stacked layers.
    dropout : float
        Between stacked layers and before the readout.
    num_classes : int
        C.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int,
                 dropout: float, num_classes: int = 2) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) int64, lengths (B,) -> logits (B, C)."""
        return self.forward_embedded(self.embedding(tokens), lengths)

    def forward_embedded(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """emb (B, T, E) -> logits (B, C); the entry point of gradient x input."""
        packed = nn.utils.rnn.pack_padded_sequence(emb, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n (L*2, B, H): the real last steps, no padding
        r = torch.cat([h_n[-2], h_n[-1]], dim=1)  # [h_T^f ; h_1^b], (B, 2H)
        return self.readout(self.dropout(r))


class LastStateRNNClassifier(nn.Module):
    """nn.RNN(D, H) over the sequence and a linear readout of h_T (the increasing/decreasing model).

    ::

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (torch.nn.RNN)
        z   = W_y h_T + b_y                                     (B, C)
    """

    def __init__(self, hidden_size: int, input_size: int = 1, num_classes: int = 2) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, D) -> logits (B, C)."""
        _, h_n = self.rnn(x)  # h_n (1, B, H) = h_T
        return self.readout(h_n[-1])  # (B, C)
