"""Q3 section end to end (quick profile, offline): measure once, then tell; weights labelling."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import q3, runner
from rnnlab.experiments.base import RunContext, declared_options
from rnnlab.models import cnn
from rnnlab.results import load_metrics

FUSION_FIGURES = ("fusion_heatmap", "fusion_bars", "retrieval", "region_similarity")
ALL_FIGURES = {"images", "pca_trajectories", "tsne", "word_similarity", "question_similarity",
               "norm_growth", "encoder_metrics", *FUSION_FIGURES}


def _offline(mp: pytest.MonkeyPatch, torch_home) -> None:
    """An empty torch home and no network: without a file the CNN can only be untrained."""
    mp.setenv("TORCH_HOME", str(torch_home))

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used in tests")

    mp.setattr(cnn, "server_reachable", no_network)
    mp.setattr(cnn, "download_weights", no_network)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One offline quick run of q3 (no notebook), shared by the tests of this module."""
    root = tmp_path_factory.mktemp("q3")
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp, root / "torch")
        result = runner.run_section("q3", root / "out", profile="quick", progress=False,
                                    options={"no_download": True}, notebook=False)
    return result, root / "out" / "q3"


def _names(figures):
    return [f.path.split("/")[-1][:-4] for f in figures]


def test_quick_run_offline_is_labelled_untrained(quick_run):
    result, folder = quick_run
    for figure in result.figures:
        assert (folder / figure.path).is_file(), figure.path
    assert set(_names(result.figures)) == ALL_FIGURES
    for figure in result.figures:
        if figure.path.split("/")[-1][:-4] in FUSION_FIGURES:
            assert "untrained CNN" in figure.caption
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["cnn"]["pretrained"] is False and metrics["cnn"]["sha256"] is None
    assert metrics["cnn"]["weights_status"] == "untrained"
    assert "data" not in metrics and "map" not in metrics["fusion"]  # prose left metrics
    assert metrics["grounded"] is None
    assert set(metrics["encoders"]) == {"RNN", "LSTM", "GRU"}
    for cell in ("RNN", "LSTM", "GRU"):
        assert len(metrics["encoders"][cell]["order_sensitivity"]["per_seed"]) == 2
        r = metrics["fusion"]["encoders"][cell]
        assert 1 <= r["mean_rank"]["mean"] <= metrics["fusion"]["n_images"]
    assert any("untrained CNN" in o for o in result.observations)
    assert "untrained CNN" in result.text_blocks["data"]
    section = json.loads((folder / "section.json").read_text())
    assert section["config"]["cnn_fallback"] == "untrained"


def test_observations_are_the_sentences_of_the_saved_metrics(quick_run):
    """The run's observations are the sentences rebuilt from its metrics.json alone (that a
    rebuild of the folder writes the same observations.md is the next test's)."""
    from rnnlab.observations import q3 as say

    result, folder = quick_run
    assert result.observations == say.observations(load_metrics(folder))
    assert (folder / "observations.md").read_text().splitlines()[2:] == [f"- {o}" for o in result.observations]


def test_rebuild_from_the_folder_alone(quick_run):
    result, folder = quick_run
    written = (folder / "observations.md").read_text()
    shutil.rmtree(folder / "figures")
    (folder / "observations.md").unlink()
    rebuilt = runner.rebuild_section(folder)
    assert (folder / "observations.md").read_text() == written
    assert rebuilt.observations == result.observations
    assert [f.path for f in rebuilt.figures] == [f.path for f in result.figures]
    assert [f.caption for f in rebuilt.figures] == [f.caption for f in result.figures]
    assert rebuilt.tables == result.tables
    for figure in rebuilt.figures:
        assert (folder / figure.path).is_file(), figure.path


def test_random_weights_in_the_hub_cache_are_user_supplied_not_imagenet(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    _offline(monkeypatch, tmp_path / "torch")
    torch.manual_seed(0)
    path = tmp_path / "torch" / "hub" / "checkpoints" / cnn.RESNET18_FILE
    path.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), path)  # the right name, not the right file
    config = q3.build_config("quick", 0, {"limit": 10, "cnn_fallback": "stop"})
    config = dataclasses.replace(config, n_seeds=1, n_permutations=50)
    ctx = RunContext(out_dir=tmp_path / "q3", profile="quick", progress=False)
    metrics = q3.measure(config, ctx)
    assert metrics["cnn"]["weights_status"] == "user-supplied"
    assert metrics["cnn"]["pretrained"] is False and metrics["cnn"]["source"] == "hub-cache"
    assert len(metrics["cnn"]["sha256"]) == 64 and metrics["grounded"] is not None
    shown = q3.present(json.loads(json.dumps(metrics)), config, ctx.out_dir)
    assert any(t.title.startswith("Top-5 labels (ResNet18 with user-supplied") for t in shown.tables)
    for figure in shown.figures:
        assert "untrained CNN" not in figure.caption
        assert "ResNet18 with ImageNet weights" not in figure.caption
    for name in FUSION_FIGURES:
        caption = next(f.caption for f in shown.figures if f.path.endswith(f"/{name}.png"))
        assert "not verified as ImageNet" in caption
    assert (tmp_path / "q3" / "figures" / "grounded_heatmap.png").is_file()
    text = " ".join(shown.observations)
    assert "untrained CNN" not in text and "not verified as ImageNet" in text


def test_build_config_checks_options_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="found both"):
        q3.build_config("quick", 0, {"vqa_dir": str(tmp_path), "cocoqa_dir": str(tmp_path)})
    with pytest.raises(DataError, match="expected a folder at --vqa-dir"):
        q3.build_config("quick", 0, {"vqa_dir": str(tmp_path / "none")})
    with pytest.raises(DataError, match="--cnn-weights"):
        q3.build_config("quick", 0, {"cnn_weights": str(tmp_path / "none.pth")})
    with pytest.raises(ConfigError, match="a value >= 1 for --limit"):
        q3.build_config("default", 0, {"limit": 0})
    with pytest.raises(ConfigError, match="expected one of untrained, stop for --cnn-fallback"):
        q3.build_config("default", 0, {"cnn_fallback": "maybe"})
    with pytest.raises(ConfigError, match="expected options of q3"):
        q3.build_config("default", 0, {"hidden_size": 3})
    real = q3.build_config("default", 0, {"vqa_dir": str(tmp_path)})
    assert real.cnn_fallback == "stop" and real.limit == 300
    demo = q3.build_config("default", 0, {})
    assert demo.cnn_fallback == "untrained" and demo.limit is None
    assert q3.build_config("quick", 0, {}).limit == q3.QUICK_DEMO_LIMIT
    assert q3.build_config("quick", 0, {"cnn_fallback": "stop"}).cnn_fallback == "stop"


def test_declared_options():
    options = declared_options(q3.Config)
    assert list(options) == ["vqa_dir", "cocoqa_dir", "coco_images", "limit", "cnn_weights",
                             "cnn_fallback", "no_download"]
    assert options["no_download"].flag == "--no-download"
    assert options["cnn_fallback"].spec.choices == ("untrained", "stop")
    for name in ("run", "add_arguments", "options_from_args"):
        assert not hasattr(q3, name)


def test_topics_claim_everything_once_and_findings_link_to_them(quick_run):
    from rnnlab.observations import q3 as say

    result, _ = quick_run
    keys = [t.key for t in result.topics]
    assert keys == [key for key, _ in say.TOPICS]
    claimed = [f for t in result.topics for f in t.figures]
    assert claimed == [f.path for f in result.figures]  # every figure once, in the shown order
    assert sorted(x for t in result.topics for x in t.tables) == sorted(t.title for t in result.tables)
    assert sorted(x for t in result.topics for x in t.text_blocks) == sorted(result.text_blocks)
    assert [s for t in result.topics for s in t.observations] == result.observations
    assert 3 <= len(result.findings) <= 6 and all(f.topic in keys for f in result.findings)
    assert [x.split(":")[0] for x in result.limitations] == [
        "CNN untrained", "demo set instead of VQA v2", "quick profile"]


def test_notebook_shows_every_figure_in_order_with_live_cells(quick_run):
    from rnnlab.report.notebooks import execute_notebook

    result, folder = quick_run
    env = {"RNNLAB_OUT": str(folder.parent.resolve()), "RNNLAB_PROFILE": "quick", "RNNLAB_SEED": "0",
           "RNNLAB_OPTIONS": json.dumps({"no_download": True}), "RNNLAB_PROGRESS": "0"}
    target = folder / "q3_test.ipynb"
    execute_notebook(runner.find_notebook("q3"), target, cwd=folder, env=env)
    cells = json.loads(target.read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not any(o["output_type"] == "error" for o in outputs)
    captions = [line for o in outputs if "text/markdown" in o.get("data", {})
                for line in ["".join(o["data"]["text/markdown"])] if line.startswith("*Figure ")]
    assert [c.split(".")[0] for c in captions] == [f"*Figure {k + 1}" for k in range(len(result.figures))]
    printed = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert "largest difference from the saved states of this question" in printed
    assert f"{len(result.metrics['dataset']['image_labels'])} of" in printed  # the feature cache
    assert "before centring" in printed and "after centring" in printed


def test_every_json_file_of_the_run_is_strict_json(quick_run):
    """metrics.json and section.json parse with a strict parser (no NaN or Infinity constants)."""
    import json as _json

    folder = quick_run[1]

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    for name in ("metrics.json", "section.json"):
        _json.loads((folder / name).read_text(encoding="utf-8"), parse_constant=refuse)
