"""Labelled sentiment texts: the sentences shipped with rnnlab, or IMDb reviews.

The shipped set (``rnnlab/resources/sentiment/sentences.csv``, 260 English review sentences
with a fixed 208/52 split, tagged "negation" and "contrast"; see its README) and, when an
``aclImdb/`` folder is given, IMDb reviews read through :mod:`rnnlab.data.imdb`.

Finding files (:func:`shipped_sentences_path`, :func:`find_imdb_dir`) is kept apart from
parsing them (:func:`read_sentences_csv`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rnnlab.errors import DataError

LABELS = ("negative", "positive")  # class 0, class 1


@dataclass(frozen=True)
class SentimentExample:
    """One labelled text."""

    text: str
    label: int  # 0 negative, 1 positive
    tags: tuple[str, ...] = ()  # "negation", "contrast" (shipped set only)
    domain: str = ""


@dataclass(frozen=True)
class SentimentData:
    """A train/test split and where it came from."""

    train: list[SentimentExample]
    test: list[SentimentExample]
    source: str  # where the texts came from, for sentences and captions
    description: str


def shipped_sentences_path() -> Path:
    """The CSV of labelled sentences that ships with the package."""
    path = Path(str(resources.files("rnnlab") / "resources" / "sentiment" / "sentences.csv"))
    if not path.is_file():
        raise DataError(f"expected the shipped sentiment sentences at {path}, found none (broken install?)")
    return path


def _example(row: dict, line: int, path: Path) -> SentimentExample:
    if row["label"] not in LABELS:
        raise DataError(f"expected label 'positive' or 'negative' on line {line} of {path}, found {row['label']!r}")
    if row["split"] not in ("train", "test"):
        raise DataError(f"expected split 'train' or 'test' on line {line} of {path}, found {row['split']!r}")
    if not row["text"].strip():
        raise DataError(f"expected a sentence on line {line} of {path}, found an empty text")
    return SentimentExample(
        text=row["text"].strip(), label=LABELS.index(row["label"]),
        tags=tuple((row.get("tags") or "").split()), domain=row.get("domain") or "",
    )


def read_sentences_csv(path: str | Path) -> tuple[list[SentimentExample], list[SentimentExample]]:
    """Parse the shipped CSV format (columns id,label,split,domain,tags,text) into train/test.

    Raises
    ------
    DataError
        Missing columns, an unknown label or split, or an empty text.
    """
    path = Path(path)
    train, test = [], []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        needed = {"label", "split", "text"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise DataError(f"expected columns {sorted(needed)} in {path}, found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            (train if row["split"] == "train" else test).append(_example(row, line, path))
    return train, test


def shipped_description(train_size: int, test_size: int) -> str:
    """How the shipped sentences are described in the report."""
    return (f"{train_size} training and {test_size} held-out English review sentences "
            "written for rnnlab (balanced, fixed split)")


def imdb_description(train_size: int, test_size: int, root: str | Path) -> str:
    """How an IMDb subset is described in the report."""
    return f"{train_size} training and {test_size} test IMDb reviews from {root}"


SHIPPED_SOURCE = "the review sentences shipped with rnnlab"
IMDB_SOURCE = "IMDb (aclImdb)"


def load_shipped_sentences() -> SentimentData:
    """The 260 hand-written sentences with their fixed split."""
    train, test = read_sentences_csv(shipped_sentences_path())
    return SentimentData(train, test, SHIPPED_SOURCE, shipped_description(len(train), len(test)))


def find_imdb_dir(imdb_dir: str | Path) -> Path:
    """The ``aclImdb`` folder at ``imdb_dir`` (or ``imdb_dir/aclImdb``), its layout checked.

    Raises
    ------
    DataError
        When ``train/pos``, ``train/neg``, ``test/pos`` or ``test/neg`` is missing or empty.
    """
    from rnnlab.data.imdb import find_aclimdb

    return find_aclimdb(imdb_dir)


def load_imdb(imdb_dir: str | Path, max_per_split: int | None) -> SentimentData:
    """IMDb reviews through :func:`rnnlab.data.imdb.read_reviews`, balanced.

    ``max_per_split`` reviews per split (half of each label: the first files in sorted name
    order, the same subset in every run), or all 25,000 when None.
    """
    from rnnlab.data.imdb import read_reviews

    root = find_imdb_dir(imdb_dir)
    per_label = None if max_per_split is None else max(1, max_per_split // 2)
    splits = {}
    for split in ("train", "test"):
        reviews = read_reviews(root, split, per_label)
        splits[split] = [SentimentExample(text, int(label)) for text, label in zip(reviews.texts, reviews.labels)]
    return SentimentData(splits["train"], splits["test"], IMDB_SOURCE,
                         imdb_description(len(splits["train"]), len(splits["test"]), root))
