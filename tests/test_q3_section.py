"""Q3 section end to end (quick profile, offline): figures, metrics, untrained-CNN labelling."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import q3
from rnnlab.experiments.base import RunContext
from rnnlab.experiments.runner import run_section
from rnnlab.models import cnn

FUSION_FIGURES = ("fusion_heatmap", "fusion_bars", "retrieval", "region_similarity")


@pytest.fixture()
def offline(tmp_path, monkeypatch):
    """An empty torch home and no network: the CNN can only be untrained."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used in tests")

    monkeypatch.setattr(cnn, "server_reachable", no_network)
    monkeypatch.setattr(cnn, "download_weights", no_network)
    return tmp_path / "torch"


def test_quick_run_offline_is_labelled_untrained(tmp_path, offline):
    result = run_section(
        "q3",
        tmp_path / "out",
        profile="quick",
        progress=False,
        options={"allow_download": False},
        notebook=False,
    )
    folder = tmp_path / "out" / "q3"
    for figure in result.figures:
        assert (folder / figure.path).is_file(), figure.path
    names = {f.path.split("/")[-1][:-4] for f in result.figures}
    assert {
        "images",
        "pca_trajectories",
        "tsne",
        "word_similarity",
        "question_similarity",
        "norm_growth",
        "encoder_metrics",
        *FUSION_FIGURES,
    } <= names
    for figure in result.figures:
        if figure.path.split("/")[-1][:-4] in FUSION_FIGURES:
            assert "untrained CNN" in figure.caption
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["cnn"]["pretrained"] is False and metrics["cnn"]["sha256"] is None
    assert "untrained CNN" in metrics["data"]["image features"]
    assert metrics["grounded"] is None
    assert set(metrics["encoders"]) == {"RNN", "LSTM", "GRU"}
    for cell in ("RNN", "LSTM", "GRU"):
        assert len(metrics["encoders"][cell]["order_sensitivity"]["per_seed"]) == 2
        r = metrics["fusion"]["encoders"][cell]
        assert 1 <= r["mean_rank"]["mean"] <= metrics["fusion"]["n_images"]
    assert any("untrained CNN" in o for o in result.observations)
    section = json.loads((folder / "section.json").read_text())
    assert section["config"]["allow_untrained_cnn"] is True


def test_with_weights_in_the_hub_cache_there_are_labels_and_a_grounded_reference(tmp_path, offline):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    path = offline / "hub" / "checkpoints" / cnn.RESNET18_FILE
    path.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), path)  # stands in for the ImageNet file
    config = q3.build_config(
        "quick", 0, limit=10, allow_untrained_cnn=False, n_seeds=1, n_permutations=50
    )
    result = q3.run(config, RunContext(out_dir=tmp_path / "q3", profile="quick", progress=False))
    assert result.metrics["cnn"]["pretrained"] is True
    assert result.metrics["cnn"]["source"] == "hub-cache"
    assert len(result.metrics["cnn"]["sha256"]) == 64
    assert result.metrics["grounded"] is not None
    assert any(t.title.startswith("Top-5 ImageNet labels") for t in result.tables)
    assert not any("untrained CNN" in f.caption for f in result.figures)
    assert (tmp_path / "q3" / "figures" / "grounded_heatmap.png").is_file()
    assert not any("untrained CNN" in o for o in result.observations)


def test_build_config_checks_options_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="found both"):
        q3.build_config("quick", vqa_dir=str(tmp_path), cocoqa_dir=str(tmp_path))
    with pytest.raises(DataError, match="expected a folder at --vqa-dir"):
        q3.build_config("quick", vqa_dir=str(tmp_path / "none"))
    with pytest.raises(DataError, match="--cnn-weights"):
        q3.build_config("quick", cnn_weights=str(tmp_path / "none.pth"))
    with pytest.raises(ConfigError, match="positive integer"):
        q3.build_config("default", limit=0)
    with pytest.raises(ConfigError, match="unknown"):
        q3.build_config("default", hidden=3)
    real = q3.build_config("default", vqa_dir=str(tmp_path))
    assert real.allow_untrained_cnn is False and real.limit == 300
    demo = q3.build_config("default")
    assert demo.allow_untrained_cnn is True and demo.limit is None


def test_command_line_options():
    parser = argparse.ArgumentParser()
    q3.add_arguments(parser)
    args = parser.parse_args(
        ["--limit", "5", "--require-pretrained-cnn", "--no-download", "--cnn-weights", "w.pth"]
    )
    assert q3.options_from_args(args) == {
        "limit": 5,
        "allow_untrained_cnn": False,
        "cnn_weights": "w.pth",
        "allow_download": False,
    }
    assert q3.options_from_args(parser.parse_args([])) == {}
