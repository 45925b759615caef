"""A layer's cache is bound to the layer and the parameters that made it; bad inputs get one-line
errors, never a raw NumPy or Python one."""

import numpy as np
import pytest

from rnnlab.errors import ConfigError, DataError, RnnlabError, ShapeError
from rnnlab.scratch import GRU, LSTM, RNN, SGD, Adam, Stack, make_layer


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message.startswith("expected "), message
    return message


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru-cho"])
def test_a_cache_from_another_layer_of_the_same_shape_is_refused(cell):
    a = make_layer(cell, 3, 4, seed=0)
    b = make_layer(cell, 3, 4, seed=0)  # same shape, even the same weights
    x = np.zeros((2, 5, 3))
    hs, cache = a.forward(x)
    with pytest.raises(ConfigError, match="expected a cache made by this .* layer's forward, found one made by another layer") as exc:
        b.backward(np.ones_like(hs), cache)
    _one_line(exc)
    a.backward(np.ones_like(hs), cache)  # its own layer takes it


def test_a_cache_from_another_cell_type_is_refused():
    _, cache = GRU(3, 4).forward(np.zeros((2, 5, 3)))
    with pytest.raises(ConfigError, match=r"found one made by another layer, GRU\(input_size=3") as exc:
        LSTM(3, 4).backward(np.zeros((2, 5, 4)), cache)
    _one_line(exc)


@pytest.mark.parametrize("optimiser", [SGD, Adam])
def test_a_cache_made_before_an_optimiser_step_is_stale(optimiser):
    layer = LSTM(3, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    hs, cache = layer.forward(x)
    layer.backward(np.ones_like(hs), cache)
    optimiser([layer], lr=0.1).step()  # updates the parameters in place
    with pytest.raises(ConfigError, match="expected a cache made by this layer's last forward with its current parameters, found one made before they changed") as exc:
        layer.backward(np.ones_like(hs), cache)
    _one_line(exc)
    hs, cache = layer.forward(x)  # a fresh forward is fine again
    layer.backward(np.ones_like(hs), cache)


def test_a_cache_made_before_load_params_or_a_hand_edit_is_stale():
    layer = RNN(3, 4, seed=0)
    hs, cache = layer.forward(np.zeros((1, 2, 3)))
    layer.load_params({k: v + 1.0 for k, v in layer.params.items()})
    with pytest.raises(ConfigError, match="before they changed"):
        layer.backward(np.ones_like(hs), cache)
    hs, cache = layer.forward(np.zeros((1, 2, 3)))
    layer.params["weight_hh_l0"][0, 0] += 1e-3  # edited in place by hand
    with pytest.raises(ConfigError, match="before they changed"):
        layer.backward(np.ones_like(hs), cache)


def test_several_forwards_in_flight_with_unchanged_parameters_are_fine():
    layer = GRU(3, 4, seed=0)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 3))
    hs1, c1 = layer.forward(x1)
    hs2, c2 = layer.forward(x2)
    layer.backward(np.ones_like(hs2), c2)
    dx1, _ = layer.backward(np.ones_like(hs1), c1)  # the older cache still matches the parameters
    again, _ = layer.backward(np.ones_like(hs1), layer.forward(x1)[1])
    np.testing.assert_array_equal(dx1, again)


def test_nan_parameters_do_not_look_stale():
    layer = RNN(2, 3, seed=0)
    layer.params["bias_ih_l0"][0] = np.nan
    hs, cache = layer.forward(np.zeros((1, 2, 2)))
    with np.errstate(invalid="ignore"):
        layer.backward(np.ones_like(hs), cache)  # a fingerprint of bits, not of values: NaN == NaN


@pytest.mark.parametrize("bad,found", [
    (None, "found None"),
    ((1, 2, 3), "found a tuple"),
    ([[1.0, 2.0], [3.0]], "found a list"),
    (np.zeros((2, 3)), r"found an array of shape \(2, 3\)"),
])
def test_something_that_is_not_a_cache(bad, found):
    layer = LSTM(3, 4)
    with pytest.raises(ConfigError, match=f"expected the cache returned by this LSTM layer's forward, {found}") as exc:
        layer.backward(np.zeros((2, 5, 4)), bad)
    _one_line(exc)


def test_a_hand_built_cache_is_refused():
    layer = RNN(3, 4)
    _, cache = layer.forward(np.zeros((2, 5, 3)))
    forged = cache._replace(owner=None, made_by="")
    with pytest.raises(ConfigError, match="found one made by something other than a layer's forward"):
        layer.backward(np.zeros((2, 5, 4)), forged)


def test_upstream_gradient_of_the_wrong_size_for_the_cache():
    layer = RNN(3, 4)
    _, cache = layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"expected dhs of shape \(2, 5, 4\), found \(3, 5, 4\)") as exc:
        layer.backward(np.zeros((3, 5, 4)), cache)
    _one_line(exc)


@pytest.mark.parametrize("value,name", [([[[1.0, 2.0, 3.0]], [[1.0]]], "x"), (None, "x"), ([[["a", 1.0, 2.0]]], "x")])
def test_ragged_none_or_mixed_inputs(value, name):
    with pytest.raises(ShapeError) as exc:
        RNN(3, 4).forward(value)
    assert name in _one_line(exc)


def test_ragged_or_missing_upstream_gradient():
    layer = GRU(3, 4)
    _, cache = layer.forward(np.zeros((1, 2, 3)))
    with pytest.raises(ShapeError, match="expected a rectangular numeric array for dhs, found a ragged or mixed list") as exc:
        layer.backward([[[0.0] * 4, [0.0] * 3]], cache)
    _one_line(exc)
    with pytest.raises(ShapeError, match="expected an array for dhs, found None"):
        layer.backward(None, cache)
    with pytest.raises(ShapeError, match="ragged or mixed list"):
        LSTM(3, 4).forward(np.zeros((1, 2, 3)), [np.zeros((1, 4)), [[0.0] * 4, [0.0] * 3]])


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_float32_input_beyond_float32_range_is_out_of_range_not_nan(cls):
    x = np.zeros((1, 2, 3))
    x[0, 1, 2] = 1e40  # finite in float64, inf once cast to float32
    with pytest.raises(DataError, match=r"expected x within the range of float32 \(\|value\| <= 3.4e\+38\), found 1e\+40") as exc:
        cls(3, 4, dtype=np.float32).forward(x)
    _one_line(exc)
    assert "NaN" not in str(exc.value)
    cls(3, 4, dtype=np.float64).forward(x)  # fine in float64


def test_initial_state_beyond_float32_range():
    h0 = np.full((1, 4), -1e39)
    with pytest.raises(DataError, match="expected h0 within the range of float32"):
        RNN(3, 4, dtype=np.float32).forward(np.zeros((1, 2, 3)), h0)


def test_stack_checks_its_cache():
    stack = Stack([RNN(3, 4), RNN(4, 4)])
    hs, cache = stack.forward(np.zeros((1, 2, 3)))
    with pytest.raises(ConfigError, match=r"expected the cache returned by this Stack's forward \(2 layers\), found None"):
        stack.backward(np.zeros_like(hs), None)
    short = cache._replace(caches=cache.caches[:1])
    with pytest.raises(ConfigError, match="found one for 1 layers"):
        stack.backward(np.zeros_like(hs), short)
    other = Stack([RNN(3, 4), RNN(4, 4)])
    with pytest.raises(RnnlabError, match="another layer"):
        other.backward(np.zeros_like(hs), cache)
