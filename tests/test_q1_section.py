"""Q1 section end to end (quick profile): results folder, figures, notebook, --text, bad input,
observations equal to the sentences rebuilt from metrics.json, rebuild without retraining."""

import json
import shutil
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import q1

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
        "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 8


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from rnnlab.experiments.runner import run_section

    root = tmp_path_factory.mktemp("results")
    text = root / "dickens.txt"
    text.write_text(TEXT, encoding="utf-8")
    checkout = Path(__file__).resolve().parents[1] / "notebooks"  # the source checkout's notebooks
    result = run_section("q1", root, profile="quick", seed=0, device="cpu", progress=False,
                         options={"text_path": str(text)},
                         notebook_dir=checkout if (checkout / "q1.py").is_file() else None)
    return root, result


def test_quick_run_writes_results_figures_and_notebook(quick_run):
    root, result = quick_run
    out = root / "q1"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["text_source"]["name"] == "file" and metrics["text_source"]["files"][0].endswith("dickens.txt")
    assert set(metrics["tasks"]) == {"sine", "text"}
    for task in ("sine", "text"):
        models = metrics["tasks"][task]["models"]
        assert set(models) == {"RNN", "LSTM", "GRU"}
        assert all(len(m["final_val_per_seed"]) == 2 for m in models.values())  # quick: 2 seeds
    g = metrics["gradflow"]
    assert set(g["cells"]) == {"RNN", "LSTM", "GRU"}
    assert len(g["cells"]["RNN"]["init"]["20"]["norms"]) == 20
    for fig in result.figures:
        assert (out / fig.path).is_file()
    assert {f.path for f in result.figures} >= {"figures/loss_curves.png", "figures/gradflow_init_vs_trained.png",
                                                "figures/gradflow_vanishing_exploding.png",
                                                "figures/jacobian_norms.png"}
    assert any("per step back in time" in o for o in result.observations)
    assert any(k.startswith("Sampled text, LSTM") for k in result.text_blocks)
    nb = json.loads((out / "q1.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert outputs and not any(o.get("output_type") == "error" for o in outputs)
    assert "dickens.txt" in json.dumps(outputs)  # the notebook loaded this run, not another


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """A quick run without the notebook, into its own folder (rebuilt by the tests below)."""
    from rnnlab.experiments.runner import run_section

    root = tmp_path_factory.mktemp("plain")
    run_section("q1", root, profile="quick", seed=0, device="cpu", progress=False, notebook=False)
    return root / "q1"


@pytest.fixture(scope="module")
def rebuilt(plain_run):
    """The plain run rebuilt once from its folder alone, with its figures and observations.md
    deleted first: (observations.md as written, the figure files' names, the rebuild's result)."""
    from rnnlab.experiments.runner import rebuild_section

    written = (plain_run / "observations.md").read_text(encoding="utf-8")
    figures = sorted(p.name for p in (plain_run / "figures").iterdir())
    shutil.rmtree(plain_run / "figures")
    (plain_run / "observations.md").unlink()
    return written, figures, rebuild_section(plain_run)


def test_observations_equal_the_sentences_rebuilt_from_metrics(plain_run, rebuilt):
    from rnnlab.experiments.base import config_from_dict
    from rnnlab.observations.q1 import observations
    from rnnlab.results import load_metrics, load_section_data

    written, _, result = rebuilt
    data = load_section_data(plain_run)
    config = config_from_dict(q1.Config, data["settings"]["config"])
    rebuilt_sentences = observations(load_metrics(plain_run), config)
    assert written == "\n".join([f"# {q1.TITLE}", "", *[f"- {o}" for o in rebuilt_sentences]]) + "\n"
    assert result.observations == rebuilt_sentences == data["observations"]
    assert (plain_run / "observations.md").read_text(encoding="utf-8") == written


def test_rebuild_brings_back_figures_and_observations(plain_run, rebuilt):
    written, figures, result = rebuilt
    assert (plain_run / "observations.md").read_text(encoding="utf-8") == written
    assert sorted(p.name for p in (plain_run / "figures").iterdir()) == figures
    assert sorted(f.path.split("/")[-1] for f in result.figures) == figures
    assert any(k.startswith("Sampled text, GRU") for k in result.text_blocks)


def test_build_config_profiles_and_bad_options(tmp_path):
    assert q1.build_config("quick", 0, {}).n_seeds < q1.build_config("default", 0, {}).n_seeds
    assert q1.build_config("default", 0, {}).n_seeds >= 3
    with pytest.raises(ConfigError, match="profile"):
        q1.build_config("huge", 0, {})
    with pytest.raises(ConfigError, match="colour"):
        q1.build_config("quick", 0, {"colour": "red"})
    with pytest.raises(ConfigError, match="--text"):
        q1.build_config("quick", 0, {"text_path": ""})
    with pytest.raises(DataError, match="no such file"):
        q1.build_config("quick", 0, {"text_path": str(tmp_path / "missing.txt")})
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        q1.build_config("quick", 0, {"text_path": str(tmp_path / "empty.txt")})
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1") * 50)
    with pytest.raises(DataError, match="UTF-8"):
        q1.build_config("quick", 0, {"text_path": str(tmp_path / "latin1.txt")})


def test_short_text_file_fails_in_build_config(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    with pytest.raises(DataError, match="expected at least"):
        q1.build_config("quick", 0, {"text_path": str(short)})


def test_text_option_is_declared_on_the_config():
    from rnnlab.experiments.base import declared_options

    opts = declared_options(q1.Config)
    assert list(opts) == ["text_path", "resume", "workers"] and opts["text_path"].flag == "--text"
    assert opts["resume"].flag == "--resume" and opts["resume"].kind is bool and opts["resume"].default is False
    assert opts["workers"].flag == "--workers" and opts["workers"].kind is int and opts["workers"].optional
    assert not hasattr(q1, "run") and not hasattr(q1, "add_arguments")


@pytest.mark.parametrize("content", [None, ""])
def test_cli_text_errors_are_one_line(tmp_path, capsys, content):
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_text(content)
    status = main(["run", "q1", "--quick", "--out", str(tmp_path / "r"), "--text", str(path), "--no-notebook"])
    err = capsys.readouterr().err.strip()
    assert status != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err


def test_every_figure_table_and_text_is_claimed_by_a_topic(plain_run, rebuilt):
    from rnnlab.results import load_metrics

    metrics = load_metrics(plain_run)
    assert list(metrics)[-1] == "correctness"  # added after every existing key
    assert set(metrics["correctness"]["cells"]) == {"rnn", "lstm", "gru", "gru-cho"}
    shown = rebuilt[2]
    topics = {t.key: t for t in shown.topics}
    claimed = [p for t in shown.topics for p in t.figures]
    assert sorted(claimed) == sorted(f.path for f in shown.figures) and len(set(claimed)) == len(claimed)
    assert sorted(x for t in shown.topics for x in t.tables) == sorted(t.title for t in shown.tables)
    assert sorted(x for t in shown.topics for x in t.text_blocks) == sorted(shown.text_blocks)
    assert [s for t in shown.topics for s in t.observations] == shown.observations
    assert topics["correctness"].tables[0].startswith("Correctness of the hand-written BPTT")
    assert "below the tolerance" in topics["correctness"].observations[0]
    assert 3 <= len(shown.findings) <= 6 and all(f.topic in topics for f in shown.findings)
    assert "quick profile: tiny settings, numbers are not meaningful" in shown.limitations


def test_every_json_file_of_the_run_is_strict_json(quick_run):
    """metrics.json and section.json parse with a strict parser (no NaN or Infinity constants)."""
    import json as _json

    folder = quick_run[0] / 'q1'

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    for name in ("metrics.json", "section.json"):
        _json.loads((folder / name).read_text(encoding="utf-8"), parse_constant=refuse)
