"""The exercises section: config, a quick run and its rebuild from metrics.json, the CLI.

The sentences themselves are tested with fabricated numbers in test_exercises_observations.py.
"""

import json
import shutil

import pytest

from rnnlab.cli import main
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import exercises as X


def test_build_config_profiles_and_errors(tmp_path):
    quick = X.build_config("quick", 3)
    assert quick.seed == 3 and quick.mono_train < X.build_config("default").mono_train
    with pytest.raises(ConfigError, match="expected a profile"):
        X.build_config("huge")
    with pytest.raises(ConfigError, match="expected options of exercises"):
        X.build_config("quick", 0, {"epochs": 3})
    with pytest.raises(ConfigError, match="expected a non-empty value for --imdb-dir"):
        X.build_config("quick", 0, {"imdb_dir": ""})
    with pytest.raises(DataError, match="aclImdb"):
        X.build_config("quick", 0, {"imdb_dir": str(tmp_path)})


def test_imdb_dir_is_declared_like_q2s():
    from rnnlab.experiments.base import declared_options

    opt = declared_options(X.Config)["imdb_dir"]
    assert opt.flag == "--imdb-dir" and opt.kind is str and opt.optional and opt.spec.choices is None
    assert opt.spec.help == "an aclImdb/ folder in its official layout (train/test, pos/neg)"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from rnnlab.experiments.runner import run_section

    root = tmp_path_factory.mktemp("exercises")
    result = run_section("exercises", out_root=root, profile="quick", progress=False, notebook=False)
    return root / "exercises", result


def test_quick_run_writes_all_seven_parts(quick_run):
    out, result = quick_run
    m = json.loads((out / "metrics.json").read_text())
    assert {"architectures", "counting", "forward_pass", "toy", "monotonic", "sentiment", "comparison"} <= set(m)
    assert m["toy"]["accuracy_after"] == 1.0
    assert m["counting"]["exercise"]["one_bias"] == 24 and m["counting"]["all_match"]
    assert m["forward_pass"]["max_abs_diff"] < 1e-12
    for fig in result.figures:
        assert (out / fig.path).stat().st_size > 10_000
    assert {t.title.split(".")[0] for t in result.tables} == {"1", "2", "6", "7"}
    assert len(result.observations) >= 10


def test_observations_are_rebuilt_from_metrics_alone(quick_run):
    from rnnlab.experiments.runner import rebuild_section
    from rnnlab.observations.exercises import observations
    from rnnlab.results import load_metrics

    out, result = quick_run
    written = (out / "observations.md").read_text(encoding="utf-8")
    assert observations(load_metrics(out)) == result.observations
    rebuilt = rebuild_section(out)
    assert (out / "observations.md").read_text(encoding="utf-8") == written
    assert rebuilt.observations == result.observations

    shutil.rmtree(out / "figures")
    (out / "observations.md").unlink()
    again = rebuild_section(out)
    assert again.observations == result.observations
    assert (out / "observations.md").read_text(encoding="utf-8") == written
    assert [f.path for f in again.figures] == [f.path for f in result.figures]
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f.path.split("/")[-1] for f in result.figures)
    assert again.tables == result.tables and again.text_blocks == result.text_blocks


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
    from rnnlab.observations.exercises import sentiment_observations
    from rnnlab.results import Presentation, to_jsonable

    for split in ("train", "test"):
        for folder, words in (("pos", "a wonderful moving film"), ("neg", "a dull terrible film")):
            d = tmp_path / "aclImdb" / split / folder
            d.mkdir(parents=True)
            for i in range(4):
                (d / f"{i}_5.txt").write_text(f"{words} number {i}.<br /><br />Really.", encoding="utf-8")
    config = X.build_config("quick", 0, {"imdb_dir": str(tmp_path)})
    assert config.imdb_dir.endswith("aclImdb")
    ctx = RunContext(out_dir=tmp_path / "out", profile="quick", progress=False)
    m = to_jsonable(X.measure_sentiment(config, ctx))
    assert m["source"] == "IMDb (aclImdb)" and m["unit"] == "reviews"
    assert m["train_size"] == m["test_size"] == 8
    assert len(m["attributions"]) == config.attribution_count
    shown = Presentation()
    X.present_sentiment(m, config, ctx.out_dir / "figures", shown)
    assert all((ctx.out_dir / f.path).is_file() for f in shown.figures)
    assert config.imdb_dir in shown.text_blocks["6. sentiment data"]
    assert sentiment_observations(m)


def test_topics_claim_everything_and_findings_link_to_topics(quick_run):
    from rnnlab.observations.exercises import TOPICS

    _, result = quick_run
    assert [t.key for t in result.topics] == [key for key, *_ in TOPICS]
    def claimed(attr):
        return [x for t in result.topics for x in getattr(t, attr)]

    assert claimed("observations") == result.observations
    assert sorted(claimed("figures")) == sorted(f.path for f in result.figures)
    assert sorted(claimed("tables")) == sorted(t.title for t in result.tables)
    assert sorted(claimed("text_blocks")) == sorted(result.text_blocks)
    assert "figures/word_importance.png" in next(t for t in result.topics if t.key == "attribution").figures
    assert 3 <= len(result.findings) <= 6
    assert {f.topic for f in result.findings} <= {t.key for t in result.topics}
    assert result.limitations[0] == "quick profile: tiny settings, numbers are not meaningful"
    assert any(x.startswith("IMDb not used") for x in result.limitations)


def test_every_json_file_of_the_run_is_strict_json(quick_run):
    """metrics.json and section.json parse with a strict parser (no NaN or Infinity constants)."""
    import json as _json

    folder = quick_run[0]

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    for name in ("metrics.json", "section.json"):
        _json.loads((folder / name).read_text(encoding="utf-8"), parse_constant=refuse)
