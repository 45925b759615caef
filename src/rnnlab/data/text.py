"""Text to tokens to ids: the one tokenizer and the one vocabulary builder of rnnlab.

Q2's IMDb classifier, Q3's question encoders and the exercises' sentiment classifier all read
text through :func:`tokenize` and build their word lists with :func:`build_vocab`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rnnlab.errors import ConfigError, DataError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

# Lower-case text split into words and punctuation, GloVe-style: "isn't" -> "is", "n't";
# "man's" -> "man", "'s"; "region-based" -> "region", "-", "based"; "?" is its own token.
_TOKEN_RE = re.compile(r"[a-z0-9]+(?=n't)|n't|'[a-z]+|[a-z0-9]+(?:\.[0-9]+)?|[^\sa-z0-9]")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]")


def tokenize(text: str, *, words_only: bool = False) -> list[str]:
    """Lower-case ``text`` and split it into tokens the way GloVe 6B was built.

    HTML line breaks (``<br />``, as in IMDb reviews) become spaces. Punctuation marks (``?``,
    ``,``, ``-``...) are tokens of their own, so a question keeps its final ``?``; English
    clitics are split as in GloVe's vocabulary (``isn't`` -> ``is``, ``n't``; ``cat's`` ->
    ``cat``, ``'s``); decimal numbers stay whole.

    Parameters
    ----------
    text : str
    words_only : bool
        Drop the tokens that hold no letter or digit (punctuation), e.g. for a sentiment model
        that reads words.

    Examples
    --------
    >>> tokenize("What color is the cat's nose?")
    ['what', 'color', 'is', 'the', 'cat', "'s", 'nose', '?']
    >>> tokenize("Didn't like it.<br />At all!", words_only=True)
    ['did', "n't", 'like', 'it', 'at', 'all']
    """
    if not isinstance(text, str):
        raise DataError(f"expected text (str) to tokenise, found {type(text).__name__}")
    text = _HTML_BREAK.sub(" ", text).lower().replace("\u2019", "'")
    tokens = _TOKEN_RE.findall(text)
    return [t for t in tokens if _WORD.search(t)] if words_only else tokens


@dataclass(frozen=True)
class Vocab:
    """Token <-> id maps; id 0 is padding (``<pad>``), id 1 unknown words (``<unk>``)."""

    itos: list[str]
    stoi: dict[str, int]

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The id of each token (``UNK_ID`` for words outside the vocabulary)."""
        return [self.stoi.get(t, UNK_ID) for t in tokens]


def build_vocab(
    token_lists: Iterable[Sequence[str]],
    max_size: int | None = None,
    min_count: int = 1,
    *,
    ties: str = "alphabetical",
    extra_words: Iterable[str] = (),
) -> Vocab:
    """A vocabulary of the most frequent training tokens, ``<pad>`` and ``<unk>`` first.

    Build it from training texts only (labels are never used).

    Parameters
    ----------
    token_lists : iterable of token sequences
        The training texts, tokenised.
    max_size : int, optional
        At most this many entries, ``<pad>`` and ``<unk>`` included (None: no cap).
    min_count : int
        Tokens seen fewer times are left out (they become ``<unk>``).
    ties : {"alphabetical", "first_seen"}
        How tokens of equal count are ordered: alphabetically (the result does not depend on
        the order of the texts) or in the order they first appear.
    extra_words : iterable of str
        Words added after the frequent ones, sorted, when not already in (e.g. test words that
        have a pretrained vector).

    Raises
    ------
    ConfigError
        For ``max_size`` below 3, ``min_count`` below 1 or an unknown ``ties``.
    """
    if max_size is not None and max_size < 3:
        raise ConfigError(f"expected a vocabulary size of at least 3, found {max_size}")
    if min_count < 1:
        raise ConfigError(f"expected a minimum count of at least 1, found {min_count}")
    counts = Counter(tok for tokens in token_lists for tok in tokens)
    if ties == "alphabetical":
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
    elif ties == "first_seen":
        ranked = [w for w, _ in counts.most_common()]  # stable: equal counts keep first-seen order
    else:
        raise ConfigError(f"expected ties 'alphabetical' or 'first_seen', found {ties!r}")
    words = [w for w in ranked if counts[w] >= min_count and w not in (PAD, UNK)]
    if max_size is not None:
        words = words[: max_size - 2]
    seen = set(words)
    words += sorted({w for w in extra_words if w not in seen and w not in (PAD, UNK)})
    itos = [PAD, UNK, *words]
    return Vocab(itos, {w: i for i, w in enumerate(itos)})
