"""Architectures (1), increasing/decreasing (5) and the comparison (7)."""

import numpy as np
import pytest

from rnnlab.errors import ConfigError
from rnnlab.exercises.architectures import demonstrate_architectures
from rnnlab.exercises.comparison import compare_models, input_gradient_profile
from rnnlab.exercises.monotonic import make_monotonic_data, train_monotonic


def test_architectures_produce_their_shapes():
    rows = {r.architecture: r for r in demonstrate_architectures(batch=2)}
    assert rows["one-to-one"].output_shape == (2, 2)
    assert rows["one-to-many"].input_shape == (2,) and len(rows["one-to-many"].output_shape) == 3
    assert rows["many-to-one"].input_shape == (2, 7) and rows["many-to-one"].output_shape == (2, 2)
    aligned = rows["many-to-many (aligned)"]
    assert aligned.output_shape[:2] == aligned.input_shape
    ed = rows["encoder-decoder (many-to-many)"]
    assert ed.output_shape[1] != ed.input_shape[1]  # another length
    assert {r.task for r in rows.values()} >= {"sentiment analysis", "music generation",
                                               "named-entity tagging", "machine translation"}


def test_monotonic_data_is_sorted_and_balanced():
    x, y = make_monotonic_data(100, 5, np.random.default_rng(0))
    assert x.shape == (100, 5, 1) and y.sum() == 50
    d = np.diff(x[..., 0], axis=1)
    assert (d[y == 1] >= 0).all() and (d[y == 0] <= 0).all()
    assert x.min() >= 0 and x.max() < 1
    with pytest.raises(ConfigError):
        make_monotonic_data(10, 1, np.random.default_rng(0))


def test_monotonic_classifier_seeded_run():
    kw = {"train_size": 600, "test_size": 300, "eval_lengths": (4, 8), "hidden_size": 8, "epochs": 8, "seed": 0}
    first = train_monotonic(**kw)
    second = train_monotonic(**kw)
    assert first.accuracy_by_length == second.accuracy_by_length  # deterministic under a seed
    # measured 0.99+ for this seed; a sensible lower bound, not the tuned value
    assert first.test_accuracy >= 0.9
    assert first.train_accuracy >= 0.9
    assert set(first.accuracy_by_length) == {4, 8}


def test_bilstm_gradient_is_weakest_in_the_middle():
    prof = input_gradient_profile("BiLSTM", 3, 6, 21, batch=2, seed=0)
    assert prof.shape == (21,)
    assert 3 < int(np.argmin(prof)) < 17
    uni = input_gradient_profile("RNN", 3, 6, 21, batch=2, seed=0)
    assert int(np.argmin(uni)) < 3 and uni[-1] > uni[0]


def test_compare_models_small():
    r = compare_models(input_size=3, hidden_size=4, lengths=(4, 8), seeds=(0,), batch=2, timing_steps=4,
                       timing_batch=2, timing_repeats=1)
    rows = {row.model: row for row in r.rows}
    assert [*rows] == ["RNN", "LSTM", "GRU", "BiLSTM"]
    for row in r.rows:
        assert row.parameters == row.parameters_torch
        assert row.time_per_step_us > 0
        assert 0 < row.reach[8] <= 1
    assert rows["BiLSTM"].parameters == 2 * rows["LSTM"].parameters
    assert rows["LSTM"].macs_per_step == 4 * rows["RNN"].macs_per_step
    assert set(r.forget_bias_reach) == {4, 8}
