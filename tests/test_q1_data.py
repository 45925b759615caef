"""Q1 data: sine waves and the character corpus (shapes, determinism, text sources, errors)."""

import numpy as np
import pytest

from rnnlab.data.toy import (
    CharCorpus,
    clean_text,
    load_text_source,
    make_sine_data,
    one_hot,
    parse_fortunes,
    python_english_text,
    random_windows,
    read_text_file,
    sequential_windows,
)
from rnnlab.errors import ConfigError, DataError


def test_sine_shapes_and_split():
    d = make_sine_data(10, 4, 25, noise=0.1, seed=3)
    assert d.x_train.shape == d.y_train.shape == (10, 25, 1)
    assert d.x_val.shape == d.y_val.shape == (4, 25, 1)
    assert d.periods_train.shape == (10,) and d.seq_len == 25
    assert np.all((d.periods_train >= 8) & (d.periods_train <= 40))
    # train and validation are different sequences
    assert not np.allclose(d.x_train[:4], d.x_val)


def test_sine_is_deterministic_under_seed():
    a, b = make_sine_data(6, 3, 12, seed=7), make_sine_data(6, 3, 12, seed=7)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_sine_data(6, 3, 12, seed=8)
    assert not np.allclose(a.x_train, c.x_train)


def test_sine_targets_are_the_next_clean_value():
    d = make_sine_data(5, 2, 30, noise=0.0, seed=1)
    np.testing.assert_allclose(d.y_train[:, :-1], d.x_train[:, 1:])  # no noise: y_t = x_{t+1}
    noisy = make_sine_data(5, 2, 30, noise=0.5, seed=1)
    np.testing.assert_allclose(noisy.y_train, d.y_train)  # targets stay clean
    assert np.std(noisy.x_train - d.x_train) == pytest.approx(0.5, rel=0.2)
    assert noisy.baseline_mse > d.baseline_mse


@pytest.mark.parametrize("kwargs", [{"n_train": 0}, {"seq_len": 0}, {"noise": -1.0},
                                    {"period_range": (1.0, 5.0)}])
def test_sine_bad_settings(kwargs):
    args = {"n_train": 4, "n_val": 2, "seq_len": 5} | kwargs
    with pytest.raises(ConfigError, match="expected"):
        make_sine_data(args.pop("n_train"), args.pop("n_val"), args.pop("seq_len"), **args)


def test_parse_and_clean_fortunes():
    content = "First line\n\tsecond\n%\nB_\x08o_\x08l_\x08d and tab\there  \n%\n\n%\nLast\n"
    entries = parse_fortunes(content)
    assert entries == ["First line\n\tsecond", "B_\x08o_\x08l_\x08d and tab\there  ", "Last"]
    assert clean_text(entries[1]) == "Bold and tab here"
    assert clean_text("a\r\nb\x07c") == "a\nbc"


def test_text_sources(tmp_path):
    fortunes = tmp_path / "fortunes"
    fortunes.mkdir()
    (fortunes / "wisdom").write_text("Know thyself.\n%\nLess is more.\n", encoding="utf-8")
    src = load_text_source(fortunes_root=fortunes)
    assert src.name == "fortunes" and "Know thyself." in src.text and "%" not in src.text
    empty = tmp_path / "none"
    empty.mkdir()
    fallback = load_text_source(fortunes_root=empty)
    assert fallback.name == "python-docs" and "Beautiful is better than ugly." in fallback.text
    f = tmp_path / "mine.txt"
    f.write_text("hello world, hello text\n", encoding="utf-8")
    assert load_text_source(f).name == "file"
    text, description = python_english_text()
    assert len(text) > 10_000 and "Zen of Python" in description


def test_text_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_text_file(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_text_source(tmp_path / "empty.txt")
    (tmp_path / "blank.txt").write_text("  \n\n")
    with pytest.raises(DataError, match="whitespace"):
        read_text_file(tmp_path / "blank.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        read_text_file(tmp_path / "latin1.txt")
    with pytest.raises(DataError, match="directory"):
        read_text_file(tmp_path)


def test_char_corpus_encoding_split_and_windows():
    text = "abcab" * 40  # 200 characters
    c = CharCorpus(text, val_fraction=0.1, source="test")
    assert c.vocab == ["a", "b", "c"] and c.vocab_size == 3
    assert c.decode(c.encode("cab")) == "cab"
    assert len(c.train_ids) == 180 and len(c.val_ids) == 20
    np.testing.assert_array_equal(np.concatenate([c.train_ids, c.val_ids]), c.ids)
    x, y = random_windows(c.train_ids, 4, 10, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 10)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets are inputs shifted by one
    x2, _ = random_windows(c.train_ids, 4, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)
    xs, _ys = sequential_windows(c.val_ids, 6)
    assert xs.shape == (3, 6)  # (20 - 1) // 6
    np.testing.assert_array_equal(xs.ravel(), c.val_ids[:18])
    oh = one_hot(x, 3)
    assert oh.shape == (4, 10, 3) and np.all(oh.sum(-1) == 1) and np.all(oh.argmax(-1) == x)
    p = np.array([0.4, 0.4, 0.2])
    assert c.summary()["unigram_entropy_nats"] == pytest.approx(-(p * np.log(p)).sum())
    with pytest.raises(DataError, match="characters"):
        c.check_windows(50)
    with pytest.raises(DataError, match="vocabulary"):
        c.encode("z")
    with pytest.raises(DataError, match="ids"):
        one_hot(np.array([3]), 3)
