"""rnnlab.train.classify.train_epochs reproduces, bit for bit, the loops the exercises ran."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.train.classify import train_epochs


class TinyRNN(torch.nn.Module):  # the monotonic exercise's model
    def __init__(self, hidden=6):
        super().__init__()
        self.rnn = torch.nn.RNN(1, hidden, batch_first=True)
        self.readout = torch.nn.Linear(hidden, 2)

    def forward(self, x):
        _, h_n = self.rnn(x)
        return self.readout(h_n[-1])


class TinyBiLSTM(torch.nn.Module):  # the sentiment exercise's shape: embedding, packing, dropout
    def __init__(self, vocab=12, embed=5, hidden=4):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = torch.nn.LSTM(embed, hidden, num_layers=2, batch_first=True,
                                  bidirectional=True, dropout=0.3)  # fmt: skip
        self.dropout = torch.nn.Dropout(0.3)
        self.readout = torch.nn.Linear(2 * hidden, 2)

    def forward(self, tokens, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(packed)
        return self.readout(self.dropout(torch.cat([h_n[-2], h_n[-1]], dim=1)))


def monotonic_data(n=50, T=4, seed=0):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.random((n, T)), axis=1)
    y = (np.arange(n) % 2 == 0).astype(np.int64)
    values[y == 0] = values[y == 0, ::-1]
    return torch.from_numpy(values[..., None].astype(np.float32)), torch.from_numpy(y)


def pad(seqs, idx):  # the sentiment exercise's batching
    chosen = [seqs[i] for i in idx]
    lengths = torch.tensor([len(s) for s in chosen])
    tokens = torch.zeros(len(chosen), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(chosen):
        tokens[row, : len(s)] = torch.tensor(s)
    return tokens, lengths


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_reproduces_the_monotonic_loop():
    xt, yt = monotonic_data()
    epochs, batch_size, lr, seed = 3, 8, 0.01, 4

    # the loop of rnnlab.exercises.monotonic before it moved here
    torch.manual_seed(seed)
    model = TinyRNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    expected = []
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            idx = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        expected.append(total / len(xt))
    expected_params = params(model)

    torch.manual_seed(seed)
    model = TinyRNN()
    seen = []
    losses = train_epochs(
        model,
        torch.optim.Adam(model.parameters(), lr=lr),
        lambda idx: ((xt[idx],), yt[idx]),
        len(xt),
        epochs=epochs,
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed),
        after_epoch=lambda epoch, loss: seen.append((epoch, loss, model.eval().training)),
    )
    assert losses == expected  # bit for bit
    assert seen == [(e + 1, loss, False) for e, loss in enumerate(expected)]
    for a, b in zip(params(model), expected_params):
        assert torch.equal(a, b)


def test_reproduces_the_sentiment_loop_with_dropout_and_padding():
    g = torch.Generator().manual_seed(1)
    seqs = [
        torch.randint(1, 12, (int(n),), generator=g).tolist()
        for n in torch.randint(1, 7, (21,), generator=g)
    ]
    y = torch.randint(0, 2, (21,), generator=g)
    epochs, batch_size, seed = 2, 4, 2

    def reference():
        torch.manual_seed(seed)
        model = TinyBiLSTM()
        model.embedding.weight.requires_grad_(False)  # frozen embeddings, as in the exercise
        optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(epochs):
            order = torch.randperm(len(seqs), generator=generator).tolist()
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                tokens, lengths = pad(seqs, idx)
                optimiser.zero_grad()
                loss = loss_fn(model(tokens, lengths), y[idx])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(idx)
            out.append(total / len(order))
            model.eval()  # the exercise measured accuracy here, then went back to training
            model.train()
        return out, params(model)

    expected, expected_params = reference()
    torch.manual_seed(seed)
    model = TinyBiLSTM()
    model.embedding.weight.requires_grad_(False)
    losses = train_epochs(
        model,
        torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3),
        lambda idx: (pad(seqs, idx), y[idx]),
        len(seqs),
        epochs=epochs,
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed),
    )
    assert losses == expected
    for a, b in zip(params(model), expected_params):
        assert torch.equal(a, b)


def test_bad_sizes_are_refused_and_zero_epochs_train_nothing():
    model = TinyRNN()
    opt = torch.optim.Adam(model.parameters())
    gen = torch.Generator()
    with pytest.raises(ConfigError, match=r"batch_size >= 1"):
        train_epochs(model, opt, lambda i: ((), None), 4, epochs=1, batch_size=0, generator=gen)
    with pytest.raises(ConfigError, match=r"n_examples >= 1"):
        train_epochs(model, opt, lambda i: ((), None), 0, epochs=1, batch_size=2, generator=gen)
    before = params(model)
    assert train_epochs(model, opt, None, 4, epochs=0, batch_size=2, generator=gen) == []
    assert all(torch.equal(a, b) for a, b in zip(params(model), before))


def test_equals_the_exercise_as_it_is_today():
    """The live exercise function and this loop give the same losses (a tiny setting)."""
    from rnnlab.exercises.monotonic import make_monotonic_data, train_monotonic
    from rnnlab.threads import limit_threads

    settings = {"hidden_size": 6, "epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 3}
    result = train_monotonic(train_size=40, test_size=10, length=4, eval_lengths=(4,), **settings)
    rng = np.random.default_rng(3)
    x, y = (torch.from_numpy(a) for a in make_monotonic_data(40, 4, rng))
    with limit_threads():
        torch.manual_seed(3)
        model = TinyRNN(6)  # the same modules in the same order: the same initial weights
        losses = train_epochs(
            model,
            torch.optim.Adam(model.parameters(), lr=0.01),
            lambda idx: ((x[idx],), y[idx]),
            len(x),
            epochs=2,
            batch_size=8,
            generator=torch.Generator().manual_seed(3),
        )
    assert losses == result.losses
