"""Q3 key findings and limitations chosen by rule from fabricated metrics, on both sides of every
threshold; topics hold every sentence once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rnnlab.observations import q3 as say

sys.path.insert(0, str(Path(__file__).parent))
from q3_fakes import fabricated, honest, retrieval, stat  # a sibling file: tests/ is no package

TOPIC_KEYS = {key for key, _ in say.TOPICS}


def _texts(m):
    return [f.text for f in say.findings(m)]


def _check(found):
    assert 3 <= len(found) <= say.MAX_FINDINGS
    assert all(f.topic in TOPIC_KEYS for f in found)
    assert len({f.text for f in found}) == len(found)


def test_untrained_not_better_than_chance_leads_with_the_verdict_and_the_weights():
    found = say.findings(fabricated())
    _check(found)
    assert found[0].topic == "fusion"
    assert found[0].text.startswith("Without training, no encoder matches questions")
    assert "mean rank of the own image among 16: RNN 8.4" in found[0].text
    assert found[1].topic == "data" and "untrained CNN" in found[1].text
    assert any(f.topic == "region" and "spatial bias" in f.text for f in found)


@pytest.mark.parametrize("p, better", [(0.049, True), (0.05, False)])
def test_retrieval_verdict_on_both_sides_of_the_threshold(p, better):
    text = _texts(fabricated(p=p))
    verdict = next(t for t in text if t.startswith("Without training"))
    assert ("better than chance for every encoder" in verdict) is better
    assert ("although the CNN is untrained" in verdict) is better  # against expectation
    assert ("no encoder matches" in verdict) is not better


def test_verified_weights_better_than_chance_is_the_headline_without_caveat():
    found = say.findings(fabricated("imagenet-verified", p=0.01))
    _check(found)
    assert "although" not in found[0].text and "every encoder" in found[0].text
    assert not any(f.topic == "region" for f in found)  # the region map may be read
    assert any("verified ImageNet weights" in f.text and f.topic == "data" for f in found)


@pytest.mark.parametrize("p, shown", [(0.6, True), (0.01, False)])
def test_grounded_reference_finding_only_where_no_encoder_passes(p, shown):
    text = _texts(fabricated("user-supplied", p=p))
    assert any(t.startswith("The grounded reference") for t in text) is shown
    assert any("not verified as ImageNet" in t for t in text)


@pytest.mark.parametrize("agreement, shown", [((0.51, 0.2, 0.1), True), ((0.5, 0.2, 0.1), False)])
def test_image_dominance_threshold(agreement, shown):
    found = say.findings(honest(agreement=agreement))
    _check(found)
    hit = [f for f in found if f.text.startswith("The image, not the question, decides")]
    assert bool(hit) is shown
    if shown:
        assert hit[0].topic == "dominance" and "for RNN (rank agreement above 0.5)" in hit[0].text


@pytest.mark.parametrize("raw, shown", [(0.91, True), (0.9, False)])
def test_nearly_identical_images_threshold(raw, shown):
    text = _texts(honest(raw=raw))
    assert any(t.startswith("As raw features the images are nearly identical") for t in text) is shown


@pytest.mark.parametrize("value, shown", [(0.099, True), (0.1, False)])
def test_word_order_insensitivity_threshold(value, shown):
    m = fabricated()
    m["encoders"]["LSTM"]["order_sensitivity"] = stat(value)
    assert any(t.startswith("LSTM barely notices word order") for t in _texts(m)) is shown


def test_largest_effect_is_measured_against_the_seed_spread():
    m = fabricated()  # every measure: RNN 0.5, LSTM 0.85, GRU 0.8, std 0.01
    m["encoders"]["GRU"]["step_length"] = stat(3.0, 0.1)  # gap 2.5 / spread 0.11 = 22.7
    assert say.largest_encoder_difference(m) == ("step_length", pytest.approx(2.5 / 0.11))
    text = next(t for t in _texts(m) if t.startswith("Largest encoder difference"))
    assert "mean step length" in text and "GRU 3 against RNN 0.5" in text and "22.7 times" in text
    assert next(f for f in say.findings(m) if f.text == text).topic == "trajectories"


@pytest.mark.parametrize("std, separated", [(0.176, False), (0.174, True)])
def test_encoders_indistinguishable_within_the_spread(std, separated):
    m = fabricated()  # largest gap 0.35 between LSTM and RNN (question distance: the same gap)
    for cell in m["encoders"].values():
        for key in cell:
            cell[key] = stat(cell[key]["mean"], std)
    text = _texts(m)
    assert any(t.startswith("Largest encoder difference") for t in text) is separated
    assert any(t.startswith("The untrained encoders are hard to tell apart") for t in text) is not separated


def test_one_seed_says_no_spread():
    m = fabricated()
    m["seeds"] = [0]
    assert any("(one seed: no spread measured)" in t for t in _texts(m))


def test_at_most_six_findings_by_priority():
    m = honest(raw=0.99, agreement=(0.9, 0.8, 0.7))
    m["encoders"]["RNN"]["order_sensitivity"] = stat(0.01)
    found = say.findings(m)
    _check(found)
    assert len(found) == say.MAX_FINDINGS
    assert [f.topic for f in found[:2]] == ["fusion", "data"]
    assert not any(f.topic == "region" for f in found)  # the lowest priority is cut first


def test_topics_hold_every_sentence_once_in_order():
    m = honest()
    by_topic = say.topic_sentences(m)
    assert list(by_topic) == [key for key, _ in say.TOPICS]
    flat = [s for sentences in by_topic.values() for s in sentences]
    assert flat == say.observations(m) and len(set(flat)) == len(flat)
    assert by_topic["region"] == [say.region_sentence(m)]
    assert by_topic["dominance"] == [say.image_similarity_sentence(m), say.dominance_sentence(m)]
    assert len(by_topic["trajectories"]) == 5 and len(by_topic["similarity"]) == 1
    assert say.encoder_sentences(m) == by_topic["trajectories"] + by_topic["similarity"] + by_topic["encoders"]


@pytest.mark.parametrize("status, phrase", [
    ("untrained", "CNN untrained: no verified ImageNet weights"),
    ("user-supplied", "CNN weights user-supplied, not verified as ImageNet"),
    ("imagenet-verified", None),
])
def test_limitations_name_the_weights(status, phrase):
    lim = say.limitations(fabricated(status), {"profile": "default"})
    assert any(x.startswith("demo set instead of VQA v2: 82 questions about 16") for x in lim)
    cnn = [x for x in lim if "CNN" in x]
    assert cnn == ([] if phrase is None else [next(x for x in lim if x.startswith(phrase))])


def test_limitations_of_real_data_and_profile():
    m = fabricated("imagenet-verified")
    m["dataset"].update(name="vqa-v2", n_questions=300, n_images=250)
    assert say.limitations(m, {"profile": "default", "limit": None}) == []
    assert say.limitations(m, {"profile": "default", "limit": 300}) == [
        "vqa-v2 subset: the first 300 questions (250 images)"]
    assert say.limitations(m, {"profile": "quick", "limit": None}) == [
        "quick profile: tiny settings, numbers are not meaningful"]


def test_grounded_stats_are_fabricated_consistently():
    assert retrieval(3.1, 0.001, 1, 1)["seeds_at_chance"] == 0
