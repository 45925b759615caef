"""The exercises section: config, observations from fabricated numbers, a quick run, the CLI."""

import copy
import json

import pytest

from rnnlab.cli import main
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import exercises as X


def fabricated() -> dict:
    return {
        "counting": {
            "exercise": {"input": 4, "hidden": 3, "one_bias": 24, "two_biases": 27, "torch": 27,
                         "formula_one_bias": "3*4 + 3*3 + 3 = 24", "steps": 10, "unshared": 240,
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


def test_observations_follow_the_numbers():
    m = fabricated()
    base = X.observations_from_metrics(m)
    assert any("24 parameters" in s and "27" in s for s in base)
    assert any("goal 98.0%: met" in s for s in base)
    assert any("It generalises" in s for s in base)
    assert any("3.2 standard errors above chance" in s for s in base)
    assert any("within the noise" in s for s in base)
    assert any("rank GRU > LSTM > RNN" in s for s in base)

    worse = copy.deepcopy(m)
    worse["monotonic"]["test_accuracy"] = 0.9
    worse["monotonic"]["accuracy_by_length"][2] = [0.0, 0.3, 1.0]
    text = " ".join(X.monotonic_observations(worse["monotonic"]))
    assert "goal 98.0%: not met" in text
    assert "length 16, 2 of 3 seeds fall below chance" in text

    partial = copy.deepcopy(m)
    partial["monotonic"]["accuracy_by_length"][2] = [0.7, 0.8, 0.9]
    assert "Generalisation is partial: accuracy drops to 80.0% at length 16" in " ".join(
        X.monotonic_observations(partial["monotonic"]))

    assert any("not a clear effect of negation" in s for s in base)  # 30 points < 2 x 15.8
    assert any("differ from the score s = z_pos - z_neg itself by 25%" in s for s in base)

    chance = copy.deepcopy(m)
    chance["sentiment"]["test_accuracy_mean"] = 0.55
    text = " ".join(X.sentiment_observations(chance["sentiment"]))
    assert "not clearly better than guessing" in text
    chance["sentiment"]["accuracy_by_tag"]["negation"]["accuracy"] = 0.1
    assert "a gap larger than two standard errors" in " ".join(X.sentiment_observations(chance["sentiment"]))
    chance["sentiment"]["baseline_accuracy"] = 0.9
    assert "does 35.0 points worse" in " ".join(X.sentiment_observations(chance["sentiment"]))

    swapped = copy.deepcopy(m)
    swapped["comparison"]["rows"][0]["reach"][2] = 1e-5
    assert "rank RNN > GRU > LSTM" in " ".join(X.comparison_observations(swapped["comparison"]))

    bad_toy = copy.deepcopy(m)
    bad_toy["toy"].update(accuracy_after=0.75, first_epoch_all_correct=None)
    assert "3 of 4 correctly" in X.toy_observations(bad_toy["toy"])[0]
    assert "never classified all of them" in X.toy_observations(bad_toy["toy"])[0]

    diff = copy.deepcopy(m)
    diff["forward_pass"]["max_abs_diff"] = 1e-3
    assert "DISAGREE" in X.forward_pass_observations(diff["forward_pass"])[0]


def test_build_config_profiles_and_errors(tmp_path):
    quick = X.build_config("quick", 3)
    assert quick.seed == 3 and quick.mono_train < X.build_config("default").mono_train
    with pytest.raises(ConfigError, match="expected a profile"):
        X.build_config("huge")
    with pytest.raises(ConfigError, match="unknown"):
        X.build_config("quick", 0, epochs=3)
    with pytest.raises(DataError, match="aclImdb"):
        X.build_config("quick", 0, imdb_dir=str(tmp_path))


def test_quick_run_writes_all_seven_parts(tmp_path):
    from rnnlab.experiments.runner import run_section

    result = run_section("exercises", out_root=tmp_path, profile="quick", progress=False, notebook=True)
    m = json.loads((tmp_path / "exercises" / "metrics.json").read_text())
    assert {"architectures", "counting", "forward_pass", "toy", "monotonic", "sentiment", "comparison"} <= set(m)
    assert m["toy"]["accuracy_after"] == 1.0
    assert m["counting"]["exercise"]["one_bias"] == 24 and m["counting"]["all_match"]
    assert m["forward_pass"]["max_abs_diff"] < 1e-12
    for fig in result.figures:
        assert (tmp_path / "exercises" / fig.path).stat().st_size > 10_000
    assert {t.title.split(".")[0] for t in result.tables} == {"1", "2", "6", "7"}
    assert (tmp_path / "exercises" / "exercises.ipynb").is_file()
    assert len(result.observations) >= 10


def test_cli_count_and_errors(capsys):
    assert main(["exercises", "count", "--cell", "lstm", "--input", "4", "--hidden", "3"]) == 0
    out = capsys.readouterr().out
    assert "4*(3*4 + 3*3 + 2*3) = 108" in out and "matches" in out
    assert main(["exercises", "count", "--hidden", "0"]) == 2
    assert "expected --hidden >= 1, found 0" in capsys.readouterr().err


def test_cli_architectures_and_toy(capsys):
    assert main(["exercises", "architectures"]) == 0
    assert "encoder-decoder" in capsys.readouterr().out
    assert main(["exercises", "toy", "--epochs", "150"]) == 0
    assert "100%" in capsys.readouterr().out


def test_sentiment_part_reads_an_aclimdb_folder(tmp_path):
    from rnnlab.experiments.base import RunContext

    for split in ("train", "test"):
        for folder, words in (("pos", "a wonderful moving film"), ("neg", "a dull terrible film")):
            d = tmp_path / "aclImdb" / split / folder
            d.mkdir(parents=True)
            for i in range(4):
                (d / f"{i}_5.txt").write_text(f"{words} number {i}.<br /><br />Really.", encoding="utf-8")
    config = X.build_config("quick", 0, imdb_dir=str(tmp_path))
    assert config.imdb_dir.endswith("aclImdb")
    ctx = RunContext(out_dir=tmp_path / "out", profile="quick", progress=False)
    figures, tables, texts = [], [], {}
    m = X._part_sentiment(config, ctx, figures, tables, texts)
    assert m["source"] == "IMDb (aclImdb)" and m["unit"] == "reviews"
    assert m["train_size"] == m["test_size"] == 8
    assert len(m["attributions"]) == config.attribution_count
    assert all((ctx.out_dir / f.path).is_file() for f in figures)
    assert X.sentiment_observations(m)
