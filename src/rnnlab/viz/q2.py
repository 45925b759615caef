"""Figures of Q2: training curves, weight distributions across epochs, norms, spectral radius,
update sizes, saturation and forecasts.

``plot_*`` functions draw one panel on ``ax`` (a new one when None) and return it; ``figure_*``
functions lay several panels out and return the figure (save it with
:func:`rnnlab.viz.style.save_figure`). Models keep their colour everywhere
(:func:`rnnlab.viz.style.model_color`); gate blocks are told apart by line style and marker
(:func:`rnnlab.viz.style.gate_style`, shared by analogous gates) or by panel, never by colour.
Legends sit below the panels, off the data.

Inputs are measured data: per-epoch curves (lists over epochs 0..E) and weight arrays per gate
block, never a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from rnnlab.analysis.weights import kde, symmetric_range
from rnnlab.cells import GATE_LABELS
from rnnlab.viz.style import gate_style, model_color

GRID_POINTS = 200
KDE_POINTS = 2000  # weights per density estimate (a seeded random subset of larger matrices)
BASELINE_STYLES = {"persistence": ":", "seasonal": "-."}
DECADES_FOR_LOG = 1.0
SMOOTH_STEPS = 25  # running median window of the per-step traces
RIDGE_EPOCHS = 8  # at most this many ridges (epochs) per ridgeline

Curves = Mapping[str, Sequence[float]]
Weights = Mapping[str, Sequence[Mapping[str, np.ndarray]]]  # model -> epochs -> gate -> values


def _ax(ax, size=(5, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _log_if_wide(ax, arrays: Sequence[np.ndarray]) -> None:
    v = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and np.log10(v.max() / v.min()) > DECADES_FOR_LOG:
        ax.set_yscale("log")


def _legend_below(fig, handles: Sequence, ncol: int | None = None) -> None:
    """One legend for the whole figure, under the panels (off the data); call after
    ``tight_layout``. Handles with the same label are shown once."""
    seen: dict[str, object] = {}
    for h in handles:
        seen.setdefault(h.get_label(), h)
    if not seen:
        return
    fig.legend(list(seen.values()), list(seen), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=ncol or min(len(seen), 6), fontsize=8, frameon=False)


def _model_handles(names: Sequence[str]) -> list[Line2D]:
    return [Line2D([], [], color=model_color(n), lw=2.5, label=n) for n in names]


def _gate_handles(gates: Sequence[str]) -> list[Line2D]:
    """Black lines in each gate's style: the legend of the gate blocks (any model)."""
    return [Line2D([], [], color="black", lw=1.3, ms=4, label=GATE_LABELS[g], **gate_style(g))
            for g in dict.fromkeys(gates)]


def _all_gates(per_model: Mapping[str, Mapping[str, object]]) -> list[str]:
    return list(dict.fromkeys(g for d in per_model.values() for g in d))


def _grid_axes(rows: int, cols: int, size=(3.0, 2.4), **kwargs):
    fig, axes = plt.subplots(
        rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False, **kwargs
    )
    return fig, axes


# --------------------------------------------------------------------------------------------
# Training curves and stability
# --------------------------------------------------------------------------------------------


def plot_metric_curves(
    runs: Mapping[str, Curves],
    ax=None,
    *,
    key: str,
    train_key: str | None = None,
    ylabel: str = "",
    title: str = "",
    log_y: bool | None = None,
    reference: Mapping[str, float] | None = None,
    legend: bool = True,
):
    """One line per model over epochs: ``key`` solid, ``train_key`` dashed.

    ``reference`` adds labelled horizontal lines (e.g. baselines); ``legend=False`` leaves the
    legend to the figure (see :func:`figure_training`).
    """
    ax = _ax(ax)
    drawn = []
    for name, run in runs.items():
        y = _arr(run[key])
        ax.plot(np.arange(len(y)), y, color=model_color(name), lw=2, marker="o", ms=3,
                label=f"{name} test")
        drawn.append(y)
        if train_key:
            t = _arr(run[train_key])
            ax.plot(np.arange(len(t)), t, color=model_color(name), lw=1.2, ls="--",
                    label=f"{name} train")
            drawn.append(t)
    for k, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(value, color="0.3", ls=list(BASELINE_STYLES.values())[k % 2], lw=1.2,
                   label=label)
    if log_y is None:
        _log_if_wide(ax, drawn)
    elif log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel or key)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def figure_training(
    runs: Mapping[str, Curves],
    *,
    metric: str,
    metric_label: str,
    title: str,
    reference: Mapping[str, float] | None = None,
    clip_norm: float | None = None,
):
    """2 x 2: loss, accuracy or error, gradient norm, fraction of clipped steps; one legend
    under the panels."""
    fig, axes = _grid_axes(2, 2, size=(5.2, 3.6))
    plot_metric_curves(runs, axes[0, 0], key="test_loss", train_key="train_loss", ylabel="loss",
                       title="Loss (train dashed, test solid)", legend=False)
    ax = plot_metric_curves(runs, axes[0, 1], key=f"test_{metric}", train_key=f"train_{metric}",
                            ylabel=metric_label, title=metric_label.split(" (")[0], log_y=False,
                            reference=reference, legend=False)
    if reference:  # keep the baselines readable: the untrained models' error can be far above them
        top = 1.5 * max(reference.values())
        if ax.get_ylim()[1] > top:
            ax.set_ylim(top=top)
            ax.set_title(f"{metric_label.split(' (')[0]} (axis cut at 1.5x the worst baseline)")
    ax = axes[1, 0]
    for name, run in runs.items():
        mean, top = _arr(run["grad_norm_mean"]), _arr(run["grad_norm_max"])
        ep = np.arange(len(mean))
        ax.plot(ep[1:], mean[1:], color=model_color(name), lw=2, marker="o", ms=3)
        ax.plot(ep[1:], top[1:], color=model_color(name), lw=1, ls="--")
    if clip_norm:
        ax.axhline(clip_norm, color="0.3", ls=":", lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm before clipping")
    ax.set_title("Gradient norm per epoch (mean solid, largest dashed)")
    ax = axes[1, 1]
    width = 0.8 / max(len(runs), 1)
    for k, (name, run) in enumerate(runs.items()):
        clipped, steps = _arr(run["clipped_steps"]), _arr(run["steps"])
        frac = np.where(steps > 0, clipped / np.maximum(steps, 1), np.nan)
        ep = np.arange(len(frac))
        ax.bar(ep[1:] + (k - (len(runs) - 1) / 2) * width, 100 * frac[1:], width=width,
               color=model_color(name))
    ax.set_xlabel("epoch")
    ax.set_ylabel("clipped steps (%)")
    ax.set_title("Steps where clipping acted")
    fig.suptitle(title)
    fig.tight_layout()
    handles = _model_handles(list(runs)) + [
        Line2D([], [], color="black", lw=2, marker="o", ms=3, label="test / mean gradient norm"),
        Line2D([], [], color="black", lw=1.2, ls="--", label="train / largest gradient norm"),
    ]
    for k, label in enumerate(reference or {}):
        handles.append(Line2D([], [], color="0.3", lw=1.2,
                              ls=list(BASELINE_STYLES.values())[k % 2], label=label))
    if clip_norm:
        handles.append(Line2D([], [], color="0.3", ls=":", lw=1.2, label=f"clip at {clip_norm:g}"))
    _legend_below(fig, handles, ncol=min(len(handles), 4))
    return fig


def smooth_window(n_steps: int) -> int:
    """The running-median window for ``n_steps`` steps: :data:`SMOOTH_STEPS`, at most a quarter
    of the steps (at least 1)."""
    return max(1, min(SMOOTH_STEPS, n_steps // 4))


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of each value and the ``window - 1`` before it (fewer at the start); NaNs
    ignored. ``values`` (S,) -> (S,)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    for k in range(len(values)):
        part = values[max(0, k - window + 1): k + 1]
        part = part[np.isfinite(part)]
        if part.size:
            out[k] = np.median(part)
    return out


def figure_steps(
    steps: Mapping[str, Mapping[str, Sequence[float]]], *, title: str, clip_norm: float | None
):
    """Small multiples, one column per model: per-step training loss (top) and gradient norm
    before clipping (bottom), raw steps light and their running median dark; crosses mark
    loss spikes. Rows share their y axis so the models compare directly."""
    names = list(steps)
    fig, axes = _grid_axes(2, len(names), size=(3.6, 2.6), sharey="row", sharex="col")
    for c, name in enumerate(names):
        run, color = steps[name], model_color(name)
        loss, norm = _arr(run["loss"]), _arr(run["grad_norm"])
        window = smooth_window(len(loss))
        for r, y in enumerate((loss, norm)):
            x = np.arange(1, len(y) + 1)
            axes[r, c].plot(x, y, color=color, lw=0.6, alpha=0.35)
            axes[r, c].plot(x, running_median(y, window), color=color, lw=1.8)
        spikes = np.asarray(run.get("spikes", []), dtype=int)
        if spikes.size:
            axes[0, c].scatter(spikes + 1, loss[spikes], color="black", marker="x", s=30,
                               zorder=3)
        if clip_norm:
            axes[1, c].axhline(clip_norm, color="0.3", ls=":", lw=1.2)
        axes[0, c].set_title(name)
        axes[1, c].set_xlabel("optimiser step")
    for r in range(2):
        _log_if_wide(axes[r, 0], [_arr(steps[n]["loss" if r == 0 else "grad_norm"])
                                  for n in names])
    axes[0, 0].set_ylabel("training loss (batch)")
    axes[1, 0].set_ylabel("gradient norm")
    fig.suptitle(title)
    fig.tight_layout()
    handles = [Line2D([], [], color="0.5", lw=0.6, alpha=0.6, label="every step"),
               Line2D([], [], color="0.2", lw=1.8, label=f"running median ({smooth_window(len(steps[names[0]]['loss']))} steps)"),
               Line2D([], [], color="black", marker="x", ls="", label="loss spike")]
    if clip_norm:
        handles.append(Line2D([], [], color="0.3", ls=":", lw=1.2, label=f"clip at {clip_norm:g}"))
    _legend_below(fig, handles)
    return fig


# --------------------------------------------------------------------------------------------
# Weight distributions
# --------------------------------------------------------------------------------------------


def pick_epochs(n_epochs: int, count: int = 5) -> list[int]:
    """Up to ``count`` epochs spread over 0..n_epochs, always with 0, 1 and the last."""
    if n_epochs <= count - 1:
        return list(range(n_epochs + 1))
    inner = np.linspace(1, n_epochs, count - 1).round().astype(int).tolist()
    return sorted({0, *inner})


def figure_kde(weights: Weights, *, xlabel: str, title: str):
    """Which gate blocks changed shape: rows are models, columns gate blocks; each panel
    overlays the weight density at initialisation (black, dashed) and at the last epoch (the
    model's colour, filled)."""
    models = list(weights)
    max_gates = max(len(weights[m][0]) for m in models)
    fig, axes = _grid_axes(len(models), max_gates, size=(2.9, 2.2))
    for r, name in enumerate(models):
        epochs = weights[name]
        limit = symmetric_range([v for blocks in (epochs[0], epochs[-1]) for v in blocks.values()])
        grid = np.linspace(-limit, limit, GRID_POINTS)
        gates = list(epochs[0])
        for c in range(max_gates):
            ax = axes[r, c]
            if c >= len(gates):
                ax.axis("off")
                continue
            gate = gates[c]
            first = kde(epochs[0][gate], grid, max_points=KDE_POINTS, seed=0)
            last = kde(epochs[-1][gate], grid, max_points=KDE_POINTS, seed=len(epochs) - 1)
            ax.fill_between(grid, last, color=model_color(name), alpha=0.3, lw=0)
            ax.plot(grid, last, color=model_color(name), lw=1.8)
            ax.plot(grid, first, color="black", lw=1.2, ls="--")
            ax.set_xlim(-limit, limit)
            ax.set_ylim(bottom=0)
            ax.set_title(f"{name}: {GATE_LABELS[gate]}", fontsize=9)
            ax.tick_params(labelsize=7)
            if c == 0:
                ax.set_ylabel("density")
            if r == len(models) - 1 or c >= len(weights[models[r + 1]][0]):
                ax.set_xlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    handles = [Line2D([], [], color="black", lw=1.2, ls="--", label="epoch 0 (initialisation)")]
    handles += [Line2D([], [], color=model_color(n), lw=1.8, label=f"{n}, last epoch")
                for n in models]
    _legend_below(fig, handles)
    return fig


def plot_ridgeline(
    per_epoch: Mapping[int, np.ndarray],
    ax=None,
    *,
    color: str,
    limit: float,
    overlap: float = 1.3,
    title: str = "",
    xlabel: str = "",
):
    """Stacked density curves, one per epoch of ``per_epoch`` (epoch -> weights) from the
    bottom (the first) up, each lower curve in front of the one above it, with the standard
    deviation of the weights written on the right: drift at a glance."""
    ax = _ax(ax, size=(4, 6))
    grid = np.linspace(-limit, limit, GRID_POINTS)
    epochs = list(per_epoch)
    curves = [kde(per_epoch[e], grid, max_points=KDE_POINTS, seed=e) for e in epochs]
    scale = overlap / max(max(c.max() for c in curves), 1e-12)
    n = len(curves)
    shades = [
        plt.matplotlib.colors.to_rgba(color, 0.25 + 0.75 * k / max(n - 1, 1)) for k in range(n)
    ]
    for k in reversed(range(n)):
        y = k + curves[k] * scale
        z = n - k  # lower ridges in front
        ax.fill_between(grid, k, y, facecolor="white", lw=0, zorder=z)
        ax.fill_between(grid, k, y, facecolor=shades[k], lw=0, zorder=z)
        ax.plot(grid, y, color="black", lw=0.7, zorder=z)
        ax.text(limit, k + 0.12, f"sd {np.std(per_epoch[epochs[k]]):.3f}", fontsize=8,
                ha="right", va="bottom", zorder=n + 1)
    ax.set_yticks(range(n))
    ax.set_yticklabels([str(e) for e in epochs], fontsize=8)
    ax.set_ylabel("epoch")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-0.3, n - 1 + overlap + 0.2)
    ax.grid(False)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def figure_ridgeline(by_matrix: Mapping[str, Weights], *, title: str,
                     count: int = RIDGE_EPOCHS):
    """One ridgeline per model (columns) and matrix (rows, e.g. W_hh and W_ih) of all the
    matrix's weights at up to ``count`` epochs (:func:`pick_epochs`), epoch 0 at the bottom."""
    matrices = list(by_matrix)
    models = list(by_matrix[matrices[0]])
    n_epochs = min(len(by_matrix[m][n]) for m in matrices for n in models) - 1
    epochs = pick_epochs(n_epochs, count)
    fig, axes = _grid_axes(len(matrices), len(models),
                           size=(3.8, 1.6 + 0.55 * (len(epochs) + 1)))
    for r, matrix in enumerate(matrices):
        for c, name in enumerate(models):
            per_epoch = {e: np.concatenate([np.ravel(v) for v in by_matrix[matrix][name][e].values()])
                         for e in epochs}
            plot_ridgeline(per_epoch, axes[r, c], color=model_color(name),
                           limit=symmetric_range(list(per_epoch.values())),
                           title=f"{name} {matrix}", xlabel=f"{matrix} weight value")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Norms, spectral radius, updates
# --------------------------------------------------------------------------------------------


def plot_gate_curves(
    curves: Mapping[str, Sequence[float]],
    ax=None,
    *,
    color: str,
    ylabel: str,
    title: str = "",
    skip_first: bool = False,
    log_y: bool | None = None,
    hollow: bool = False,
    reference: float | None = None,
):
    """One line per gate block over epochs, all in ``color`` (the model's), gates by line style
    and marker; ``hollow`` draws open markers and thinner, lighter lines (a second matrix)."""
    ax = _ax(ax)
    drawn = []
    for gate, values in curves.items():
        y = _arr(values)
        ep = np.arange(len(y))
        if skip_first:
            ep, y = ep[1:], y[1:]
        ax.plot(ep, y, color=color, lw=1.0 if hollow else 1.6, alpha=0.6 if hollow else 1.0,
                ms=3.5, mfc="white" if hollow else color, label=GATE_LABELS[gate],
                **gate_style(gate))
        drawn.append(y)
    if reference is not None:
        ax.axhline(reference, color="0.3", ls=":", lw=1.2)
    if log_y is None:
        _log_if_wide(ax, drawn)
    elif log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def figure_norms(evolution: Mapping[str, Mapping], *, title: str):
    """Frobenius norms per gate block: recurrent W_hh (top row) and input W_ih (bottom row)."""
    models = list(evolution)
    fig, axes = _grid_axes(2, len(models), size=(3.6, 2.9))
    for c, name in enumerate(models):
        ev = evolution[name]
        for r, (key, what) in enumerate((("weight_hh_l0", "recurrent W_hh"),
                                         ("weight_ih_l0", "input W_ih"))):
            plot_gate_curves(ev["frobenius"][key], axes[r, c], color=model_color(name),
                             ylabel=f"||{what.split()[-1]} block||_F", title=f"{name}: {what}",
                             log_y=False)
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, _gate_handles(_all_gates(
        {n: ev["frobenius"]["weight_hh_l0"] for n, ev in evolution.items()})))
    return fig


def figure_spectral_radius(evolution: Mapping[str, Mapping], *, title: str):
    """Spectral radius of every recurrent gate block per epoch, with rho = 1 dotted; the y axis
    is shared and always shows 1."""
    models = list(evolution)
    fig, axes = _grid_axes(1, len(models), size=(3.6, 3.0), sharey=True)
    for c, name in enumerate(models):
        plot_gate_curves(evolution[name]["spectral_radius"], axes[0, c], color=model_color(name),
                         ylabel="spectral radius rho(W_hh block)" if c == 0 else "", title=name,
                         log_y=False, reference=1.0)
    low, high = axes[0, 0].get_ylim()
    axes[0, 0].set_ylim(min(low, 0.0), max(high, 1.1))
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, _gate_handles(_all_gates(
        {n: ev["spectral_radius"] for n, ev in evolution.items()}))
        + [Line2D([], [], color="0.3", ls=":", lw=1.2, label="rho = 1")])
    return fig


def figure_updates(evolution: Mapping[str, Mapping], *, title: str):
    """Top: relative update ||W_e - W_{e-1}|| / ||W_{e-1}|| per gate block (log scale);
    bottom: drift from initialisation ||W_e - W_0|| / ||W_0||. W_hh filled markers, W_ih open
    markers; gates by line style."""
    models = list(evolution)
    fig, axes = _grid_axes(2, len(models), size=(3.6, 2.9), sharey="row")
    for c, name in enumerate(models):
        ev = evolution[name]
        for row, key, label in ((0, "relative_update", "relative update per epoch"),
                                (1, "drift", "drift from epoch 0")):
            for matrix, hollow in (("weight_hh_l0", False), ("weight_ih_l0", True)):
                plot_gate_curves(ev[key][matrix], axes[row, c], color=model_color(name),
                                 ylabel=label if c == 0 else "", skip_first=True,
                                 log_y=(row == 0), hollow=hollow,
                                 title=name if row == 0 else "")
    fig.suptitle(title)
    fig.tight_layout()
    handles = _gate_handles(_all_gates({n: ev["drift"]["weight_hh_l0"]
                                        for n, ev in evolution.items()}))
    handles += [Line2D([], [], color="black", marker="o", ms=4, lw=1.6, label="W_hh (filled)"),
                Line2D([], [], color="black", marker="o", ms=4, mfc="white", lw=1.0, alpha=0.6,
                       label="W_ih (open)")]
    _legend_below(fig, handles)
    return fig


# --------------------------------------------------------------------------------------------
# Saturation
# --------------------------------------------------------------------------------------------

SATURATION_ROWS = (("high", "sigmoid gates > 0.9 (open)"), ("low", "sigmoid gates < 0.1 (shut)"),
                   ("tanh", "tanh |a| > 0.95"))


def plot_saturation(
    saturation: Mapping[str, Mapping[str, Sequence[float]]], ax=None, *, kind: str,
    color: str, title: str = ""
):
    """The share of activations saturated in one way (``kind``: ``"high"``, ``"low"`` or
    ``"tanh"``) per gate block over epochs, in ``color``, gates by line style; a note when no
    gate of the model saturates that way."""
    ax = _ax(ax)
    drawn = False
    for gate, fractions in saturation.items():
        if kind not in fractions:
            continue
        y = 100 * _arr(fractions[kind])
        ax.plot(np.arange(len(y)), y, color=color, lw=1.6, ms=3.5, label=GATE_LABELS[gate],
                **gate_style(gate))
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no such activations", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="0.4")
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("saturated (%)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def figure_saturation(saturation: Mapping[str, Mapping], *, title: str):
    """Rows: > 0.9 and < 0.1 of the sigmoid gates, |tanh| > 0.95; columns: models. Each row
    shares its y axis so the models compare directly; gate blocks by line style."""
    models = list(saturation)
    rows = [(k, label) for k, label in SATURATION_ROWS
            if any(k in f for m in models for f in saturation[m].values())]
    fig, axes = _grid_axes(len(rows), len(models), size=(3.6, 2.5), sharey="row", sharex="col")
    for r, (kind, label) in enumerate(rows):
        for c, name in enumerate(models):
            plot_saturation(saturation[name], axes[r, c], kind=kind, color=model_color(name),
                            title=f"{name}: {label}")
            if c:
                axes[r, c].set_ylabel("")
            if r < len(rows) - 1:
                axes[r, c].set_xlabel("")
        axes[r, 0].set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, _gate_handles(_all_gates(saturation)))
    return fig


def figure_unit_saturation(
    units: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], *, title: str
):
    """Per hidden unit at the last epoch: fraction of steps left-saturated (x) against
    right-saturated (y) for every sigmoid gate (after Karpathy et al. 2015), gates by marker
    in the model's colour; tanh activations as a histogram of the per-unit fraction with
    |a| > 0.95."""
    models = list(units)
    fig, axes = _grid_axes(1, len(models), size=(3.6, 3.4))
    handles = []
    for c, name in enumerate(models):
        ax, color = axes[0, c], model_color(name)
        sigmoid = {g: v for g, v in units[name].items() if "tanh" not in v}
        if sigmoid:
            ax.plot([0, 1], [1, 0], color="0.7", lw=0.8, ls=":")
            for gate, v in sigmoid.items():
                ax.scatter(v["low"], v["high"], s=14, alpha=0.6, color=color,
                           marker=gate_style(gate)["marker"], label=GATE_LABELS[gate])
                handles.append(Line2D([], [], color="black", marker=gate_style(gate)["marker"],
                                      ls="", label=GATE_LABELS[gate]))
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("fraction of steps < 0.1 (left)")
            ax.set_ylabel("fraction of steps > 0.9 (right)")
        else:
            for gate, v in units[name].items():
                ax.hist(v["tanh"], bins=np.linspace(0, 1, 21), color=color, alpha=0.8)
            ax.set_xlabel("fraction of steps with |tanh| > 0.95")
            ax.set_ylabel("hidden units")
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, handles)
    return fig


# --------------------------------------------------------------------------------------------
# Forecasts
# --------------------------------------------------------------------------------------------


def figure_forecast(
    dates: np.ndarray,
    truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    baselines: Mapping[str, np.ndarray],
    *,
    unit: str,
    title: str,
):
    """The test period: truth (black), each model, and the naive baselines (grey)."""
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.plot(dates, truth, color="black", lw=1.6, label="observed")
    for k, (label, values) in enumerate(baselines.items()):
        ax.plot(
            dates,
            values,
            color="0.55",
            lw=1.1,
            ls=list(BASELINE_STYLES.values())[k % 2],
            label=label,
        )
    for name, values in predictions.items():
        ax.plot(dates, values, color=model_color(name), lw=1.1, label=name)
    ax.set_ylabel(f"value ({unit})")
    ax.set_xlabel("date")
    ax.set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    _legend_below(fig, ax.get_lines())
    return fig


def plot_errors(errors: Mapping[str, float], ax=None, *, unit: str, title: str = ""):
    """Bar chart of mean absolute error: models in their colour, baselines grey."""
    ax = _ax(ax, size=(6, 3.5))
    names = list(errors)
    colors = []
    for n in names:
        try:
            colors.append(model_color(n))
        except KeyError:
            colors.append("0.6")
    values = [errors[n] for n in names]
    bars = ax.bar(names, values, color=colors)
    for bar, value in zip(bars, values):
        ax.annotate(
            f"{value:.2f}",
            (bar.get_x() + bar.get_width() / 2, value),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel(f"test MAE ({unit})")
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=15)
    return ax


def figure_errors(errors: Mapping[str, float], *, unit: str, title: str = ""):
    """:func:`plot_errors` on a figure of its own."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    plot_errors(errors, ax, unit=unit, title=title)
    return fig
