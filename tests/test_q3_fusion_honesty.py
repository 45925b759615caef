"""Q3 fusion measured honestly: image similarity before/after centring, how much the image alone
decides each ranking, and what the region map may claim; sentences on both sides of thresholds."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.analysis import fusion as fu
from rnnlab.observations import q3 as say

sys.path.insert(0, str(Path(__file__).parent))
from q3_fakes import fabricated, honest  # a sibling file: tests/ is no package


@pytest.mark.parametrize("raw, word", [(0.91, "nearly identical"), (0.9, "distinct"),
                                       (0.5, "distinct")])
def test_image_similarity_threshold(raw, word):
    text = say.image_similarity_sentence(honest(raw=raw))
    assert f"16 images are {word}" in text and "after subtracting the mean feature" in text
    assert "the same ranks" in text


def test_image_similarity_reports_changed_ranks_and_skips_old_results():
    assert "different ranks" in say.image_similarity_sentence(honest(same=False))
    old = fabricated()
    assert say.image_similarity_sentence(old) is None and say.dominance_sentence(old) is None
    assert len(say.observations(old)) == len(say.observations(honest())) - 2


@pytest.mark.parametrize("agreement, verdict", [
    ((0.51, 0.6, 0.9), "for every encoder the image, not the question, decides"),
    ((0.5, 0.2, 0.1), "for no encoder does the image decide"),
    ((0.51, 0.5, 0.1), "decides most of each ranking for RNN, but not for LSTM, GRU"),
])
def test_dominance_threshold_on_both_sides(agreement, verdict):
    text = say.dominance_sentence(honest(agreement=agreement))
    assert verdict in text and "chance 6%" in text
    assert "below 0" not in text


def test_negative_agreement_is_explained():
    assert "below 0 because" in say.dominance_sentence(honest(agreement=(-0.5, 0.1, 0.2)))


@pytest.mark.parametrize("status, looks", [("imagenet-verified", True), ("user-supplied", False),
                                           ("untrained", False)])
def test_region_caption_and_sentence_agree(status, looks):
    m = honest(status=status)
    caption = say.captions(m, 16, 82)["region_similarity"]
    sentence = say.region_sentence(m)
    assert ("where in the image the fused question 'looks'" in caption) is looks
    assert ("only the network's spatial bias" in caption) is not looks
    assert ("only the spatial bias" in sentence) is not looks
    assert sentence in say.observations(m)


def test_image_dominance_measures_image_and_question_rankings():
    rng = np.random.default_rng(0)
    by_image = np.arange(6.0)[:, None] + 0.01 * rng.standard_normal((6, 50))
    d = fu.image_dominance(by_image)
    assert d["rank_agreement"] == pytest.approx(1.0) and d["top_image_share"] == 1.0
    assert d["chance_top_image_share"] == pytest.approx(1 / 6)
    noise = fu.image_dominance(rng.standard_normal((6, 2000)))
    assert abs(noise["rank_agreement"]) < 0.1 and abs(noise["top_image_share"] - 1 / 6) < 0.05
    with pytest.raises(Exception, match="M, Q >= 2"):
        fu.image_dominance(np.ones((1, 5)))


def test_mean_pairwise_cosine_before_and_after_centring():
    v = np.array([[10.0, 1.0], [10.0, -1.0], [10.0, 0.0]])
    assert fu.mean_pairwise_cosine(v) > 0.98
    # centred: (0,1), (0,-1), (0,0)->zero row normalised to 0; pairs: -1, 0, 0
    assert fu.mean_pairwise_cosine(v, centred=True) == pytest.approx(-1 / 3)
    assert copy.deepcopy(v).tolist() == v.tolist()
