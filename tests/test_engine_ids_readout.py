"""Token ids as a recurrent layer's input (one-hot rows without the one-hot product), and the
float32 readout and loss on two threads: the same numbers as the plain paths, bitwise the same
with one thread or two, and clear errors for bad ids or non-finite logits."""

import numpy as np
import pytest

from rnnlab.data.toy import CharCorpus
from rnnlab.errors import DataError, ShapeError
from rnnlab.scratch import Dense, make_layer, softmax_cross_entropy
from rnnlab.scratch import functional as F
from rnnlab.scratch import kernels as K
from rnnlab.scratch import reference as R
from rnnlab.threads import limit_engine_threads
from rnnlab.train.scratch_loop import TextTask

CELLS = ["rnn", "lstm", "gru", "gru-cho"]
FORWARD = {"rnn": K.rnn_forward, "lstm": K.lstm_forward, "gru": K.gru_forward}
BACKWARD = {"rnn": K.rnn_backward, "lstm": K.lstm_backward, "gru": K.gru_backward}


def _run(layer, x, dhs, truncate):
    """hs, dx, dstate0 and the gradients of one forward and backward pass (copies)."""
    hs, cache = layer.forward(x)
    dx, dstate0 = layer.backward(dhs, cache, truncate=truncate)
    return np.array(hs), dx, dstate0, {k: v.copy() for k, v in layer.grads.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N,T,D,H,truncate", [(3, 5, 7, 4, None), (17, 6, 9, 16, 2), (32, 20, 40, 24, 7)])
def test_ids_give_the_one_hot_numbers(cell, dtype, N, T, D, H, truncate, monkeypatch):
    """A layer given ids (N, T) returns bitwise the hidden states and the initial-state gradient
    of the same layer given np.eye(D)[ids]; its weight gradients match (bitwise but for W_ih in
    float32, whose sum runs in another order: to 1e-6 of its largest entry); dx is None."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)  # two blocks where the shapes allow
    rng = np.random.default_rng(N + T)
    layer = make_layer(cell, D, H, seed=1, dtype=dtype)
    ids = rng.integers(0, D, size=(N, T))
    dhs = rng.standard_normal((N, T, H)).astype(dtype)
    hs_i, dx_i, ds_i, g_i = _run(layer, ids, dhs, truncate)
    hs_x, dx_x, ds_x, g_x = _run(layer, np.eye(D, dtype=dtype)[ids], dhs, truncate)
    assert dx_i is None and dx_x.shape == (N, T, D)
    assert np.array_equal(hs_i, hs_x)
    for a, b in zip(np.atleast_1d(ds_i) if cell != "lstm" else ds_i, np.atleast_1d(ds_x) if cell != "lstm" else ds_x):
        assert np.array_equal(a, b)
    for name in g_x:
        if name == R.W_IH and dtype == "float32":
            assert np.max(np.abs(g_i[name] - g_x[name])) <= 1e-6 * np.max(np.abs(g_x[name])), name
        else:
            assert np.array_equal(g_i[name], g_x[name]), name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("forced", [False, True])
def test_compiled_loops_with_ids_equal_reference_in_float64(cell, forced, monkeypatch):
    """The compiled loops called directly in float64 with ids give the reference path's numbers
    on the one-hot rows to 1e-10 (dW_ih by the scatter of columns), in one block or two."""
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    T, N, D, H = 6, 17, 5, 4
    rng = np.random.default_rng(3)
    layer = make_layer(cell, D, H, seed=2, dtype="float64")
    ids = rng.integers(0, D, size=(T, N))
    x = np.eye(D)[ids]
    dhs = rng.standard_normal((T, N, H))
    state0 = (np.zeros((N, H)), np.zeros((N, H))) if cell == "lstm" else np.zeros((N, H))
    hs, cache = FORWARD[cell](layer.params, ids, state0)
    fast = BACKWARD[cell](layer.params, dhs, cache, None, 3)
    ref_forward = {"rnn": R.rnn_forward, "lstm": R.lstm_forward, "gru": R.gru_forward}[cell]
    ref_backward = {"rnn": R.rnn_backward, "lstm": R.lstm_backward, "gru": R.gru_backward}[cell]
    ref_hs, ref_cache = ref_forward(layer.params, x, state0)
    ref = ref_backward(layer.params, dhs, ref_cache, None, 3)
    assert fast.dx is None
    assert np.max(np.abs(hs - ref_hs)) < 1e-10
    for name in ref.grads:
        assert np.max(np.abs(fast.grads[name] - ref.grads[name])) < 1e-10, name


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_ids_one_thread_or_two_bitwise(cell, monkeypatch):
    """With the work cut in two, the engine on one thread or two gives bitwise the same numbers
    for ids (the gather and the scatter are split by shape, not by threads)."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 11, size=(20, 9))
    dhs = rng.standard_normal((20, 9, 8)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        with limit_engine_threads(threads):
            runs.append(_run(make_layer(cell, 11, 8, seed=4, dtype="float32"), ids, dhs, 4))
    (hs1, _, _, g1), (hs2, _, _, g2) = runs
    assert np.array_equal(hs1, hs2)
    for name in g1:
        assert np.array_equal(g1[name], g2[name]), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad,message", [
    (np.array([[0, 1, 7]]), "expected ids in [0, 7) for x (one-hot rows of width 7), found 7"),
    (np.array([[0, -1, 2]]), "expected ids in [0, 7) for x (one-hot rows of width 7), found -1"),
])
def test_out_of_range_ids_are_refused(dtype, bad, message):
    """An id outside [0, D) is a one-line DataError naming the range and the value, from the
    layer and from the functional entry point alike (never an out-of-bounds read)."""
    layer = make_layer("lstm", 7, 3, seed=0, dtype=dtype)
    with pytest.raises(DataError) as err:
        layer.forward(bad)
    assert str(err.value) == message
    state0 = (np.zeros((1, 3), dtype), np.zeros((1, 3), dtype))
    with pytest.raises(DataError, match=r"expected ids in \[0, 7\)"):
        F.lstm_forward(layer.params, bad.T.copy(), state0)
    with pytest.raises(DataError, match=r"expected ids in \[0, 7\)"):  # the compiled loops called directly
        K.lstm_forward(layer.params, bad.T.copy(), state0)


def test_ids_of_the_wrong_shape_are_refused():
    """ids must be (N, T) for a layer and (T, N) for the functional path; a 2-D float array is
    still refused with the shapes the layer accepts."""
    layer = make_layer("gru", 5, 3, seed=0, dtype="float32")
    with pytest.raises(ShapeError, match="or integer ids"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="at least one"):
        layer.forward(np.zeros((0, 4), dtype=int))
    with pytest.raises(ShapeError, match=r"expected integer ids of shape \(T, N\)"):
        F.gru_forward(layer.params, np.zeros((2, 3, 1), dtype=int), np.zeros((3, 3), np.float32))


def test_text_task_gives_ids_and_their_one_hot_rows():
    """The text task's batches and validation windows are ids (B, T); features() gives the
    one-hot rows that the layer reads them as."""
    corpus = CharCorpus("the quick brown fox jumps over the lazy dog " * 20, val_fraction=0.2)
    task = TextTask(corpus, 12, max_val_windows=3)
    x, y = task.batch(np.random.default_rng(0), 4)
    assert x.shape == y.shape == (4, 12) and x.dtype.kind == "i"
    rows = task.features(x, np.float64)
    assert rows.shape == (4, 12, corpus.vocab_size)
    assert np.array_equal(rows.argmax(axis=2), x) and np.all(rows.sum(axis=2) == 1)
    assert task.validation()[0].shape == (3, 12)


# --------------------------------------------------------------------------------------------
# The float32 readout and loss
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,out", [((32, 100, 64), 50), ((3, 5, 8), 1), ((40, 7, 16), 9)])
def test_dense_float32_matches_float64_and_threads(shape, out, monkeypatch):
    """Dense in float32 (the rows cut in two) agrees with the float64 Dense on the same values
    to float32 precision, for y, dx and both gradients; one thread or two are bitwise equal."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape[:-1] + (out,)).astype(np.float32)
    results = []
    for dtype, threads in (("float32", 1), ("float32", 2), ("float64", 1)):
        layer = Dense(shape[-1], out, seed=3, dtype=dtype)
        layer.params = {k: v.astype(np.float32).astype(dtype) for k, v in layer.params.items()}
        with limit_engine_threads(threads):
            y, cache = layer.forward(x[:, ::-1] if dtype == "float32" else x[:, ::-1].astype(dtype))
            dx = layer.backward(dy, cache)
        results.append((y, dx, layer.grads["weight"], layer.grads["bias"]))
    for a, b in zip(results[0], results[1]):
        assert np.array_equal(a, b)
    for a, b in zip(results[0], results[2]):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.max(np.abs(b)))


@pytest.mark.parametrize("shape", [(32, 100, 92), (4, 3, 5), (7, 2)])
def test_softmax_cross_entropy_float32_matches_float64(shape, monkeypatch):
    """The float32 loss (rows on two threads) gives float64's loss to 1e-6 relative and its
    gradient to float32 precision; one thread or two are bitwise equal."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    rng = np.random.default_rng(2)
    logits = (3 * rng.standard_normal(shape)).astype(np.float32)
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    loss64, d64 = softmax_cross_entropy(logits.astype(np.float64), targets)
    runs = []
    for threads in (1, 2):
        with limit_engine_threads(threads):
            runs.append(softmax_cross_entropy(logits, targets))
    (l1, d1), (l2, d2) = runs
    assert l1 == l2 and np.array_equal(d1, d2) and d1.dtype == np.float32 and d1.shape == shape
    assert abs(l1 - loss64) <= 1e-6 * loss64
    np.testing.assert_allclose(d1, d64, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_softmax_cross_entropy_float32_refuses_non_finite(bad, monkeypatch):
    """NaN, inf and -inf logits (even where they are not the row's largest) are a one-line
    ShapeError counting them, as on the float64 path."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    logits = np.zeros((40, 6), dtype=np.float32)
    logits[33, 2] = bad
    targets = np.zeros(40, dtype=int)
    for z in (logits, logits.astype(np.float64)):
        with pytest.raises(ShapeError, match="expected finite values in logits, found 1 NaN or inf entries"):
            softmax_cross_entropy(z, targets)


def test_adam_float32_one_pass_is_bitwise_the_numpy_lines(monkeypatch):
    """Adam's compiled float32 update gives bitwise the parameters and moments of its NumPy
    lines over 30 steps with gradients from 1e-8 to 1e2 (the same float32 operations in order)."""
    from rnnlab.scratch import optim

    def train(one_pass):
        monkeypatch.setattr(optim, "_one_pass", one_pass)
        layers = [make_layer("lstm", 20, 16, seed=1, dtype="float32"), Dense(16, 5, seed=2, dtype="float32")]
        opt = optim.Adam(layers, lr=3e-3)
        rng = np.random.default_rng(1)
        for _ in range(30):
            for layer in layers:
                for k, p in layer.params.items():
                    layer.grads[k] = (rng.standard_normal(p.shape) * 10 ** rng.uniform(-8, 2)).astype(np.float32)
            opt.step()
        return [a.copy() for layer in layers for a in layer.params.values()] + [a.copy() for a in opt.m + opt.v]

    compiled = train(optim._one_pass)
    numpy_lines = train(lambda *arrays: False)
    assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(compiled, numpy_lines))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_refuses_no_items(dtype):
    """Logits with no items are a one-line ShapeError on both paths (the mean of nothing is no
    loss: before, float64 returned NaN with a warning)."""
    with pytest.raises(ShapeError, match=r"expected at least one item in logits, found shape \(0, 5\)"):
        softmax_cross_entropy(np.zeros((0, 5), dtype=dtype), np.zeros(0, dtype=int))
