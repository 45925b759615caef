"""Figures of the introductory exercises (:mod:`rnnlab.experiments.exercises`).

Every function takes measured numbers (lists, dicts, arrays, as read back from metrics.json),
never a model. ``plot_*`` draw one panel (``ax=None`` makes one); ``figure_*`` put together the
figures of the section's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from rnnlab.viz.style import OKABE_ITO, model_color

# ----------------------------------------------------------------------------------------------
# 1. Architectures
# ----------------------------------------------------------------------------------------------

#: Unrolled pattern of each architecture: per step, (has input, has output, stage), with stage
#: "rnn", "enc" or "dec"; one-to-many feeds each output back as the next input.
PATTERNS: dict[str, list[tuple[bool, bool, str]]] = {
    "one-to-one": [(True, True, "ff")],
    "one-to-many": [(True, True, "rnn"), (False, True, "rnn"), (False, True, "rnn"), (False, True, "rnn")],
    "many-to-one": [(True, False, "rnn"), (True, False, "rnn"), (True, False, "rnn"), (True, True, "rnn")],
    "many-to-many (aligned)": [(True, True, "rnn")] * 4,
    "encoder-decoder (many-to-many)": [(True, False, "enc")] * 3 + [(False, True, "dec")] * 3,
}


def _box(ax, x, y, text, color, w=0.7, h=0.5) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor="black", linewidth=0.8, alpha=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax, start, end, style="-|>", ls="-") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=8, linewidth=0.8,
                                 linestyle=ls, color="black", shrinkA=0, shrinkB=0))


SLOTS = 6  # every diagram is drawn on the same 6-step canvas, so boxes have one size


def plot_architecture(architecture: str, ax=None, *, title: str | None = None):
    """An unrolled diagram of one architecture: inputs x_t (bottom), states h_t, outputs y_t (top)."""
    if architecture not in PATTERNS:
        raise KeyError(f"expected one of {list(PATTERNS)}, found {architecture!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 2.6))
    steps = PATTERNS[architecture]
    hidden_color = {"ff": model_color("RNN"), "rnn": model_color("RNN"), "enc": model_color("RNN"),
                    "dec": OKABE_ITO["yellow"]}
    n_enc = sum(1 for s in steps if s[2] == "enc")
    offset = (SLOTS - len(steps)) / 2  # centre the pattern on the canvas
    for k, (has_in, has_out, stage) in enumerate(steps):
        t = k + offset
        label, idx = ("s", k + 1 - n_enc) if stage == "dec" else ("h", k + 1)
        _box(ax, t, 1.0, f"{label}{idx}", hidden_color[stage])
        if has_in:
            _box(ax, t, 0.0, f"x{idx}", OKABE_ITO["green"])
            _arrow(ax, (t, 0.25), (t, 0.75))
        elif architecture == "one-to-many":  # the previous output is fed back as this step's input
            _box(ax, t, 0.0, f"y{idx - 1}", "0.85")
            _arrow(ax, (t, 0.25), (t, 0.75))
            ax.add_patch(FancyArrowPatch((t - 0.62, 1.9), (t - 0.3, 0.2), arrowstyle="-|>", mutation_scale=7,
                                         linewidth=0.7, linestyle="--", color="0.35"))
        if has_out:
            _box(ax, t, 2.0, f"y{idx}", OKABE_ITO["sky_blue"])
            _arrow(ax, (t, 1.25), (t, 1.75))
        if k > 0:
            _arrow(ax, (t - 0.65, 1.0), (t - 0.35, 1.0))
    ax.set_xlim(-0.6, SLOTS - 0.4)
    ax.set_ylim(-0.45, 2.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or architecture, fontsize=9)
    return ax


def plot_architectures(rows: Sequence[Mapping]):
    """One diagram per row of the architecture table (keys: task, architecture, input_shape,
    output_shape), titled with the shapes measured on the tiny models, and a colour key.
    Returns the Figure."""
    ncols = 3
    nrows = (len(rows) + 1 + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 2.9 * nrows))
    axes = np.atleast_1d(axes).ravel()
    for ax, r in zip(axes, rows):
        plot_architecture(r["architecture"], ax, title=(
            f"{r['architecture']}: {r['task']}\ninput {tuple(r['input_shape'])} -> output {tuple(r['output_shape'])}"))
    key = axes[len(rows)]
    key.axis("off")
    entries = [(OKABE_ITO["green"], "x_t  input at step t"), (model_color("RNN"), "h_t  hidden state (encoder state)"),
               (OKABE_ITO["yellow"], "s_t  decoder state"), (OKABE_ITO["sky_blue"], "y_t  output"),
               ("0.85", "y_{t-1} fed back as input (dashed)")]
    for i, (color, text) in enumerate(entries):
        key.add_patch(FancyBboxPatch((0.05, 0.85 - 0.17 * i), 0.08, 0.1, boxstyle="round,pad=0.01",
                                     facecolor=color, edgecolor="black", linewidth=0.6,
                                     transform=key.transAxes))
        key.text(0.17, 0.9 - 0.17 * i, text, va="center", fontsize=9, transform=key.transAxes)
    key.set_title("key (B = 2 sequences in every run)", fontsize=9)
    for ax in axes[len(rows) + 1:]:
        ax.axis("off")
    fig.suptitle("Input/output patterns of recurrent networks, unrolled in time; shapes measured by "
                 "running a tiny PyTorch model of each", fontsize=11)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# 4. Toy classifier
# ----------------------------------------------------------------------------------------------


def plot_toy_training(losses: Sequence[float], accuracies: Sequence[float], ax=None):
    """Cross-entropy (log scale) and training accuracy against the update number."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    epochs = np.arange(1, len(losses) + 1)
    ax.semilogy(epochs, losses, color=model_color("RNN"), label="cross-entropy loss (left axis)")
    ax.set_xlabel("full-batch update (epoch)")
    ax.set_ylabel("cross-entropy (nats, log scale)")
    twin = ax.twinx()
    twin.plot(epochs, np.asarray(accuracies) * 100, color=OKABE_ITO["black"], ls="--", lw=1,
              label="training accuracy (right axis)")
    twin.set_ylabel("training accuracy (%)")
    twin.set_ylim(-5, 105)
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", bbox_to_anchor=(0.5, -0.22),
              ncol=2, fontsize=8, frameon=False)  # below the axes: never over the curves
    ax.set_title("Toy many-to-one RNN trained by hand-written BPTT")
    return ax


def plot_toy_probabilities(prob_before: Sequence[float], prob_after: Sequence[float],
                           labels: Sequence[int], ax=None):
    """P(class 1) of every toy sequence before and after training, against its label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    n = np.arange(len(labels))
    ax.bar(n - 0.2, prob_before, width=0.4, color="0.7", label="before training")
    ax.bar(n + 0.2, prob_after, width=0.4, color=model_color("RNN"), label="after training")
    ax.axhline(0.5, color="black", lw=0.8, ls=":", label="decision threshold")
    ax.scatter(n, labels, marker="_", s=400, color="black", zorder=3, label="label (0 or 1)")
    ax.set_xticks(n, [f"seq {i + 1}\nlabel {int(y)}" for i, y in enumerate(labels)])
    ax.set_ylabel("P(class 1)")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper center", fontsize=8, ncol=2, bbox_to_anchor=(0.5, -0.25))
    ax.set_title("Predicted probability of class 1")
    return ax


# ----------------------------------------------------------------------------------------------
# 5. Increasing / decreasing
# ----------------------------------------------------------------------------------------------


def plot_accuracy_by_length(accuracy_by_seed: Mapping[int, Sequence[float]], train_length: int, ax=None):
    """Test accuracy against sequence length: bars are the seed mean, dots the seeds."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    lengths = sorted(accuracy_by_seed)
    pos = np.arange(len(lengths))
    means = [100 * np.mean(accuracy_by_seed[T]) for T in lengths]
    colors = [model_color("RNN") if T == train_length else "0.6" for T in lengths]
    ax.bar(pos, means, color=colors, width=0.6)
    for p, T in zip(pos, lengths):
        vals = 100 * np.asarray(accuracy_by_seed[T])
        ax.scatter(np.full(len(vals), p) + np.linspace(-0.12, 0.12, len(vals)), vals, color="black",
                   s=14, zorder=3)
    ax.axhline(50, color="black", ls=":", lw=0.8)
    ax.text(pos[-1] + 0.45, 51, "chance", ha="right", va="bottom", fontsize=8)
    ax.set_xticks(pos, [f"T = {T}" + (" (trained)" if T == train_length else "") for T in lengths])
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Increasing vs decreasing: accuracy by length (dots: seeds)")
    return ax


def plot_loss_curve(losses: Sequence[float], ax=None, *, label: str = "RNN", title: str = ""):
    """A training loss per epoch on a log scale."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    ax.semilogy(np.arange(1, len(losses) + 1), losses, color=model_color(label), label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy (nats, log scale)")
    ax.legend()
    ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------------------------
# 6. Sentiment
# ----------------------------------------------------------------------------------------------


def plot_sentiment_history(history: Mapping[str, Sequence[float]], ax=None, *, baseline: float | None = None):
    """Training loss (left axis) and train/test accuracy (right axis) per epoch.

    The reference lines (mean-GloVe logistic regression, chance) are accuracies: they are drawn on
    the right axis and labelled with their value at the right end; the legend sits below the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], color="0.4", marker=".", label="training loss (left axis)")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("training cross-entropy (nats)")
    twin = ax.twinx()
    color = model_color("BiLSTM")
    twin.plot(epochs, 100 * np.asarray(history["train_accuracy"]), color=color, ls="--",
              label="train accuracy (right axis)")
    twin.plot(epochs, 100 * np.asarray(history["test_accuracy"]), color=color,
              label="held-out accuracy (right axis)")
    refs = [(50.0, "chance 50%", "0.5")]
    if baseline is not None:
        refs.append((100 * baseline, f"mean-GloVe log. regression {100 * baseline:.0f}%", OKABE_ITO["black"]))
    for value, text, c in refs:
        twin.axhline(value, color=c, ls=":", lw=0.9)
        twin.text(1.0, value, text + " ", transform=twin.get_yaxis_transform(), ha="right", va="bottom",
                  fontsize=7, color=c)
    twin.set_ylabel("accuracy (%)", color=color)
    twin.tick_params(axis="y", colors=color)
    twin.set_ylim(0, 105)
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()[:2]
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=3, fontsize=7, frameon=False)
    ax.set_title("BiLSTM sentiment classifier: training")
    return ax


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], ax=None, *,
                          title: str = "Confusion matrix (held-out set)"):
    """Counts with true classes as rows and predicted classes as columns."""
    m = np.asarray(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=max(int(m.max()), 1))
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            share = m[i, j] / max(m[i].sum(), 1)
            ax.text(j, i, f"{m[i, j]}\n({share:.0%} of row)", ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black", fontsize=9)
    ax.set_xticks(range(len(labels)), [f"pred. {lab}" for lab in labels])
    ax.set_yticks(range(len(labels)), [f"true {lab}" for lab in labels])
    ax.grid(False)
    ax.set_title(title)
    return ax


def _wrap_tokens(toks, vals, max_chars: int, max_lines: int):
    """Tokens and scores broken into at most ``max_lines`` lines of ``max_chars`` characters."""
    lines: list[list[tuple[str, float]]] = [[]]
    width, cut = 0, False
    for tok, v in zip(toks, vals):
        if width + len(tok) > max_chars and lines[-1]:
            if len(lines) == max_lines:
                cut = True
                break
            lines.append([])
            width = 0
        lines[-1].append((tok, float(v)))
        width += len(tok) + 1
    return lines, cut


def plot_word_importance(tokens: Sequence[Sequence[str]], scores: Sequence[Sequence[float]],
                         captions: Sequence[str], ax=None, *, max_lines: int = 3, fontsize: float = 8.5,
                         title: str = "Which words matter: gradient x input on the word embeddings, "
                                      "score z_pos - z_neg",
                         scale_label: str = "gradient x input / max |.| of the text"):
    """Texts as coloured words: blue words push towards positive, red towards negative.

    Each text is coloured on its own scale (its largest |a_t| is full colour) and wrapped onto at
    most ``max_lines`` lines of the axes' width (longer texts end with "..."); the caption above it
    gives the true label, the prediction and P(positive). Without ``ax`` the figure's height is
    fitted to the text.
    """
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(11, 3))
    fig = ax.figure
    cmap = plt.get_cmap("RdBu")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=mcolors.Normalize(-1, 1))
    bar = fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label(f"{scale_label}\n(red: towards negative, blue: towards positive)",
                  fontsize=7)
    width_pt = ax.get_position().width * fig.get_figwidth() * 72
    char_w = 0.62 * fontsize / width_pt  # a monospace character, as a fraction of the axes width
    max_chars = max(int(0.97 / char_w) - 4, 10)
    layouts = [_wrap_tokens(t, v, max_chars, max_lines) for t, v in zip(tokens, scores)]
    rows = sum(1 + len(lines) for lines, _ in layouts)
    if own:
        fig.set_figheight(0.27 * rows + 0.7)
    line_h = 1.0 / max(rows, 1)
    y = 1.0 - 0.5 * line_h
    for (lines, cut), vals, caption in zip(layouts, scores, captions):
        vals = np.asarray(vals, dtype=float)
        scale = max(float(np.max(np.abs(vals))) if vals.size else 0.0, 1e-12)
        ax.text(0, y, caption, fontsize=7.5, color="0.25", va="center", transform=ax.transAxes)
        for k, line in enumerate(lines):
            y -= line_h
            x = 0.0
            for tok, v in line:
                rgba = cmap(0.5 + 0.5 * v / scale)
                dark = np.dot(rgba[:3], [0.299, 0.587, 0.114]) < 0.5
                ax.text(x, y, tok, fontsize=fontsize, va="center", family="monospace", transform=ax.transAxes,
                        color="white" if dark else "black",
                        bbox={"facecolor": mcolors.to_hex(rgba), "edgecolor": "none", "pad": 1.2})
                x += (len(tok) + 1) * char_w
            if cut and k == len(lines) - 1:
                ax.text(x, y, "...", fontsize=fontsize, va="center", family="monospace", transform=ax.transAxes)
        y -= line_h
    ax.set_axis_off()
    ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------------------------
# 7. Comparison: vanishing gradient against sequence length
# ----------------------------------------------------------------------------------------------


def _style(name: str) -> dict:
    if name in ("RNN", "LSTM", "GRU", "BiLSTM"):
        return {"color": model_color(name)}
    return {"color": model_color("LSTM"), "ls": "--"}  # LSTM variants


def plot_gradient_profiles(profiles: Mapping[str, Sequence[float]], ax=None):
    """||ds/dx_t|| against the input position t (log scale), one line per model."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, prof in profiles.items():
        prof = np.asarray(prof, dtype=float)
        ax.semilogy(np.arange(1, len(prof) + 1), prof, label=name, **_style(name))
    ax.set_xlabel("input position t (the summary is read after step T)")
    ax.set_ylabel("||ds/dx_t|| (log scale)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    ax.set_title(f"Gradient reaching each input, T = {len(next(iter(profiles.values())))} (untrained)")
    return ax


def plot_reach_vs_length(lengths: Sequence[int], reach: Mapping[str, Mapping[int, float]],
                         spread: Mapping[str, Mapping[int, float]] | None = None, ax=None):
    """min_t ||ds/dx_t|| / max_t ||ds/dx_t|| against T (log scale): the vanishing gradient."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, values in reach.items():
        ys = np.array([values[T] for T in lengths], dtype=float)
        ax.semilogy(lengths, ys, marker="o", label=name, **_style(name))
        if spread and name in spread:
            sd = np.array([spread[name][T] for T in lengths], dtype=float)
            ax.fill_between(lengths, np.clip(ys - sd, ys * 1e-3, None), ys + sd, alpha=0.15,
                            color=_style(name)["color"])
    ax.set_xlabel("sequence length T (steps)")
    ax.set_ylabel("weakest / strongest input gradient\n(log scale)")
    ax.set_xticks(list(lengths))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    ax.set_title("Vanishing gradient against sequence length")
    return ax


# ----------------------------------------------------------------------------------------------
# The section's figures, put together from the panels above
# ----------------------------------------------------------------------------------------------


def figure_toy(losses: Sequence[float], accuracies: Sequence[float], prob_before: Sequence[float],
               prob_after: Sequence[float], labels: Sequence[int]):
    """Part 4: training curve (left) and P(class 1) before/after (right). Returns the Figure."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_toy_training(losses, accuracies, a)
    plot_toy_probabilities(prob_before, prob_after, labels, b)
    fig.tight_layout()
    return fig


def figure_monotonic(losses: Sequence[float], accuracy_by_seed: Mapping[int, Sequence[float]],
                     train_length: int, *, title: str = ""):
    """Part 5: training loss (left) and accuracy by length (right). Returns the Figure."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_loss_curve(losses, a, label="RNN", title=title)
    plot_accuracy_by_length(accuracy_by_seed, train_length, b)
    fig.tight_layout()
    return fig


def figure_sentiment(history: Mapping[str, Sequence[float]], confusion: Sequence[Sequence[int]],
                     labels: Sequence[str], *, baseline: float | None = None, confusion_title: str = ""):
    """Part 6: training history (left) and the held-out confusion matrix (right). Returns the Figure."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.5, 1]})
    plot_sentiment_history(history, a, baseline=baseline)
    plot_confusion_matrix(confusion, labels, b, title=confusion_title)
    fig.tight_layout()
    return fig


def figure_vanishing_gradient(lengths: Sequence[int], profiles: Mapping[str, Sequence[float]],
                              reach: Mapping[str, Mapping[int, float]],
                              spread: Mapping[str, Mapping[int, float]]):
    """Part 7: gradient per input position (left) and weakest/strongest against T (right)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    plot_gradient_profiles(profiles, a)
    plot_reach_vs_length(lengths, reach, spread, b)
    fig.tight_layout()
    return fig


__all__ = [
    "PATTERNS",
    "figure_monotonic",
    "figure_sentiment",
    "figure_toy",
    "figure_vanishing_gradient",
    "plot_accuracy_by_length",
    "plot_architecture",
    "plot_architectures",
    "plot_confusion_matrix",
    "plot_gradient_profiles",
    "plot_loss_curve",
    "plot_reach_vs_length",
    "plot_sentiment_history",
    "plot_toy_probabilities",
    "plot_toy_training",
    "plot_word_importance",
]
