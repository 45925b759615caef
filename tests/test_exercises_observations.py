"""The exercises' sentences from fabricated measurements: every branch, both sides of every threshold."""

import copy

import pytest

from rnnlab.observations import exercises as O


def fabricated() -> dict:
    return {
        "counting": {
            "exercise": {"input": 4, "hidden": 3, "one_bias": 24, "two_biases": 27, "torch": 27,
                         "steps": 10, "unshared": 240,
                         "torch_by_length": [[1, 27], [10, 27]], "torch_same_for_lengths": True},
            "checks": [{"ours": 27, "torch": 27}, {"ours": 108, "torch": 108}],
            "all_match": True,
        },
        "forward_pass": {"h_loop": [[0.1, 0.2], [0.3, 0.4]], "max_abs_diff": 1e-16},
        "toy": {"labels": [1, 0, 1, 0], "accuracy_before": 0.5, "accuracy_after": 1.0, "epochs": 200,
                "final_loss": 0.001, "first_epoch_all_correct": 7},
        "monotonic": {"train_length": 4, "train_accuracy": 1.0, "test_accuracy": 0.99, "test_size": 1000,
                      "goal": 0.98, "lengths": [4, 8, 16],
                      "accuracy_by_length": [[0.99, 1.0, 0.99], [0.99, 0.985, 1.0], [0.98, 0.99, 1.0]]},
        "sentiment": {"source": "shipped", "unit": "sentences", "train_size": 208, "test_size": 52, "seed": 0,
                      "train_accuracy": 0.99, "test_accuracy": 0.75, "test_accuracy_seeds": [0.75, 0.7, 0.72],
                      "test_accuracy_mean": 0.723, "test_accuracy_std": 0.02, "baseline_accuracy": 0.69,
                      "accuracy_by_tag": {"plain": {"accuracy": 0.8, "count": 35},
                                          "negation": {"accuracy": 0.5, "count": 14}},
                      "attributions": [{"text": "Not bad at all.", "label": 1, "pred": 1, "prob_positive": 0.8,
                                        "top_positive": "not", "top_negative": "bad",
                                        "score": 2.0, "sum_of_attributions": 1.5}]},
        "comparison": {"input_size": 32, "hidden_size": 64, "lengths": [10, 50, 100], "timing_batch": 32,
                       "forget_bias": 3.0, "forget_bias_reach": [0.7, 0.4, 0.3],
                       "rows": [
                           {"model": "RNN", "parameters": 6272, "macs_per_step": 6144, "time_per_step_us": 17.0,
                            "reach": [1e-3, 1e-15, 1e-30], "first_last": [1e-3, 1e-15, 1e-30],
                            "weakest_position": [1, 1, 1]},
                           {"model": "LSTM", "parameters": 25088, "macs_per_step": 24576, "time_per_step_us": 22.0,
                            "reach": [1e-2, 1e-10, 1e-21], "first_last": [1e-2, 1e-10, 1e-21],
                            "weakest_position": [1, 1, 1]},
                           {"model": "GRU", "parameters": 18816, "macs_per_step": 18432, "time_per_step_us": 37.0,
                            "reach": [1e-2, 1e-10, 1e-20], "first_last": [1e-2, 1e-10, 1e-20],
                            "weakest_position": [1, 1, 1]},
                           {"model": "BiLSTM", "parameters": 50176, "macs_per_step": 49152, "time_per_step_us": 46.0,
                            "reach": [0.1, 1e-5, 1e-11], "first_last": [1.1, 0.9, 1.0],
                            "weakest_position": [6, 25, 51]},
                       ]},
    }


def text(sentences) -> str:
    return " ".join(sentences)


def test_all_parts_speak():
    out = O.observations(fabricated())
    assert any("3*4 + 3*3 + 3 = 24 parameters" in s and "27" in s for s in out)
    assert any("goal 98.0%: met" in s for s in out)
    assert any("rank GRU > LSTM > RNN" in s for s in out)
    assert O.observations({}) == []


# 2. counting --------------------------------------------------------------------------------


def test_counting_branches():
    m = fabricated()["counting"]
    assert "the count is still 24" in text(O.counting_observations(m))
    assert "matched PyTorch's parameter count in all 2" in text(O.counting_observations(m))
    m["exercise"]["torch_same_for_lengths"] = False
    m["checks"][1]["ours"] = 107
    out = text(O.counting_observations(m))
    assert "Unexpectedly, PyTorch's count changed" in out
    assert "disagreed with PyTorch in 1 of 2" in out


# 3. forward pass, 4. toy ------------------------------------------------------------------------


@pytest.mark.parametrize("diff, word", [(0.99e-8, "agree"), (1.01e-8, "DISAGREE")])
def test_forward_pass_agreement_threshold(diff, word):
    m = fabricated()["forward_pass"]
    m["max_abs_diff"] = diff
    assert f"engine {word} on every" in O.forward_pass_observations(m)[0]
    assert "h_2 = [0.30000000, 0.40000000]" in O.forward_pass_observations(m)[0]


def test_toy_branches():
    m = fabricated()["toy"]
    assert "All 4 were first right at update 7" in O.toy_observations(m)[0]
    m.update(accuracy_after=0.75, first_epoch_all_correct=None)
    out = O.toy_observations(m)[0]
    assert "3 of 4 correctly" in out and "never classified all of them" in out


# 5. increasing / decreasing --------------------------------------------------------------------


@pytest.mark.parametrize("test, verdict", [(0.98, "met"), (0.979, "not met")])
def test_monotonic_goal_threshold(test, verdict):
    m = fabricated()["monotonic"]
    m["test_accuracy"] = test
    assert f": {verdict})" in O.monotonic_observations(m)[0]


def test_monotonic_generalises_only_when_every_seed_reaches_the_goal():
    m = fabricated()["monotonic"]
    assert "It generalises" in text(O.monotonic_observations(m))
    m["accuracy_by_length"][2] = [0.98, 0.979, 1.0]  # one seed just under the goal
    out = text(O.monotonic_observations(m))
    assert "It generalises" not in out and "Generalisation is partial" in out


def test_monotonic_wrong_way_round_needs_a_margin_below_chance():
    m = fabricated()["monotonic"]  # 1000 test items: s.e. 1.58%, floor 50% - 3.16% = 46.84%
    m["accuracy_by_length"][2] = [0.47, 0.48, 0.9]  # below 50%, but within two standard errors
    out = text(O.monotonic_observations(m))
    assert "wrong way round" not in out
    assert "Generalisation is partial: accuracy drops to 61.7% at length 16" in out
    assert "no seed is below chance by more than 2 standard errors" in out
    m["accuracy_by_length"][2] = [0.468, 0.48, 0.9]  # one seed just beyond the margin
    out = text(O.monotonic_observations(m))
    assert "at length 16, 1 of 3 seeds fall below chance (50%) by more than 2 standard errors" in out
    assert "wrong way round" in out


def test_monotonic_reports_the_length_with_most_reversed_seeds():
    m = fabricated()["monotonic"]
    m["accuracy_by_length"][1] = [0.1, 0.2, 0.9]
    m["accuracy_by_length"][2] = [0.1, 0.9, 0.9]
    assert "at length 8, 2 of 3 seeds fall below" in text(O.monotonic_observations(m))


def test_monotonic_without_longer_lengths():
    m = fabricated()["monotonic"]
    m["lengths"], m["accuracy_by_length"] = [4], [[0.99, 1.0, 0.99]]
    assert len(O.monotonic_observations(m)) == 1


# 6. sentiment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("acc, expected", [
    (0.605, "2.1 standard errors above chance"),
    (0.595, "1.9 standard errors above chance (50%), within 2 standard errors, so not clearly better"),
    (0.5, "0.0 standard errors at chance"),
    (0.405, "1.9 standard errors below chance (50%), within 2 standard errors"),
    (0.395, ("2.1 standard errors below chance (50%, standard error 5.0% for 100 items): it is "
            "systematically wrong")),
])
def test_chance_sentence_on_both_sides_of_both_thresholds(acc, expected):
    assert expected in O.chance_sentence(acc, 100)


def test_sentiment_below_chance_is_not_called_within_zero():
    m = fabricated()["sentiment"]
    m["test_accuracy_mean"] = 0.3  # 52 items: s.e. 6.9%, z = -2.9
    first = O.sentiment_observations(m)[0]
    assert "2.9 standard errors below chance" in first and "within 0.0" not in first


@pytest.mark.parametrize("gap, memorises", [(0.099, False), (0.101, True)])
def test_sentiment_train_gap_both_sides(gap, memorises):
    m = fabricated()["sentiment"]
    m["test_accuracy"], m["train_accuracy"] = 0.5, 0.5 + gap
    out = text(O.sentiment_observations(m))
    assert ("the model memorises" in out) is memorises
    assert ("no sign of memorising" in out) is not memorises


@pytest.mark.parametrize("base, phrase", [
    (0.723 - 0.068, "within the noise"),   # noise = one standard error on 52 items, 6.93%
    (0.723 - 0.070, "points better, more than the noise"),
    (0.723 + 0.068, "within the noise"),
    (0.723 + 0.070, "points worse, more than the noise"),
])
def test_sentiment_baseline_against_the_noise(base, phrase):
    m = fabricated()["sentiment"]
    m["baseline_accuracy"] = base
    assert phrase in text(O.sentiment_observations(m))


def test_sentiment_baseline_noise_is_the_seed_spread_when_larger():
    m = fabricated()["sentiment"]
    m["test_accuracy_std"], m["baseline_accuracy"] = 0.1, 0.723 - 0.09
    assert "within the noise (seed spread or one standard error, 10.0%)" in text(O.sentiment_observations(m))


@pytest.mark.parametrize("neg, rel, clear", [
    (0.8 - 0.26, "lower than", False),   # 2 s.e. of the difference (14 vs 35 items) = 31.6%
    (0.8 - 0.33, "lower than", True),
    (0.8, "the same as", False),
    (0.8 + 0.19, "higher than", False),
])
def test_sentiment_negation_gap(neg, rel, clear):
    m = fabricated()["sentiment"]
    m["accuracy_by_tag"]["negation"]["accuracy"] = neg
    out = text(O.sentiment_observations(m))
    assert f"{rel} its 80.0% on 35 plain" in out
    assert ("a gap larger than two standard errors (31.6%)" in out) is clear
    assert ("not a clear effect of negation" in out) is not clear


def test_sentiment_negation_needs_both_groups():
    m = fabricated()["sentiment"]
    del m["accuracy_by_tag"]["plain"]
    assert "negation it is right" not in text(O.sentiment_observations(m))


@pytest.mark.parametrize("total, adds_up", [(1.92, True), (1.88, False), (2.08, True), (2.12, False)])
def test_attribution_sum_is_judged_from_the_measured_error(total, adds_up):
    m = fabricated()["sentiment"]
    m["attributions"][0]["sum_of_attributions"] = total  # score 2.0: 4% or 6% off
    out = text(O.attribution_observations(m))
    assert ("nearly add up to the score" in out) is adds_up
    assert ("they do not add up to the score" in out) is not adds_up


def test_attribution_sentences_name_the_words():
    out = text(O.attribution_observations(fabricated()["sentiment"]))
    assert "towards positive is 'not' and towards negative 'bad'" in out
    assert "differ from the score s = z_pos - z_neg itself by 25%" in out


# 7. comparison ----------------------------------------------------------------------------------


def test_comparison_overheads_threshold():
    m = fabricated()["comparison"]  # LSTM/RNN multiply-adds 4x: overheads when the time ratio < 2
    m["rows"][1]["time_per_step_us"] = 17.0 * 1.99
    assert "overheads dominate" in text(O.comparison_observations(m))
    m["rows"][1]["time_per_step_us"] = 17.0 * 2.01
    assert "overheads dominate" not in text(O.comparison_observations(m))


def test_comparison_trend_and_ranking():
    m = fabricated()["comparison"]
    assert "falls with length for every unidirectional model" in text(O.comparison_observations(m))
    m["rows"][0]["reach"][2] = 1e-2  # RNN: no longer falling, and now first
    out = text(O.comparison_observations(m))
    assert "falls with length for LSTM, GRU" in out and "rank RNN > GRU > LSTM" in out
    for row in m["rows"][:3]:
        row["reach"][2] = 1.0
    assert "falls with length for none of them" in text(O.comparison_observations(m))


@pytest.mark.parametrize("ratio, same", [(0.19, False), (0.21, True), (4.9, True), (5.1, False)])
def test_bilstm_ends_band(ratio, same):
    m = fabricated()["comparison"]
    m["rows"][3]["first_last"][2] = ratio
    out = text(O.comparison_observations(m))
    assert ("gradients of the same order" in out) is same
    assert ("gradients of different orders" in out) is not same


@pytest.mark.parametrize("factor, phrase", [
    (2.1, "keeps a ratio of"),
    (1.9, "about as much gradient as the default"),
    (0.55, "about as much gradient as the default"),
    (0.45, "reaches a ratio of only"),
])
def test_forget_bias_sentence_branches_on_the_factor(factor, phrase):
    m = copy.deepcopy(fabricated()["comparison"])
    m["forget_bias_reach"][2] = factor * 1e-21  # the default LSTM's reach at T = 100 is 1e-21
    out = O.comparison_observations(m)[-1]
    assert phrase in out
    if factor < 1:
        assert "keeps" not in out


# 6. attribution: gradient x input against integrated gradients ----------------------------------


def with_ig(gxi_error: float = 0.4, ig_error: float = 1e-4, same_top: bool = True) -> dict:
    m = fabricated()["sentiment"]
    a = m["attributions"][0]
    a.update({"ig_top_positive": "not" if same_top else "all", "ig_top_negative": "bad",
              "score_difference": 1.8, "completeness_error_gxi": gxi_error, "completeness_error_ig": ig_error})
    m["attribution_comparison"] = {"method": {"steps": 64}}
    return m


@pytest.mark.parametrize("error, adds_up", [(0.049, True), (0.051, False)])
def test_completeness_of_gradient_x_input_is_judged_on_both_sides(error, adds_up):
    out = text(O.attribution_observations(with_ig(gxi_error=error)))
    assert ("gradient x input by" in out) and ("64 trapezoid steps" in out)
    assert ("gradient x input by 4.9%, so it adds up" in out) is adds_up
    assert ("gradient x input by 5.1%, so it does not add up" in out) is not adds_up
    assert ("not a decomposition of its score" in out) is not adds_up


@pytest.mark.parametrize("error, adds_up", [(0.049, True), (0.051, False)])
def test_completeness_of_integrated_gradients_is_judged_on_both_sides(error, adds_up):
    out = text(O.attribution_observations(with_ig(ig_error=error)))
    assert ("integrated gradients by 4.9%, so it adds up" in out) is adds_up
    assert ("integrated gradients by 5.1%, so it does not add up" in out) is not adds_up
    assert ("more path steps are needed" in out) is not adds_up


def test_small_completeness_errors_keep_their_digits():
    out = text(O.attribution_observations(with_ig(ig_error=5.34e-5)))
    assert "integrated gradients by 0.00534%" in out
    assert "miss s(x) - s(x') = +1.800 by 40% (gradient x input)" in out


@pytest.mark.parametrize("same_top", [True, False])
def test_top_word_agreement_on_both_sides(same_top):
    out = text(O.attribution_observations(with_ig(same_top=same_top)))
    assert ("same most-positive and the same most-negative word in all 1 texts" in out) is same_top
    assert ("disagree on the top words in 1 of 1 texts" in out) is not same_top
    assert "integrated gradients names '" + ("not" if same_top else "all") + "' and 'bad'" in out


def test_older_results_without_integrated_gradients_keep_the_old_sentence():
    out = text(O.attribution_observations(fabricated()["sentiment"]))
    assert "integrated gradients" not in out and "itself by 25%" in out
