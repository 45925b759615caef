"""Q3 figures: legends off the data, model colours, the region title by weights status."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from rnnlab.viz import q3 as viz
from rnnlab.viz.style import model_color


def _r(rank, top1):
    return {"mean_rank": {"mean": rank, "std": 0.2}, "top1": {"mean": top1, "std": 0.05}}


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("grounded", [None, _r(1.5, 0.6)])
def test_retrieval_legend_is_off_the_data_and_ranks_use_their_scale(grounded):
    fusion = {"n_images": 5, "chance_mean_rank": 3.0, "chance_top1": 0.2,
              "encoders": {"RNN": _r(2.9, 0.27), "LSTM": _r(3.0, 0.23), "GRU": _r(2.9, 0.19)}}
    fig = viz.plot_retrieval(fusion, grounded, "untrained CNN")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert not any(_overlaps(box, ax.get_window_extent(renderer)) for ax in fig.axes)
    low, high = sorted(fig.axes[0].get_ylim())
    assert low < 1 and 5 < high < 6  # ranks 1..M, no bars from 0
    assert fig.axes[0].get_ylim()[0] > fig.axes[0].get_ylim()[1]  # rank 1 on top
    colors = [line.get_color() for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert colors[:3] == [model_color(c) for c in ("RNN", "LSTM", "GRU")]
    plt.close(fig)


def test_norm_growth_legend_outside_the_axes():
    t = np.arange(4.0)
    profiles = {c: (t + k, np.full(4, 0.1), np.full(4, 3)) for k, c in enumerate(["RNN", "GRU"])}
    ax = viz.plot_norm_growth(profiles)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert not _overlaps(ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer))
    plt.close(fig)


@pytest.mark.parametrize("looks, words", [(True, "Where does the question 'look'?"),
                                          (False, "Spatial bias of the 7x7 feature grid")])
def test_region_title_follows_the_weights_status(looks, words):
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    regions = {"RNN": [np.linspace(-1, 1, 49).reshape(7, 7)]}
    fig = viz.plot_region_similarity([image], ["what is it?"], regions, "untrained CNN", looks=looks)
    assert fig._suptitle.get_text().startswith(words)
    plt.close(fig)


@pytest.mark.parametrize("low, cmap, vmin", [(0.3, "viridis", 0.3), (-0.2, viz.SIM_CMAP, -1.0)])
def test_word_similarity_scale_shows_the_differences(low, cmap, vmin):
    mat = np.array([[1.0, low], [low, 1.0]])
    other = np.array([[1.0, 0.5], [0.5, 1.0]])
    fig = viz.plot_word_similarity({"RNN": [mat], "LSTM": [other]}, [["a", "b"]])
    for ax in fig.axes[:2]:  # one scale for every panel
        image = ax.images[0]
        assert image.get_cmap().name == cmap and image.norm.vmin == pytest.approx(vmin)
    plt.close(fig)
