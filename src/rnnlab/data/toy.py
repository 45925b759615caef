"""Toy sequence tasks for Q1: sine-wave next-value prediction and character-level text.

Two data sets, both deterministic under a seed:

- :func:`make_sine_data`: noisy sine waves of random period and phase; at every step the model
  sees the noisy value x_t and predicts the clean next value s_{t+1} (many-to-many regression).
  Train and validation sequences are drawn from independent random streams.
- :class:`CharCorpus`: a character vocabulary over real English text, encoded as integer ids,
  split into a training part and a held-out validation part (the last fraction of the text), and
  cut into (B, T) windows whose targets are the inputs shifted by one character.

Finding text is kept apart from parsing it: :func:`find_fortune_files` and
:func:`load_text_source` look for files; :func:`parse_fortunes` and :func:`clean_text` only
transform strings. The default text is Debian's ``fortunes`` quotations (literature, wisdom,
songs and poems) when installed, else the English prose that ships with Python itself (the Zen of
Python and the help topics in ``pydoc_data``); ``--text PATH`` reads any UTF-8 file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError

FORTUNES_DIR = Path("/usr/share/games/fortunes")
# Quotation files of prose and verse (Debian package ``fortunes``), in this order.
FORTUNE_NAMES = ("literature", "wisdom", "songs-poems")
ENTRY_ORDER_SEED = 2024  # fixed: the corpus does not change with the run's seed


# ------------------------------------------------------------------------------------------
# Sine waves
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SineData:
    """Sine-wave next-value prediction data.

    Attributes
    ----------
    x_train, y_train : ndarray, (N_train, T, 1)
        Noisy observations x_t = sin(2 pi t / P + phi) + eps_t and clean targets s_{t+1}.
    x_val, y_val : ndarray, (N_val, T, 1)
        The same for held-out sequences (independent periods, phases and noise).
    periods_train, periods_val : ndarray, (N,)
        Period P of each sequence, in steps.
    noise : float
        Standard deviation of the Gaussian observation noise eps_t.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    periods_train: np.ndarray
    periods_val: np.ndarray
    noise: float

    @property
    def seq_len(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def baseline_mse(self) -> float:
        """Validation MSE of the trivial predictor s_{t+1} ~ x_t (copy the last observation)."""
        return float(np.mean((self.x_val - self.y_val) ** 2))


def _sine_sequences(rng: np.random.Generator, n: int, seq_len: int, noise: float,
                    period_range: tuple[float, float], dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    periods = rng.uniform(period_range[0], period_range[1], size=n)  # (N,)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n)  # (N,)
    steps = np.arange(seq_len + 1)  # t = 0..T
    clean = np.sin(2.0 * np.pi * steps[None, :] / periods[:, None] + phases[:, None])  # (N, T+1)
    noisy = clean[:, :-1] + noise * rng.standard_normal((n, seq_len))  # x_t = s_t + eps_t
    x = noisy[:, :, None].astype(dtype)  # (N, T, 1)
    y = clean[:, 1:, None].astype(dtype)  # target s_{t+1}   (N, T, 1)
    return x, y, periods


def make_sine_data(n_train: int, n_val: int, seq_len: int, *, noise: float = 0.1,
                   period_range: tuple[float, float] = (8.0, 40.0), seed: int = 0,
                   dtype=np.float64) -> SineData:
    """Noisy sine waves for next-value prediction, with a train/validation split.

    Parameters
    ----------
    n_train, n_val : int
        Number of training and validation sequences (each >= 1).
    seq_len : int
        T, steps per sequence (>= 1).
    noise : float
        Standard deviation of the observation noise (>= 0); 0 gives clean inputs.
    period_range : (float, float)
        Periods are drawn uniformly from this range (in steps, 2 <= low <= high).
    seed : int
        The same seed gives the same arrays; train and validation use independent streams.
    dtype : float32 or float64

    Returns
    -------
    SineData
    """
    for name, value, low in (("n_train", n_train, 1), ("n_val", n_val, 1), ("seq_len", seq_len, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"expected {name} to be an int >= {low}, found {value!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ConfigError(f"expected noise >= 0, found {noise!r}")
    lo, hi = period_range
    if not (2.0 <= lo <= hi):
        raise ConfigError(f"expected a period range 2 <= low <= high, found {period_range!r}")
    train_seq, val_seq = np.random.SeedSequence(seed).spawn(2)
    x_tr, y_tr, p_tr = _sine_sequences(np.random.default_rng(train_seq), n_train, seq_len, noise,
                                       (lo, hi), dtype)
    x_va, y_va, p_va = _sine_sequences(np.random.default_rng(val_seq), n_val, seq_len, noise,
                                       (lo, hi), dtype)
    return SineData(x_tr, y_tr, x_va, y_va, p_tr, p_va, float(noise))


# ------------------------------------------------------------------------------------------
# Text: finding it
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSource:
    """A text and where it came from.

    Attributes
    ----------
    name : str
        Short id recorded in metrics: ``"fortunes"``, ``"python-docs"`` or ``"file"``.
    description : str
        Human description (files used, sizes) for the report.
    text : str
        The cleaned text.
    files : tuple of str
        The files read (empty for text that ships inside Python modules).
    """

    name: str
    description: str
    text: str
    files: tuple[str, ...] = ()


def find_fortune_files(root: Path = FORTUNES_DIR, names: tuple[str, ...] = FORTUNE_NAMES) -> list[Path]:
    """The installed Debian fortunes quotation files among ``names``, in that order."""
    root = Path(root)
    return [root / n for n in names if (root / n).is_file()]


def read_text_file(path: str | Path) -> str:
    """Read a UTF-8 text file; a missing, unreadable, non-UTF-8 or empty file raises DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"expected a UTF-8 text file at {path}, found no such file")
    if not path.is_file():
        raise DataError(f"expected a UTF-8 text file at {path}, found a directory or special file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"expected a readable text file at {path}, found {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"expected UTF-8 text in {path}, found an invalid byte at offset {exc.start}") from exc
    if not text.strip():
        raise DataError(f"expected non-empty text in {path}, found {len(raw)} bytes of whitespace only"
                        if raw else f"expected non-empty text in {path}, found an empty file")
    return text


def python_english_text() -> tuple[str, str]:
    """English prose that ships with Python: the Zen of Python and the ``pydoc_data`` help topics.

    Returns (text, description).
    """
    # ``import this`` would print the Zen to stdout, so read the module's source instead and
    # evaluate only its string literal ``s`` (rot13-encoded).
    import ast
    import importlib.util

    spec = importlib.util.find_spec("this")
    source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
    encoded = next((ast.literal_eval(node.value) for node in ast.parse(source).body
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "s"), "")
    zen = codecs.decode(encoded, "rot13")
    parts = [zen]
    try:
        from pydoc_data.topics import topics

        parts.extend(topics[k] for k in sorted(topics))
    except ImportError:  # pragma: no cover - pydoc_data is part of the standard library
        pass
    text = "\n\n".join(parts)
    return text, f"the Zen of Python and Python's help topics (pydoc_data), {len(text):,} characters"


def load_text_source(path: str | Path | None = None, *, fortunes_root: Path = FORTUNES_DIR) -> TextSource:
    """Find the English text for the character-level model.

    Parameters
    ----------
    path : str or Path, optional
        A UTF-8 text file given by the user (``--text PATH``); errors are one-line DataErrors.
    fortunes_root : Path
        Where Debian's fortunes files live.

    Returns
    -------
    TextSource
        ``path`` when given; else the fortunes quotations (literature, wisdom, songs-poems) when
        installed; else Python's own English text.
    """
    if path is not None:
        text = clean_text(read_text_file(path))
        if not text.strip():
            raise DataError(f"expected printable text in {path}, found only control characters")
        return TextSource("file", f"{Path(path).name} ({len(text):,} characters)", text, (str(path),))
    files = find_fortune_files(fortunes_root)
    if files:
        entries: list[str] = []
        for f in files:
            entries.extend(parse_fortunes(f.read_text(encoding="utf-8", errors="replace")))
        # Entries in a fixed shuffled order (the same for every run), so that the validation
        # split (the last part of the text) samples all files rather than the end of the last one.
        order = np.random.default_rng(ENTRY_ORDER_SEED).permutation(len(entries))
        text = "\n\n".join(clean_text(entries[i]) for i in order)
        names = ", ".join(f.name for f in files)
        return TextSource("fortunes", f"Debian fortunes quotations ({names}): {len(entries):,} entries, "
                          f"{len(text):,} characters", text, tuple(str(f) for f in files))
    text, description = python_english_text()
    return TextSource("python-docs", description, clean_text(text), ())


# ------------------------------------------------------------------------------------------
# Text: parsing it
# ------------------------------------------------------------------------------------------


def parse_fortunes(content: str) -> list[str]:
    """Split a fortunes file into entries (separated by lines holding only ``%``); blanks dropped."""
    entries = re.split(r"^%[ \t]*$", content.replace("\r\n", "\n"), flags=re.MULTILINE)
    return [e.strip("\n") for e in entries if e.strip()]


def clean_text(text: str) -> str:
    """Normalise text for a character model.

    Overstrikes ``X\\bY`` (old terminal bold/underline) become ``Y``, tabs become one space,
    carriage returns and other control characters except newline are removed, trailing spaces
    on each line are stripped.
    """
    text = text.replace("\r\n", "\n")
    text = re.sub(r".\x08", "", text)  # overstrike: keep the character typed over
    text = text.replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or ch.isprintable())
    return "\n".join(line.rstrip() for line in text.split("\n"))


# ------------------------------------------------------------------------------------------
# Character corpus
# ------------------------------------------------------------------------------------------


class CharCorpus:
    """A character vocabulary, the encoded text and its train/validation split.

    Parameters
    ----------
    text : str
        The whole text (non-empty).
    val_fraction : float
        The last ``val_fraction`` of the characters are held out for validation (0 < f < 1).
    source : str
        Where the text came from (recorded in metrics).

    Attributes
    ----------
    vocab : list of str
        V characters, sorted.
    ids : ndarray of int64, (len(text),)
    train_ids, val_ids : ndarray of int64
    """

    def __init__(self, text: str, *, val_fraction: float = 0.1, source: str = "text"):
        if not text:
            raise DataError("expected a non-empty text for the character corpus, found an empty string")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"expected 0 < val_fraction < 1, found {val_fraction!r}")
        self.text = text
        self.source = source
        self.vocab: list[str] = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}
        self.ids = self.encode(text)
        n_val = max(1, round(len(text) * val_fraction))
        self.train_ids = self.ids[:-n_val]
        self.val_ids = self.ids[-n_val:]
        self.val_fraction = float(val_fraction)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """Characters -> int64 ids (a character outside the vocabulary raises DataError)."""
        try:
            return np.fromiter((self.stoi[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise DataError(f"expected characters from the corpus vocabulary, found {exc.args[0]!r}") from None

    def decode(self, ids) -> str:
        """int ids -> string."""
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).reshape(-1))

    def check_windows(self, seq_len: int) -> None:
        """Raise DataError when either split is too short for one window of ``seq_len`` + 1."""
        need = seq_len + 1
        for name, ids in (("training", self.train_ids), ("validation", self.val_ids)):
            if len(ids) < need:
                total = int(np.ceil(need / min(self.val_fraction, 1 - self.val_fraction)))
                raise DataError(
                    f"expected at least {need} characters in the {name} split (about {total} in the "
                    f"whole text), found {len(ids)} of {len(self.ids)}"
                )

    def summary(self) -> dict:
        """Numbers describing the corpus, for metrics."""
        return {
            "source": self.source,
            "characters": len(self.ids),
            "vocab_size": self.vocab_size,
            "train_characters": len(self.train_ids),
            "val_characters": len(self.val_ids),
            "unigram_entropy_nats": unigram_entropy(self.train_ids, self.vocab_size),
        }


def unigram_entropy(ids: np.ndarray, vocab_size: int) -> float:
    """Entropy (nats) of the character frequencies: the loss of a model that ignores context."""
    counts = np.bincount(np.asarray(ids), minlength=vocab_size).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def random_windows(ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """B windows at random offsets: inputs ids[s:s+T] and targets ids[s+1:s+T+1].

    Returns x_ids, y_ids : int64 arrays of shape (B, T).
    """
    n_start = len(ids) - seq_len
    if n_start < 1:
        raise DataError(f"expected more than {seq_len} characters to cut windows, found {len(ids)}")
    starts = rng.integers(0, n_start, size=batch_size)
    idx = starts[:, None] + np.arange(seq_len + 1)[None, :]  # (B, T+1)
    window = ids[idx]
    return window[:, :-1], window[:, 1:]


def sequential_windows(ids: np.ndarray, seq_len: int, max_windows: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping consecutive windows covering ``ids`` (the tail shorter than T+1 is dropped).

    Returns x_ids, y_ids : int64 arrays of shape (W, T), W = min((len - 1) // T, max_windows).
    """
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise DataError(f"expected more than {seq_len} characters to cut windows, found {len(ids)}")
    if max_windows is not None:
        n = min(n, int(max_windows))
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return x, y


def one_hot(ids: np.ndarray, vocab_size: int, dtype=np.float64) -> np.ndarray:
    """Integer ids (...) -> one-hot vectors (..., V)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise DataError(f"expected ids in [0, {vocab_size}), found values in [{ids.min()}, {ids.max()}]")
    out = np.zeros(ids.shape + (vocab_size,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out
