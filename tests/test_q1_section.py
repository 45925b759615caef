"""Q1 section end to end (quick profile): results folder, figures, notebook, --text, bad input."""

import json

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
    result = run_section("q1", root, profile="quick", seed=0, device="cpu", progress=False,
                         options={"text_path": str(text)})
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


def test_build_config_profiles_and_bad_options(tmp_path):
    assert q1.build_config("quick").n_seeds < q1.build_config("default").n_seeds
    assert q1.build_config("default").n_seeds >= 3
    with pytest.raises(ConfigError, match="profile"):
        q1.build_config("huge")
    with pytest.raises(ConfigError, match="unknown"):
        q1.build_config("quick", colour="red")
    with pytest.raises(DataError, match="no such file"):
        q1.build_config("quick", text_path=str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        q1.build_config("quick", text_path=str(tmp_path / "empty.txt"))


def test_short_text_file_is_a_clear_error(tmp_path):
    from rnnlab.experiments.base import RunContext

    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    config = q1.build_config("quick", text_path=str(short))
    with pytest.raises(DataError, match="expected at least"):
        q1.run(config, RunContext(tmp_path / "out", profile="quick", progress=False))


@pytest.mark.parametrize("content", [None, ""])
def test_cli_text_errors_are_one_line(tmp_path, capsys, content):
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_text(content)
    status = main(["run", "q1", "--quick", "--out", str(tmp_path / "r"), "--text", str(path), "--no-notebook"])
    err = capsys.readouterr().err.strip()
    assert status != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err
