"""Figures of Q3: images, hidden-state trajectories (PCA, t-SNE), similarity heatmaps, fusion.

Every function takes measured arrays (never a model) and returns a Figure; the Q3 section
saves them with :func:`save`. Each encoder keeps its colour from :mod:`rnnlab.viz.style`.
Figures that use image features put ``cnn_words`` ("untrained CNN" or "ResNet18 with ImageNet
weights") in their title.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from rnnlab.viz.style import EXTRA_COLORS, model_color, save_figure

EXAMPLE_COLORS = ["#332288", "#CC6677", "#117733", "#882255", "#44AA99", "#999933"]
SIM_CMAP = "RdBu_r"


def save(fig: plt.Figure, path: Path) -> Path:
    """Save a figure as PNG and close it."""
    return save_figure(fig, path)


def _color(name: str) -> str:
    try:
        return model_color(name)
    except KeyError:
        return "#777777"


def _thumb(image: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Every k-th pixel so that the longer side is at most ``max_side`` (fast to draw)."""
    k = max(1, int(np.ceil(max(image.shape[:2]) / max_side)))
    return image[::k, ::k]


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def plot_image_grid(
    images: Sequence[np.ndarray],
    labels: Sequence[str],
    top5: Sequence[Sequence[tuple[str, float]]] | None,
    heading: str,
    n_questions: Sequence[int],
    max_images: int = 24,
) -> plt.Figure:
    """Thumbnails of the images with their name, question count and (when given) top label.

    ``heading`` says where the labels come from (e.g. "untrained CNN: no ImageNet labels").
    """
    n = min(len(images), max_images)
    cols = min(6, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(_thumb(images[k]))
        title = f"{labels[k]} ({n_questions[k]} q.)"
        if top5 is not None:
            name, p = top5[k][0]
            title += f"\n{_short(name, 22)} {p:.2f}"
        ax.set_title(title, fontsize=8)
    fig.suptitle(f"The images of the question set ({heading})")
    fig.tight_layout()
    return fig


def _annotate_path(ax: plt.Axes, xy: np.ndarray, words: Sequence[str], color: str) -> None:
    ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.0, alpha=0.6)
    for t in range(1, len(xy)):
        ax.annotate(
            "",
            xy=xy[t],
            xytext=xy[t - 1],
            arrowprops={"arrowstyle": "->", "color": color, "lw": 1.3},
        )
    ax.scatter(xy[:, 0], xy[:, 1], s=14, color=color, zorder=3)
    for t, word in enumerate(words):
        ax.annotate(word, xy[t], textcoords="offset points", xytext=(3, 3), fontsize=7, color=color)


def plot_pca_trajectories(
    pca_data: Mapping[str, Mapping[str, Any]],
    example_tokens: Sequence[Sequence[str]],
) -> plt.Figure:
    """PCA trajectories per encoder, side by side.

    Parameters
    ----------
    pca_data : dict encoder -> {"all": (N, 2), "examples": list of (T_i, 2), "explained": (2,)}
        All states and each example question's states in the encoder's 2-PC basis.
    example_tokens : list of token lists, one per example
    """
    cells = list(pca_data)
    fig, axes = plt.subplots(1, len(cells), figsize=(5.2 * len(cells), 4.8), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        d = pca_data[cell]
        ax.scatter(d["all"][:, 0], d["all"][:, 1], s=5, color="0.8", label="all states")
        for k, (xy, words) in enumerate(zip(d["examples"], example_tokens)):
            color = EXAMPLE_COLORS[k % len(EXAMPLE_COLORS)]
            _annotate_path(ax, np.asarray(xy), words, color)
        ev = d["explained"]
        ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f}% of variance)")
        ax.set_title(cell, color=_color(cell), fontweight="bold")
    handles = [
        plt.Line2D(
            [], [], color=EXAMPLE_COLORS[k % len(EXAMPLE_COLORS)], label=_short(" ".join(t), 60)
        )
        for k, t in enumerate(example_tokens)
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(2, len(handles)),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02 - 0.03 * ((len(handles) + 1) // 2)),
    )
    fig.suptitle(
        "Hidden-state trajectories across the words of a question (untrained encoders, PCA)"
    )
    fig.tight_layout()
    return fig


def plot_tsne(
    points: Mapping[str, np.ndarray],
    lengths: Sequence[int],
    example_positions: Sequence[int],
    example_tokens: Sequence[Sequence[str]],
    perplexity: float,
) -> plt.Figure:
    """t-SNE maps of all hidden states per encoder, coloured by word position.

    Parameters
    ----------
    points : dict encoder -> (N, 2)
        t-SNE coordinates of the states of the questions, concatenated in question order.
    lengths : list of int
        Number of states of each question (sums to N).
    example_positions : list of int
        Which questions (positions in ``lengths``) to connect as trajectories.
    """
    cells = list(points)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    position = np.concatenate([np.arange(n) for n in lengths])
    fig, axes = plt.subplots(
        1, len(cells), figsize=(5.2 * len(cells), 4.8), squeeze=False, layout="constrained"
    )
    sc = None
    for ax, cell in zip(axes[0], cells):
        xy = points[cell]
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=position, cmap="viridis", s=8, alpha=0.75)
        for k, (q, words) in enumerate(zip(example_positions, example_tokens)):
            seg = xy[offsets[q] : offsets[q + 1]]
            _annotate_path(ax, seg, words, EXAMPLE_COLORS[k % len(EXAMPLE_COLORS)])
        ax.set_title(cell, color=_color(cell), fontweight="bold")
        ax.set_xlabel("t-SNE 1 (no units)")
        ax.set_ylabel("t-SNE 2 (no units)")
    if sc is not None:
        fig.colorbar(sc, ax=list(axes[0]), label="word position t (0 = first word)", shrink=0.8)
    fig.suptitle(f"t-SNE of hidden states (perplexity {perplexity:.0f}, fixed seed)")
    return fig


def plot_word_similarity(
    matrices: Mapping[str, Sequence[np.ndarray]],
    example_tokens: Sequence[Sequence[str]],
) -> plt.Figure:
    """Heatmaps of cos(h_s, h_t) within a question: rows = questions, columns = encoders.

    One colour scale for all panels: from the smallest cosine found to 1 (sequential) when no
    cosine is negative, so that the differences between encoders are visible; otherwise -1 to 1
    (diverging).

    Parameters
    ----------
    matrices : dict encoder -> list of (T_i, T_i) cosine matrices, one per example question
    """
    cells = list(matrices)
    low = min(float(np.min(m)) for ms in matrices.values() for m in ms)
    cmap, vmin = ("viridis", low) if low >= 0 else (SIM_CMAP, -1.0)
    rows = len(example_tokens)
    fig, axes = plt.subplots(
        rows,
        len(cells),
        figsize=(4.3 * len(cells), 4.0 * rows),
        squeeze=False,
        layout="constrained",
    )
    im = None
    for r, words in enumerate(example_tokens):
        for c, cell in enumerate(cells):
            ax = axes[r, c]
            mat = np.asarray(matrices[cell][r])
            im = ax.imshow(mat, cmap=cmap, vmin=vmin, vmax=1)
            ax.set_xticks(range(len(words)), words, rotation=60, fontsize=8, ha="right")
            ax.set_yticks(range(len(words)), words, fontsize=8)
            ax.grid(False)
            if r == 0:
                ax.set_title(cell, color=_color(cell), fontweight="bold")
            if c == 0:
                ax.set_ylabel("hidden state after word")
            if r == rows - 1:
                ax.set_xlabel("hidden state after word")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), label="cosine similarity", shrink=0.7)
    fig.suptitle("Cosine similarity between the hidden states of different words")
    return fig


def _group_ticks(ax: plt.Axes, groups: Sequence[str], axis: str) -> None:
    """Tick each run of equal labels at its centre and draw separators between runs."""
    bounds = [0] + [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]] + [len(groups)]
    centres = [(a + b - 1) / 2 for a, b in itertools.pairwise(bounds)]
    names = [groups[a] for a in bounds[:-1]]
    if len(names) > 40:  # too many to read: show every k-th
        k = int(np.ceil(len(names) / 40))
        centres, names = centres[::k], names[::k]
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    if axis == "x":
        setter(centres, names, rotation=70, fontsize=7, ha="right")
    else:
        setter(centres, names, fontsize=7)
    for b in bounds[1:-1]:
        line = ax.axvline if axis == "x" else ax.axhline
        line(b - 0.5, color="k", lw=0.4, alpha=0.5)


def plot_question_similarity(
    matrices: Mapping[str, np.ndarray], question_groups: Sequence[str]
) -> plt.Figure:
    """Question-by-question cosine of the final states per encoder, grouped by image.

    One colour scale for all encoders, from the smallest cosine found to 1.

    Parameters
    ----------
    matrices : dict encoder -> (Q, Q) cosine matrix
    question_groups : list of str
        The image of each question (runs of equal names form the groups).
    """
    cells = list(matrices)
    low = min(float(np.min(m)) for m in matrices.values())
    fig, axes = plt.subplots(
        1, len(cells), figsize=(5.0 * len(cells), 5.4), squeeze=False, layout="constrained"
    )
    im = None
    for k, (ax, cell) in enumerate(zip(axes[0], cells)):
        im = ax.imshow(matrices[cell], cmap="viridis", vmin=low, vmax=1.0)
        ax.grid(False)
        _group_ticks(ax, question_groups, "x")
        _group_ticks(ax, question_groups, "y")
        if k > 0:
            ax.set_yticklabels([])
        ax.set_title(cell, color=_color(cell), fontweight="bold")
    if im is not None:
        fig.colorbar(im, ax=list(axes[0]), label="cosine similarity of final states", shrink=0.8)
    fig.suptitle(
        "Similarity of question embeddings (final hidden states), questions grouped by image",
        y=1.04,
    )
    return fig


def plot_norm_growth(
    profiles: Mapping[str, Sequence[np.ndarray]], ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean ||h_t|| against word position per encoder, with a ±1 std band.

    Parameters
    ----------
    profiles : dict encoder -> (mean (T,), std (T,), count (T,))
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for cell, (mean, std, count) in profiles.items():
        t = np.arange(1, len(mean) + 1)
        ok = np.asarray(count) >= 2
        ax.plot(t, mean, color=_color(cell), marker="o", ms=3, label=cell)
        ax.fill_between(t[ok], (mean - std)[ok], (mean + std)[ok], color=_color(cell), alpha=0.2)
    ax.set_xlabel("word position t (1 = first word)")
    ax.set_ylabel("hidden-state norm ||h_t|| (no units)")
    ax.set_title("Hidden-state norm along the question (untrained encoders)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # off the data
    return ax


def plot_encoder_metrics(
    metrics: Mapping[str, Mapping[str, Mapping[str, Any]]],
    keys: Sequence[str],
    labels: Mapping[str, str],
    n_seeds: int,
) -> plt.Figure:
    """One small bar panel per measure: encoders side by side, error bars = std over seeds."""
    cells = list(metrics)
    cols = 4
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        means = [metrics[c][key]["mean"] for c in cells]
        stds = [metrics[c][key]["std"] for c in cells]
        ax.bar(cells, means, yerr=stds, capsize=4, color=[_color(c) for c in cells])
        ax.set_title(labels.get(key, key), fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(
        f"Untrained encoders compared (bars: mean over {n_seeds} seeds, error bars: "
        "standard deviation)"
    )
    fig.tight_layout()
    return fig


def plot_fusion_heatmaps(
    sims: Mapping[str, np.ndarray],
    image_labels: Sequence[str],
    true_index: Sequence[int],
    cnn_words: str,
    title: str | None = None,
) -> plt.Figure:
    """Images x questions cosine heatmaps, one per method; each question's image is boxed.

    Parameters
    ----------
    sims : dict method -> (M, Q)
    true_index : (Q,) row of each question's image
    """
    names = list(sims)
    M, Q = next(iter(sims.values())).shape
    width = min(22.0, max(6.0, 0.09 * Q + 2.5))
    fig, axes = plt.subplots(
        len(names),
        1,
        figsize=(width, 0.25 * M * len(names) + 1.9 * len(names)),
        squeeze=False,
        layout="constrained",
    )
    lim = max(float(np.max(np.abs(s))) for s in sims.values()) or 1.0
    im = None
    for ax, name in zip(axes[:, 0], names):
        im = ax.imshow(sims[name], cmap=SIM_CMAP, vmin=-lim, vmax=lim, aspect="auto")
        ax.grid(False)
        for q, m in enumerate(true_index):
            ax.add_patch(Rectangle((q - 0.5, m - 0.5), 1, 1, fill=False, ec="k", lw=0.8))
        ax.set_yticks(range(M), image_labels, fontsize=7)
        _group_ticks(ax, [image_labels[m] for m in true_index], "x")
        ax.set_xlabel("questions, grouped by the image they were written about")
        ax.set_title(name, color=_color(name), fontweight="bold", loc="left")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), label="cosine similarity", shrink=0.6)
    fig.suptitle(
        title
        or f"Image-question similarity in the shared space ({cnn_words}, "
        "untrained encoders, no training)"
    )
    return fig


def plot_fusion_bars(
    sims: Mapping[str, np.ndarray],
    image_labels: Sequence[str],
    true_index: Sequence[int],
    examples: Sequence[int],
    question_texts: Sequence[str],
    cnn_words: str,
) -> plt.Figure:
    """Bar charts of one question's similarity with every image: rows = questions, cols = encoders."""
    cells = list(sims)
    M = len(image_labels)
    rows = len(examples)
    fig = plt.figure(figsize=(4.2 * len(cells), (0.2 * M + 1.3) * rows), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(rows, 1))
    for sub, q, text in zip(subfigs, examples, question_texts):
        axes = sub.subplots(1, len(cells), squeeze=False)[0]
        for c, (ax, cell) in enumerate(zip(axes, cells)):
            values = sims[cell][:, q]
            bars = ax.barh(range(M), values, color=_color(cell), alpha=0.5)
            own = bars[int(true_index[q])]
            own.set_alpha(1.0)
            own.set_edgecolor("k")
            own.set_linewidth(1.5)
            ax.axvline(0, color="k", lw=0.6)
            ax.set_yticks(range(M), image_labels if c == 0 else [""] * M, fontsize=7)
            ax.set_ylim(M - 0.5, -0.5)  # first image on top
            ax.set_xlabel("cosine similarity", fontsize=8)
            ax.set_title(cell, color=_color(cell), fontweight="bold", fontsize=9)
        sub.suptitle(f'"{text}"', fontsize=10)
    fig.suptitle(
        f"Which image does each question point to? ({cnn_words}; the question's own "
        "image is outlined)"
    )
    return fig


def plot_retrieval(
    fusion: Mapping[str, Any], grounded: Mapping[str, Any] | None, cnn_words: str
) -> plt.Figure:
    """Mean rank and top-1 rate of the true image per method against chance.

    The rank panel spans the possible ranks 1..M (a rank has no zero, so no bars from 0): a
    method at chance sits on the dashed line in the middle. The legend sits under the panels,
    off the data.
    """
    entries = [(c, r) for c, r in fusion["encoders"].items()]
    if grounded:
        entries.append(("grounded", grounded))
    names = [n for n, _ in entries]
    colors = [_color(n) if n != "grounded" else EXTRA_COLORS[0] for n in names]
    M = fusion["n_images"]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), layout="constrained")
    ax = axes[0]
    for k, (_, r) in enumerate(entries):
        ax.errorbar(k, r["mean_rank"]["mean"], yerr=r["mean_rank"]["std"], fmt="o", ms=9,
                    capsize=5, color=colors[k], lw=1.5)
    chance = ax.axhline(fusion["chance_mean_rank"], color="k", ls="--", lw=1,
                        label=f"chance: mean rank {fusion['chance_mean_rank']:.1f}, "
                              f"top-1 {100 * fusion['chance_top1']:.0f}%")
    perfect = ax.axhline(1, color="0.5", ls=":", lw=1, label="perfect: rank 1")
    ax.set_xticks(x, names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(M + 0.3, 0.7)  # rank 1 (best) on top
    ax.set_ylabel(f"mean rank of the true image (1 = best, {M} = worst)")
    ax.set_title("Rank of the question's own image", fontsize=10)
    ax = axes[1]
    ax.bar(x, [100 * r["top1"]["mean"] for _, r in entries],
           yerr=[100 * r["top1"]["std"] for _, r in entries], capsize=4, color=colors)
    ax.axhline(100 * fusion["chance_top1"], color="k", ls="--", lw=1)
    top = max(100 * (r["top1"]["mean"] + r["top1"]["std"]) for _, r in entries)
    ax.set_ylim(0, max(top, 100 * fusion["chance_top1"]) * 1.15 or 1.0)
    ax.set_xticks(x, names)
    ax.set_ylabel("top-1: own image ranked first (%)")
    ax.set_title("Top-1 retrieval (higher is better)", fontsize=10)
    fig.legend(handles=[chance, perfect], loc="outside lower center", ncol=2, fontsize=8,
               frameon=False)
    fig.suptitle(f"Fusion without training: does a question find its image? ({cnn_words})")
    return fig


def centre_crop(image: np.ndarray, fraction: float = 224 / 256) -> np.ndarray:
    """The centred square the CNN sees: ``fraction`` of the shorter side (resize 256, crop 224)."""
    h, w = image.shape[:2]
    side = round(min(h, w) * fraction)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def plot_region_similarity(
    images: Sequence[np.ndarray],
    question_texts: Sequence[str],
    regions: Mapping[str, Sequence[np.ndarray]],
    cnn_words: str,
    looks: bool = True,
) -> plt.Figure:
    """Each example image with the 7x7 question-region cosine map of every encoder overlaid.

    ``looks`` False (weights not verified as ImageNet): the title calls the map the network's
    spatial bias, not where the question looks.
    """
    cells = list(regions)
    rows = len(images)
    fig, axes = plt.subplots(
        rows,
        len(cells) + 1,
        figsize=(3.2 * (len(cells) + 1), 3.3 * rows),
        squeeze=False,
        layout="constrained",
    )
    lim = max(float(np.max(np.abs(m))) for ms in regions.values() for m in ms) or 1.0
    im = None
    for r, (image, text) in enumerate(zip(images, question_texts)):
        crop = _thumb(centre_crop(image))
        axes[r, 0].imshow(crop)
        axes[r, 0].set_title(_short(text, 38), fontsize=8)
        axes[r, 0].axis("off")
        for c, cell in enumerate(cells):
            ax = axes[r, c + 1]
            ax.imshow(crop)
            h, w = crop.shape[:2]
            im = ax.imshow(
                regions[cell][r],
                cmap=SIM_CMAP,
                vmin=-lim,
                vmax=lim,
                alpha=0.55,
                extent=(0, w, h, 0),
                interpolation="nearest",
            )
            ax.axis("off")
            ax.set_title(cell, color=_color(cell), fontweight="bold", fontsize=9)
    if im is not None:  # an opaque colour bar: the overlay's transparency would fade it
        bar = plt.cm.ScalarMappable(norm=im.norm, cmap=im.cmap)
        fig.colorbar(bar, ax=axes.ravel().tolist(), label="cosine of grid cell with question",
                     shrink=0.6)
    fig.suptitle(
        f"Where does the question 'look'? 7x7 feature grid in the shared space ({cnn_words})"
        if looks else
        f"Spatial bias of the 7x7 feature grid in the shared space ({cnn_words}; not where the "
        "question looks)"
    )
    return fig
