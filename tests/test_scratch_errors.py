"""Bad input gets a clear error naming what was expected and what was found."""

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError, RnnlabError, ShapeError
from rnnlab.scratch import GRU, LSTM, RNN, Dense, make_layer, mse, softmax_cross_entropy


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_wrong_number_of_dimensions(cls):
    with pytest.raises(ShapeError, match=r"3 dimensions.*found shape \(5, 3\)"):
        cls(3, 4).forward(np.zeros((5, 3)))


def test_wrong_feature_size():
    with pytest.raises(ShapeError, match=r"expected input x with 3 features.*found shape \(2, 4, 5\)"):
        LSTM(3, 4).forward(np.zeros((2, 4, 5)))


def test_zero_length_sequence():
    with pytest.raises(ShapeError, match="at least one time step"):
        GRU(3, 4).forward(np.zeros((2, 0, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_input(bad):
    x = np.zeros((2, 3, 3))
    x[1, 2, 0] = bad
    with pytest.raises(ShapeError, match="expected finite values in x, found 1 NaN or inf"):
        RNN(3, 4).forward(x)


def test_initial_state_shape_is_not_broadcast():
    with pytest.raises(ShapeError, match=r"expected h0 with 2 dimensions \(2, 4\), found shape \(4,\)"):
        RNN(3, 4).forward(np.zeros((2, 3, 3)), np.zeros(4))
    with pytest.raises(ShapeError, match="pair"):
        LSTM(3, 4).forward(np.zeros((2, 3, 3)), np.zeros((2, 4)))


def test_upstream_gradient_shape():
    layer = GRU(3, 4)
    hs, cache = layer.forward(np.zeros((2, 3, 3)))
    with pytest.raises(ShapeError, match=r"expected dhs with 3 dimensions \(2, 3, 4\), found shape \(2, 3\)"):
        layer.backward(np.zeros((2, 3)), cache)


def test_unknown_names():
    with pytest.raises(ConfigError, match="expected cell 'rnn', 'lstm', 'gru' or 'gru-cho', found 'elman'"):
        make_layer("elman", 3, 4)
    with pytest.raises(ConfigError, match="expected GRU variant 'torch' or 'cho', found 'keras'"):
        GRU(3, 4, variant="keras")
    with pytest.raises(ConfigError, match="float32 or float64"):
        RNN(3, 4, dtype=np.float16)
    with pytest.raises(ConfigError, match="positive int"):
        RNN(0, 4)
    with pytest.raises(ConfigError, match="truncate"):
        layer = RNN(2, 2)
        layer.backward(np.zeros((1, 2, 2)), layer.forward(np.zeros((1, 2, 2)))[1], truncate=0)


def test_torch_modules_that_are_not_supported():
    with pytest.raises(ConfigError, match="single-layer.*found num_layers=2"):
        LSTM.from_torch(torch.nn.LSTM(3, 4, num_layers=2))
    with pytest.raises(ConfigError, match="unidirectional.*bidirectional=True"):
        GRU.from_torch(torch.nn.GRU(3, 4, bidirectional=True))
    with pytest.raises(ConfigError, match="expected a torch.nn.GRU, found LSTM"):
        GRU.from_torch(torch.nn.LSTM(3, 4))
    with pytest.raises(ConfigError, match="bias=False"):
        RNN.from_torch(torch.nn.RNN(3, 4, bias=False))
    with pytest.raises(ConfigError, match="proj_size"):
        LSTM.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ConfigError, match="variant 'torch'"):
        GRU(3, 4, variant="cho").to_torch()


def test_loss_and_dense_shapes():
    with pytest.raises(ShapeError, match=r"targets of shape \(4,\)"):
        softmax_cross_entropy(np.zeros((4, 3)), np.zeros((4, 1), dtype=int))
    with pytest.raises(ShapeError, match=r"class targets in \[0, 3\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ShapeError, match="same as the prediction"):
        mse(np.zeros((2, 3)), np.zeros((3,)))
    with pytest.raises(ShapeError, match="last dimension 4"):
        Dense(4, 2).forward(np.zeros((3, 5)))


def test_errors_are_rnnlab_errors():
    assert issubclass(ShapeError, RnnlabError) and issubclass(ConfigError, RnnlabError)
