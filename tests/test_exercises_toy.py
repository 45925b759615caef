"""The many-to-one NumPy toy classifier (exercise 4)."""

import numpy as np
import pytest

from rnnlab.exercises.toy_classifier import (
    TOY_X,
    TOY_Y,
    ManyToOneRNN,
    format_predictions,
    train_toy_classifier,
)
from rnnlab.scratch import softmax_cross_entropy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_100_percent(seed):
    _, r = train_toy_classifier(seed=seed)
    assert r.accuracy_after == 1.0
    assert (r.pred_after == TOY_Y).all()
    assert r.first_epoch_all_correct is not None
    assert r.losses[-1] < r.losses[0]
    np.testing.assert_allclose(r.probs_after.sum(axis=1), 1.0)
    text = format_predictions(r)
    assert "after 200 epochs 100%" in text


def test_bptt_gradient_matches_finite_differences():
    model = ManyToOneRNN(2, 3, 2, seed=5)

    def loss():
        logits, _ = model.forward(TOY_X)
        return softmax_cross_entropy(logits, TOY_Y)[0]

    logits, cache = model.forward(TOY_X)
    _, dlogits = softmax_cross_entropy(logits, TOY_Y)
    model.backward(dlogits, cache)
    eps = 1e-6
    for layer in model.layers:
        for name, p in layer.params.items():
            numeric = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                up = loss()
                p[i] = old - eps
                down = loss()
                p[i] = old
                numeric[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(layer.grads[name], numeric, rtol=1e-5, atol=1e-9)
