"""Q2 analysis: gate blocks, norms, spectral radius, update sizes, saturation and convergence
measures on hand-made inputs with known answers, and the gate recomputation against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.analysis import saturation as sat
from rnnlab.analysis import training
from rnnlab.analysis import weights as wts
from rnnlab.errors import ShapeError


def test_spectral_radius_known_matrices():
    assert wts.spectral_radius(np.diag([0.5, -2.0, 1.0])) == pytest.approx(2.0)
    theta = 0.7
    rotation = 1.5 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert wts.spectral_radius(rotation) == pytest.approx(
        1.5
    )  # complex eigenvalues 1.5 e^{±i theta}
    nilpotent = np.array([[0.0, 5.0], [0.0, 0.0]])
    assert wts.spectral_radius(nilpotent) == 0.0  # large norm, radius 0
    assert wts.frobenius_norm(nilpotent) == 5.0
    with pytest.raises(ShapeError, match=r"square"):
        wts.spectral_radius(np.zeros((4, 2)))


def test_split_gates_and_relative_change():
    w = np.arange(4 * 3 * 2).reshape(12, 2).astype(float)
    blocks = wts.split_gates(w, "lstm")
    assert list(blocks) == ["i", "f", "g", "o"]
    np.testing.assert_array_equal(blocks["f"], w[3:6])
    assert list(wts.split_gates(np.zeros(9), "gru")) == ["r", "z", "n"]
    with pytest.raises(ShapeError):
        wts.split_gates(np.zeros((10, 2)), "gru")
    a = np.ones((2, 2))
    assert wts.relative_change(3 * a, a) == pytest.approx(2.0)
    assert np.isnan(wts.relative_change(a, np.zeros((2, 2))))


def test_weight_evolution_on_hand_made_epochs():
    H = 2
    eye = np.eye(H)
    states = []
    for scale in (0.5, 1.0, 2.0):  # the forget block scales, the others stay put
        hh = np.concatenate([eye, scale * eye, eye, eye])
        states.append({"rnn.weight_hh_l0": hh, "rnn.weight_ih_l0": np.ones((4 * H, 3))})
    ev = wts.weight_evolution(states, "lstm")
    assert ev["spectral_radius"]["f"] == pytest.approx([0.5, 1.0, 2.0])
    assert ev["spectral_radius"]["i"] == pytest.approx([1.0, 1.0, 1.0])
    assert ev["relative_update"]["weight_hh_l0"]["f"][1:] == pytest.approx([1.0, 1.0])
    assert np.isnan(ev["relative_update"]["weight_hh_l0"]["f"][0])
    assert ev["drift"]["weight_hh_l0"]["f"] == pytest.approx([0.0, 1.0, 3.0])
    assert ev["drift"]["weight_ih_l0"]["o"] == pytest.approx([0.0, 0.0, 0.0])
    assert ev["frobenius"]["weight_hh_l0"]["f"] == pytest.approx(
        [0.5 * np.sqrt(2), np.sqrt(2), 2 * np.sqrt(2)]
    )
    # the whole-model update does not depend on the order the tensors are listed in
    reordered = [dict(reversed(list(s.items()))) if k % 2 else s for k, s in enumerate(states)]
    ev2 = wts.weight_evolution(reordered, "lstm")
    assert ev2["relative_update_all"][1:] == pytest.approx(ev["relative_update_all"][1:])


def test_kde_and_histogram():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, 5000)
    grid = np.linspace(-6, 6, 601)
    density = wts.kde(values, grid)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=0.01)
    assert density[300] == pytest.approx(1 / np.sqrt(2 * np.pi), rel=0.08)
    edges = np.linspace(-1, 1, 5)
    hist = wts.histogram(np.array([-5.0, 0.1, 0.2, 0.9]), edges)
    assert (hist * np.diff(edges)).sum() == pytest.approx(1.0)


def test_saturation_fractions_known_answer():
    acts = {
        "f": np.array([0.05, 0.5, 0.95, 0.99]).reshape(1, 4, 1),  # 1 left, 2 right of 4
        "h": np.array([-0.99, 0.1, 0.96, 0.5]).reshape(1, 4, 1),  # 2 of 4 beyond |0.95|
    }
    fr = sat.saturation_fractions(acts)
    assert fr["f"] == {"low": 0.25, "high": 0.5}
    assert fr["h"] == {"tanh": 0.5}
    mask = np.array([[True, True, False, False]])  # padding steps are left out
    assert sat.saturation_fractions(acts, mask)["f"] == {"low": 0.5, "high": 0.0}
    units = sat.unit_saturation({"z": np.array([[[0.0, 1.0], [0.0, 0.5]]])})
    assert units["z"]["low"].tolist() == [1.0, 0.0] and units["z"]["high"].tolist() == [0.0, 0.5]
    with pytest.raises(ShapeError):
        sat.saturation_fractions(acts, np.ones((2, 4), bool))


def test_gate_recomputation_from_hand_made_weights():
    # one hidden unit, one input: pre-activations are easy to write down
    params = {
        "weight_ih_l0": np.array([[10.0], [-10.0], [0.0], [1.0]]),
        "weight_hh_l0": np.zeros((4, 1)),
        "bias_ih_l0": np.zeros(4),
        "bias_hh_l0": np.zeros(4),
    }
    x = np.ones((1, 1, 1))
    acts = sat.gate_activations("lstm", params, x, np.zeros((1, 1, 1)))
    assert acts["i"][0, 0, 0] == pytest.approx(1 / (1 + np.exp(-10)))
    assert acts["f"][0, 0, 0] == pytest.approx(1 / (1 + np.exp(10)))
    assert acts["g"][0, 0, 0] == 0.0
    fr = sat.saturation_fractions(acts)
    assert fr["i"]["high"] == 1.0 and fr["f"]["low"] == 1.0 and fr["o"] == {"low": 0.0, "high": 0.0}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gate_recomputation_matches_torch(cell):
    torch.manual_seed(0)
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        3, 4, batch_first=True
    ).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        states = layer(x)[0].numpy()
    params = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    h_prev = sat.previous_states(states)
    acts = sat.gate_activations(cell, params, x.numpy(), h_prev)
    if cell == "rnn":
        rebuilt = acts["h"]
    elif cell == "gru":
        rebuilt = (1 - acts["z"]) * acts["n"] + acts["z"] * h_prev  # h_t = (1 - z) n + z h_{t-1}
    else:
        c = np.zeros((2, 4))
        rebuilt = np.zeros_like(states)
        for t in range(5):
            c = acts["f"][:, t] * c + acts["i"][:, t] * acts["g"][:, t]  # c_t = f c + i g
            rebuilt[:, t] = acts["o"][:, t] * np.tanh(c)  # h_t = o tanh(c_t)
    np.testing.assert_allclose(rebuilt, states, atol=1e-12)


def test_convergence_and_spikes():
    assert training.epochs_to_target([0.1, 0.5, 0.92, 0.95], 0.9) == 2
    assert training.epochs_to_target([3.0, 2.5, 2.0], 2.2, higher_is_better=False) == 2
    assert training.epochs_to_target([0.1, 0.2], 0.9) is None
    losses = [1.0] * 10 + [5.0] + [1.0] * 5 + [float("nan")]
    assert training.loss_spikes(losses, window=5, factor=2.0) == [10, 16]
    # late scatter of a tiny loss is not a spike: 0.001 -> 0.01 is 10x, but 1% of the start level
    late = [1.0] * 5 + [0.001] * 10 + [0.01] + [0.001] * 3 + [0.5]
    assert training.loss_spikes(late, window=5, factor=2.0, min_rise=0.1) == [19]
    assert training.loss_increases([1.0, 0.8, 0.9, 0.7, 0.71]) == [2, 4]
    assert training.accuracy_standard_error(0.9, 100) == pytest.approx(0.03)
