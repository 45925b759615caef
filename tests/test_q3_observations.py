"""Q3 sentences from fabricated numbers: every branch, on both sides of every threshold."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from rnnlab.observations import q3 as say

sys.path.insert(0, str(Path(__file__).parent))
from q3_fakes import fabricated, retrieval, stat  # a sibling file: tests/ is no package


def test_untrained_and_not_distinguishable_from_chance():
    obs = say.observations(fabricated())
    text = " ".join(obs)
    assert "untrained CNN" in text and "82 questions about 16 images" in text and "2 of 525" in text
    verdict = "not distinguishable from chance at this sample size (permutation test p = 0.60)"
    assert sum(verdict in o for o in obs) == 3
    assert "random guessing gives" not in text and "at chance (" not in text
    assert any("not distinguishable from random guessing" in o for o in obs)
    assert "no encoder matches questions to their images better than chance" in obs[1]
    assert any("No grounded reference" in o for o in obs)


@pytest.mark.parametrize("p, better", [(0.049, True), (0.05, False), (0.051, False)])
def test_permutation_threshold_on_both_sides(p, better):
    metrics = fabricated(p=p)
    obs = say.observations(metrics)
    rnn = next(o for o in obs if o.startswith("Fusion with the RNN"))
    assert ("better than chance" in rnn) is better
    assert ("not distinguishable from chance" in rnn) is not better
    # the CNN sentence agrees with the retrieval sentences, whichever way they go
    assert ("no encoder matches" in obs[1]) is not better
    assert ("where a match is better than chance (RNN, LSTM, GRU)" in obs[1]) is better
    if better:
        assert any("better than chance for every encoder" in o for o in obs)
    else:
        assert any("not distinguishable from random guessing" in o for o in obs)


def test_some_encoders_better_than_chance():
    metrics = fabricated()
    metrics["fusion"]["encoders"]["LSTM"] = retrieval(4.0, 0.002, 3)
    obs = say.observations(metrics)
    lstm = next(o for o in obs if o.startswith("Fusion with the LSTM"))
    assert "better than chance (permutation test p = 0.002)" in lstm and "3 of 3 seeds" in lstm
    assert any("better than chance for LSTM, but not distinguishably so for RNN, GRU" in o
               for o in obs)
    assert "where a match is better than chance (LSTM)" in obs[1]
    assert not any("random guessing" in o for o in obs)


def test_one_seed_has_no_per_seed_clause():
    r = retrieval(3.0, 0.01, 1, n=1)
    assert "seeds pass" not in say.retrieval_sentence("x", r, 16)
    assert "1 of 2 seeds pass p < 0.05" in say.retrieval_sentence("x", retrieval(3, 0.01, 1, 2), 16)


@pytest.mark.parametrize("status", ["imagenet-verified", "user-supplied"])
def test_weights_status_names_the_features(status):
    obs = say.observations(fabricated(status))
    text = " ".join(obs)
    assert "untrained CNN" not in text and "space shuttle" in text
    assert any(o.startswith("Grounded reference") and "better than chance" in o for o in obs)
    if status == "imagenet-verified":
        assert "ResNet18 with ImageNet weights" in obs[1] and "starts with f37072fd" in obs[1]
        assert "not verified" not in text
    else:
        assert "user-supplied weights, not verified as ImageNet" in obs[1]
        assert "does not start with f37072fd" in obs[1]
        assert "Fusion with the RNN encoder (ResNet18 with user-supplied weights, not verified" in text
        assert "ResNet18 with ImageNet weights" not in text


def test_captions_name_the_weights_status():
    for status, words in say.STATUS_LABELS.items():
        metrics = fabricated(status)
        caps = say.captions(metrics, 16, 40)
        for name in ("fusion_heatmap", "fusion_bars", "retrieval", "region_similarity"):
            assert words in caps[name]
        assert "tsne" not in caps
    assert "The first 5 of 16 images" in say.captions(fabricated(), 5, 40)["images"]
    assert "(the first 5 of 16 images" in say.captions(fabricated(), 5, 40)["fusion_bars"]
    assert "images" not in say.captions(fabricated(), 16, 40)["fusion_bars"].split("image")[0]


def test_compare_sentence_spread_threshold_on_both_sides():
    # spread 0.125 + 0.125 = 0.25 (exact in binary): a gap of 0.25 is not larger, 0.2501 is
    def stats(gap):
        return {"A": {"mean": 0.5 + gap, "std": 0.125, "per_seed": [0, 0]},
                "B": {"mean": 0.5, "std": 0.125, "per_seed": [0, 0]}}

    assert "within the seed-to-seed spread" in say.compare_sentence("x", stats(0.25))
    assert "within the seed-to-seed spread" in say.compare_sentence("x", stats(0.2499))
    assert "A is highest, ahead of B by more than" in say.compare_sentence("x", stats(0.2501))
    one = {"RNN": {"mean": 0.3, "std": 0.0, "per_seed": [0.3]},
           "GRU": {"mean": 0.2, "std": 0.0, "per_seed": [0.2]}}
    assert "one seed: no spread measured" in say.compare_sentence("x", one)
    assert say.compare_sentence("x", {"A": stat(float("nan"))}) == "X: not measured."
    assert say.compare_sentence("x", {"A": stat(0.2)}) == "X: A 0.2 ± 0.01."


@pytest.mark.parametrize("value, flagged", [(0.099, True), (0.1, False)])
def test_order_insensitivity_threshold(value, flagged):
    metrics = fabricated()
    metrics["encoders"]["LSTM"]["order_sensitivity"] = stat(value)
    obs = say.observations(copy.deepcopy(metrics))
    assert any(o.startswith("LSTM barely notices word order") for o in obs) is flagged


def test_cosine_ranking_sentence():
    obs = say.observations(fabricated())
    cos = next(o for o in obs if o.startswith("Cosine between consecutive"))
    assert "LSTM 0.85" in cos and "LSTM is highest, ahead of GRU by more than the seed" in cos
