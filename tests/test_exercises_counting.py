"""Parameter counting (exercise 2) against PyTorch's own count."""

import itertools

import pytest

from rnnlab.errors import ConfigError
from rnnlab.exercises.counting import (
    count_parameters,
    macs_per_step,
    torch_parameter_count,
    unshared_parameter_count,
)


def test_exercise_case_one_bias_is_24_and_torch_says_27():
    one = count_parameters("rnn", 4, 3, biases=1)
    assert one.total == 4 * 3 + 3 * 3 + 3 == 24
    assert (one.weight_ih, one.weight_hh, one.bias) == (12, 9, 3)
    assert count_parameters("rnn", 4, 3).total == 27 == torch_parameter_count("rnn", 4, 3)
    assert one.formula.endswith("= 24")


SIZES = [(1, 1), (4, 3), (7, 5), (16, 32), (50, 8)]


@pytest.mark.parametrize("cell,sizes,layers,bidirectional",
                         list(itertools.product(("rnn", "lstm", "gru"), SIZES, (1, 2, 3), (False, True))))
def test_counter_matches_torch(cell, sizes, layers, bidirectional):
    D, H = sizes
    ours = count_parameters(cell, D, H, num_layers=layers, bidirectional=bidirectional)
    assert ours.total == torch_parameter_count(cell, D, H, num_layers=layers, bidirectional=bidirectional)
    assert sum(ours.per_layer) == ours.total == ours.weight_ih + ours.weight_hh + ours.bias


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_bias_matches_torch_bias_false(cell):
    assert count_parameters(cell, 6, 4, num_layers=2, biases=0).total == torch_parameter_count(
        cell, 6, 4, num_layers=2, bias=False)


def test_one_bias_differs_from_two_by_one_vector_per_block():
    for cell, G in (("rnn", 1), ("gru", 3), ("lstm", 4)):
        diff = count_parameters(cell, 5, 7).total - count_parameters(cell, 5, 7, biases=1).total
        assert diff == G * 7


def test_length_does_not_change_the_count_but_sharing_matters():
    assert unshared_parameter_count("rnn", 4, 3, 10) == 240
    assert unshared_parameter_count("rnn", 4, 3, 1) == count_parameters("rnn", 4, 3, biases=1).total


def test_macs_per_step():
    assert macs_per_step("rnn", 4, 3) == 3 * 4 + 3 * 3
    assert macs_per_step("lstm", 4, 3) == 4 * (3 * 4 + 3 * 3)
    assert macs_per_step("lstm", 4, 3, bidirectional=True) == 2 * macs_per_step("lstm", 4, 3)
    # second layer of a bidirectional stack reads 2H inputs
    assert macs_per_step("gru", 4, 3, num_layers=2, bidirectional=True) == 2 * 3 * 3 * (4 + 3) + 2 * 3 * 3 * (6 + 3)


@pytest.mark.parametrize("kwargs,message", [
    ({"cell": "tcn", "input_size": 4, "hidden_size": 3}, "expected cell 'rnn', 'lstm' or 'gru', found 'tcn'"),
    ({"cell": "rnn", "input_size": 0, "hidden_size": 3}, "expected input_size to be a positive int, found 0"),
    ({"cell": "rnn", "input_size": 4, "hidden_size": 3, "biases": 3}, "expected biases to be 0, 1 or 2, found 3"),
])
def test_bad_input_is_one_clear_line(kwargs, message):
    with pytest.raises(ConfigError) as info:
        count_parameters(**kwargs)
    assert str(info.value) == message
