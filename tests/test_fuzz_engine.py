"""Property-based tests of the NumPy engine's API: any input is a result or a one-line refusal.

Hypothesis generates inputs of every kind a caller might pass to a layer's ``forward`` and
``backward`` (wrong ranks and sizes, ragged lists, None, NaN, inf, values too large for float32,
integer arrays, empty batches, caches from other layers or of other shapes) and checks that the
engine either returns finite arrays of the documented shapes or raises a one-line rnnlab error,
never a raw NumPy/Python error and never a silently wrong result. Deterministic: derandomised,
bounded examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.errors import RnnlabError
from rnnlab.scratch import GRU, LSTM, RNN

FUZZ = settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
D, H = 3, 4
LAYERS = {"rnn": lambda **k: RNN(D, H, seed=0, **k), "lstm": lambda **k: LSTM(D, H, seed=0, **k),
          "gru": lambda **k: GRU(D, H, seed=0, **k), "gru-cho": lambda **k: GRU(D, H, seed=0, variant="cho", **k)}

SPECIAL = st.sampled_from([0.0, 1.0, -1.0, 1e40, -1e40, 1e300, float("nan"), float("inf"), 1e-320])


@st.composite
def inputs(draw):
    """Something a caller might pass as x: mostly arrays near the right shape, sometimes junk."""
    kind = draw(st.sampled_from(["good", "good", "shape", "special", "int", "junk"]))
    n, t = draw(st.integers(0, 3)), draw(st.integers(0, 4))
    if kind == "junk":
        return draw(st.sampled_from([None, "text", [[1, 2], [3]], [[[1.0, 2.0, 3.0]], [[1.0]]], object(), 3.5]))
    if kind == "shape":
        shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple))
        return np.zeros(shape)
    x = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=(n, t, D))
    if kind == "special":
        x.flat[: draw(st.integers(1, max(1, x.size)))] = draw(SPECIAL) if x.size else 0.0
    if kind == "int":
        x = x.astype(np.int64)
    return x


def one_line_refusal(exc: BaseException) -> None:
    assert isinstance(exc, RnnlabError), f"{type(exc).__name__}: {exc}"
    assert "\n" not in str(exc) and str(exc).startswith("expected"), str(exc)


@pytest.mark.parametrize("cell", sorted(LAYERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FUZZ
@given(x=inputs())
def test_forward_and_backward_give_finite_results_or_refuse(cell, dtype, x):
    layer = LAYERS[cell](dtype=dtype)
    try:
        hs, cache = layer.forward(x)
    except Exception as exc:  # noqa: BLE001 - the property: only rnnlab's one-line errors
        one_line_refusal(exc)
        return
    x_arr = np.asarray(x)
    assert hs.shape == (x_arr.shape[0], x_arr.shape[1], H) and hs.dtype == dtype
    assert np.all(np.isfinite(hs))
    try:
        dx, _ = layer.backward(np.ones_like(hs), cache)
    except Exception as exc:  # noqa: BLE001
        one_line_refusal(exc)
        return
    assert dx.shape == x_arr.shape and np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(g)) for g in layer.grads.values())


def cache_like(draw_kind: str, layer, other, x):
    if draw_kind == "foreign":
        return other.forward(x)[1]
    if draw_kind == "stale":
        cache = layer.forward(x)[1]
        for p in layer.params.values():
            p += 0.01  # an optimiser step after the forward
        return cache
    if draw_kind == "none":
        return None
    if draw_kind == "tuple":
        return tuple(layer.forward(x)[1])[:2]
    return "not a cache"


@pytest.mark.parametrize("cell", sorted(LAYERS))
@FUZZ
@given(kind=st.sampled_from(["foreign", "stale", "none", "tuple", "text"]), other_cell=st.sampled_from(sorted(LAYERS)))
def test_backward_refuses_caches_it_did_not_make(cell, kind, other_cell):
    layer, other = LAYERS[cell](), LAYERS[other_cell]()
    x = np.random.default_rng(0).normal(size=(2, 3, D))
    cache = cache_like(kind, layer, other, x)
    dhs = np.ones((2, 3, H))
    with pytest.raises(RnnlabError) as info:
        layer.backward(dhs, cache)
    one_line_refusal(info.value)


@pytest.mark.parametrize("cell", sorted(LAYERS))
@FUZZ
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple), value=SPECIAL)
def test_backward_refuses_upstream_gradients_of_the_wrong_shape_or_not_finite(cell, shape, value):
    layer = LAYERS[cell]()
    x = np.random.default_rng(1).normal(size=(2, 3, D))
    hs, cache = layer.forward(x)
    dhs = np.full(shape, value)
    try:
        dx, _ = layer.backward(dhs, cache)
    except Exception as exc:  # noqa: BLE001
        one_line_refusal(exc)
        return
    assert shape == hs.shape and np.isfinite(value) and np.all(np.isfinite(dx))
