"""The exercises' key findings, limitations, topics and top words, from fabricated measurements."""

import copy

import pytest
from tests.test_exercises_observations import fabricated, with_ig

from rnnlab.observations import exercises as O


def full() -> dict:
    """Fabricated metrics of every part, with integrated gradients and architectures."""
    m = copy.deepcopy(fabricated())
    m["sentiment"] = with_ig(gxi_error=0.01, ig_error=1e-4)
    m["sentiment"]["test_accuracy_mean"] = 0.9  # well above chance, beats the 0.69 baseline
    m["architectures"] = [
        {"architecture": "one-to-one", "input_shape": [2, 10], "output_shape": [2, 2]},
        {"architecture": "many-to-many (aligned)", "input_shape": [2, 7], "output_shape": [2, 7, 9]},
        {"architecture": "encoder-decoder", "input_shape": [2, 7], "output_shape": [2, 5, 24]},
    ]
    for row in m["comparison"]["rows"]:  # time proportional to multiply-adds: no overhead finding
        row["time_per_step_us"] = row["macs_per_step"] / 1000
    return m


def topics_of(findings) -> list[str]:
    return [f.topic for f in findings]


def texts(findings) -> str:
    return " ".join(f.text for f in findings)


def test_a_clean_run_gives_three_to_six_findings_each_linked_to_a_topic():
    found = O.findings(full())
    keys = {key for key, *_ in O.TOPICS}
    assert 3 <= len(found) <= O.MAX_FINDINGS
    assert set(topics_of(found)) <= keys
    # nothing failed or surprised: the largest effects, then confirmations in part order
    assert topics_of(found)[:2] == ["sentiment", "gradient"]
    assert "word order helps beyond the noise" in texts(found)
    assert "counting" in topics_of(found) and "forward_pass" in topics_of(found)


def test_findings_are_capped_and_failures_come_first():
    m = full()
    m["forward_pass"]["max_abs_diff"] = 1e-3
    m["toy"]["accuracy_after"] = 0.75
    m["monotonic"]["test_accuracy"] = 0.9
    m["counting"]["checks"][0]["ours"] = 28
    found = O.findings(m)
    assert len(found) == O.MAX_FINDINGS
    assert topics_of(found)[:4] == ["counting", "forward_pass", "toy", "monotonic"]
    assert "DISAGREE" in texts(found) and "3 of 4 correct" in texts(found)
    assert "goal of 98.0% test accuracy on length 4 is not met (90.0%)" in texts(found)


@pytest.mark.parametrize("diff, failed", [(0.99e-8, False), (1.01e-8, True)])
def test_forward_pass_finding_on_both_sides_of_the_agreement_threshold(diff, failed):
    m = full()
    m["forward_pass"]["max_abs_diff"] = diff
    found = O.findings(m)
    forward = [f for f in found if f.topic == "forward_pass"]
    if failed:
        assert found[0].topic == "forward_pass" and "DISAGREE" in found[0].text
    else:
        assert not forward or "agree on every" in forward[0].text


@pytest.mark.parametrize("test, goal_failed", [(0.981, False), (0.979, True)])
def test_monotonic_goal_finding_on_both_sides(test, goal_failed):
    m = full()
    m["monotonic"]["test_accuracy"] = test
    assert ("is not met" in texts(O.findings(m))) is goal_failed


@pytest.mark.parametrize("acc, phrase", [
    (0.0, "call the longer sequences the wrong way round"),  # below chance by far: reversed
    (0.60, "carries over only partly"),                       # below the goal, above the floor
    (0.985, None),                                            # every seed at the goal: confirmation
])
def test_monotonic_generalisation_finding(acc, phrase):
    m = full()
    m["monotonic"]["accuracy_by_length"][1] = [acc, acc, acc]  # length 8
    found = O.findings(m)
    mono = [f for f in found if f.topic == "monotonic"]
    if phrase is None:  # a confirmation; outranked by the other parts here
        assert all("wrong way round" not in f.text and "partly" not in f.text for f in found)
        candidates = [f for _, f in O._candidates(m) if f.topic == "monotonic"]
        assert "stays at or above 98.0%" in candidates[0].text
    else:
        assert mono and phrase in mono[0].text
        assert found.index(mono[0]) == 0  # a surprise comes before effects and confirmations


def test_monotonic_reversal_needs_a_margin_below_chance():
    m = full()
    floor = 0.5 - O.Z_CHANCE * O.chance_se(m["monotonic"]["test_size"])  # 46.8% for 1000 items
    m["monotonic"]["accuracy_by_length"][1] = [floor + 0.001] * 3
    assert "wrong way round" not in texts(O.findings(m))
    m["monotonic"]["accuracy_by_length"][1] = [floor - 0.001] * 3
    assert "3 of 3 seeds call the longer sequences the wrong way round" in texts(O.findings(m))


@pytest.mark.parametrize("acc, base, phrase", [
    (0.55, 0.69, "not clearly better than guessing"),           # 52 items: 0.7 s.e. from chance
    (0.70, 0.90, "Word order did not help"),                     # above chance, baseline far better
    (0.70, 0.75, "within the noise of it"),                      # above chance, baseline within noise
    (0.90, 0.69, "word order helps beyond the noise"),
])
def test_sentiment_finding_by_chance_and_baseline(acc, base, phrase):
    m = full()
    m["sentiment"].update(test_accuracy_mean=acc, baseline_accuracy=base)
    candidates = [f for _, f in O._candidates(m) if f.topic == "sentiment"]
    assert len(candidates) == 1 and phrase in candidates[0].text


def test_sentiment_chance_threshold_both_sides():
    m = full()
    se = O.chance_se(m["sentiment"]["test_size"])
    m["sentiment"].update(baseline_accuracy=0.5)
    m["sentiment"]["test_accuracy_mean"] = 0.5 + 1.99 * se
    assert "not clearly better than guessing" in texts(O.findings(m))
    m["sentiment"]["test_accuracy_mean"] = 0.5 + 2.01 * se
    assert "not clearly better than guessing" not in texts(O.findings(m))


@pytest.mark.parametrize("gxi, ig, phrase", [
    (0.40, 1e-4, "integrated gradients adds up to the score change"),
    (0.01, 1e-4, None),                                   # both add up: no attribution finding
    (0.40, 0.06, "Integrated gradients does not add up"),
])
def test_attribution_completeness_findings(gxi, ig, phrase):
    m = full()
    m["sentiment"] = with_ig(gxi_error=gxi, ig_error=ig) | {"test_accuracy_mean": 0.9}
    found = [f for _, f in O._candidates(m) if f.topic == "attribution"]
    if phrase is None:
        assert found == []
    else:
        assert len(found) == 1 and phrase in found[0].text


@pytest.mark.parametrize("same_top", [True, False])
def test_attribution_disagreement_finding(same_top):
    m = full()
    m["sentiment"] = with_ig(gxi_error=0.01, same_top=same_top) | {"test_accuracy_mean": 0.9}
    assert ("name different top words in 1 of 1 texts" in texts(O.findings(m))) is not same_top


@pytest.mark.parametrize("factor, opened", [(2.01, True), (1.99, False)])
def test_gradient_finding_names_the_open_forget_gate_only_beyond_the_band(factor, opened):
    m = full()
    lstm_reach = m["comparison"]["rows"][1]["reach"][-1]
    m["comparison"]["forget_bias_reach"][-1] = factor * lstm_reach
    gradient = next(f for f in O.findings(m) if f.topic == "gradient")
    assert "at T = 100" in gradient.text and "1.0e-30" in gradient.text
    assert ("once the forget gate starts open" in gradient.text) is opened


@pytest.mark.parametrize("time_ratio, overhead", [(1.9, True), (2.1, False)])
def test_cost_finding_when_overheads_dominate(time_ratio, overhead):
    m = full()
    rows = m["comparison"]["rows"]
    rows[1]["time_per_step_us"] = time_ratio * rows[0]["time_per_step_us"]  # multiply-adds 4x
    assert ("fixed per-step overheads dominate" in texts(O.findings(m))) is overhead


def test_findings_skip_missing_parts_and_keep_at_least_three():
    m = {k: full()[k] for k in ("counting", "forward_pass", "toy")}
    assert topics_of(O.findings(m)) == ["counting", "forward_pass", "toy"]


# limitations ------------------------------------------------------------------------------------


def test_limitations_quick_profile_and_shipped_sentences():
    m = full()
    out = O.limitations(m, {"profile": "quick"})
    assert out[0] == "quick profile: tiny settings, numbers are not meaningful"
    assert "IMDb not used (no --imdb-dir)" in out[1] and "208 shipped review sentences" in out[1]
    assert len(O.limitations(m, {"profile": "default"})) == 1


def test_limitations_imdb_subset_and_none():
    from rnnlab.data.sentences import IMDB_SOURCE

    m = full()
    m["sentiment"]["source"] = IMDB_SOURCE
    assert O.limitations(m, {"profile": "full", "imdb_max_per_split": None}) == []
    out = O.limitations(m, {"profile": "default", "imdb_max_per_split": 2000})
    assert out == ["IMDb subset: at most 2000 reviews per split (208 for training, 52 held out)"]


def test_limitations_read_a_config_object():
    from rnnlab.experiments.exercises import build_config

    m = full()
    assert O.limitations(m, build_config("quick"))[0].startswith("quick profile")
    assert not O.limitations(m, build_config("default"))[0].startswith("quick profile")


# topics and top words ---------------------------------------------------------------------------


def test_topic_sentences_cover_every_observation_in_order():
    m = full()
    by_topic = O.topic_sentences(m)
    assert list(by_topic) == [key for key, *_ in O.TOPICS]
    assert [s for v in by_topic.values() for s in v] == O.observations(m)


def test_architectures_sentence_names_aligned_and_changed_lengths():
    (s,) = O.architectures_observations(full()["architectures"])
    assert "one-to-one (2, 10) -> (2, 2)" in s
    assert "One output per input step only for many-to-many (aligned) (T = 7 in and out)" in s
    assert "encoder-decoder returns 5 steps for 7" in s


def scored(scores, ig_scores=None) -> dict:
    a = with_ig()["attributions"][0]
    a.update(tokens=["not", "bad", "all"], scores=scores, ig_scores=ig_scores or scores,
             top_positive="not", top_negative="bad", ig_top_positive="not", ig_top_negative="bad")
    return a


@pytest.mark.parametrize("scores, pos, neg", [
    ([0.3, -0.2, 0.1], "not", "bad"),
    ([0.0, -0.2, -0.1], None, "bad"),     # best score 0: nothing pushes towards positive
    ([-0.05, -0.2, -0.1], None, "bad"),
    ([0.3, 0.0, 0.1], "not", None),       # nothing pushes towards negative
])
def test_top_words_only_push_when_their_score_has_the_sign(scores, pos, neg):
    assert O.top_words(scored(scores), "gxi") == (pos, neg)
    assert O.top_words(scored([1.0, -1.0, 0.0], scores), "ig") == (pos, neg)


def test_sentence_says_no_word_pushes_towards_positive():
    m = with_ig()
    m["attributions"] = [scored([-0.05, -0.2, -0.1])]
    out = " ".join(O.attribution_observations(m))
    assert "towards positive is 'not'" not in out
    assert "no word pushes towards positive (every attribution is <= 0), and the word pushing most " \
           "towards negative is 'bad' (gradient x input)" in out
    assert "integrated gradients names no word towards positive and 'bad'" in out


def test_records_without_scores_keep_their_saved_words():
    a = fabricated()["sentiment"]["attributions"][0]
    assert O.top_words(a, "gxi") == ("not", "bad")
