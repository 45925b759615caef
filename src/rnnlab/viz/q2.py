"""Figures of Q2: training curves, weight distributions across epochs, norms, spectral radius,
update sizes, saturation and forecasts.

``plot_*`` functions draw one panel on ``ax`` (a new one when None) and return it; ``figure_*``
functions lay several panels out and return the figure (save it with
:func:`rnnlab.viz.style.save_figure`). Models keep their colour everywhere
(:func:`rnnlab.viz.style.model_color`); gate blocks have their own colours, shared by
analogous gates (LSTM input i and GRU reset r; forget f and update z; the tanh candidates g, n
and the RNN's state), listed in :data:`GATE_COLORS`.

Inputs are measured data: per-epoch curves (lists over epochs 0..E) and weight arrays per gate
block, never a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cm
from matplotlib.colors import Normalize

from rnnlab.analysis.weights import kde, symmetric_range
from rnnlab.cells import GATE_LABELS
from rnnlab.viz.style import OKABE_ITO, model_color

GATE_COLORS = {
    "h": OKABE_ITO["purple"],
    "i": OKABE_ITO["sky_blue"],
    "r": OKABE_ITO["sky_blue"],
    "f": OKABE_ITO["vermillion"],
    "z": OKABE_ITO["vermillion"],
    "g": OKABE_ITO["purple"],
    "n": OKABE_ITO["purple"],
    "o": OKABE_ITO["black"],
}
EPOCH_CMAP = "viridis"  # early epochs dark blue, late epochs yellow
GRID_POINTS = 200
KDE_POINTS = 2000  # weights per density estimate (a seeded random subset of larger matrices)
BASELINE_STYLES = {"persistence": ":", "seasonal": "-."}
DECADES_FOR_LOG = 1.0

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
):
    """One line per model over epochs: ``key`` solid, ``train_key`` dashed.

    ``reference`` adds labelled horizontal lines (e.g. baselines).
    """
    ax = _ax(ax)
    drawn = []
    for name, run in runs.items():
        y = _arr(run[key])
        ax.plot(
            np.arange(len(y)),
            y,
            color=model_color(name),
            lw=2,
            marker="o",
            ms=3,
            label=f"{name} test",
        )
        drawn.append(y)
        if train_key:
            t = _arr(run[train_key])
            ax.plot(
                np.arange(len(t)),
                t,
                color=model_color(name),
                lw=1.2,
                ls="--",
                label=f"{name} train",
            )
            drawn.append(t)
    for k, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(
            value, color="0.3", ls=list(BASELINE_STYLES.values())[k % 2], lw=1.2, label=label
        )
    if log_y is None:
        _log_if_wide(ax, drawn)
    elif log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.set_ylabel(ylabel or key)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
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
    """2 x 2: loss, accuracy or error, mean gradient norm, fraction of clipped steps."""
    fig, axes = _grid_axes(2, 2, size=(5.2, 3.6))
    plot_metric_curves(
        runs,
        axes[0, 0],
        key="test_loss",
        train_key="train_loss",
        ylabel="loss",
        title="Loss (train dashed, test solid)",
    )
    ax = plot_metric_curves(
        runs,
        axes[0, 1],
        key=f"test_{metric}",
        train_key=f"train_{metric}",
        ylabel=metric_label,
        title=metric_label.split(" (")[0],
        log_y=False,
        reference=reference,
    )
    if reference:  # keep the baselines readable: the untrained models' error can be far above them
        top = 1.5 * max(reference.values())
        if ax.get_ylim()[1] > top:
            ax.set_ylim(top=top)
            ax.set_title(f"{metric_label.split(' (')[0]} (axis cut at 1.5x the worst baseline)")
    ax = axes[1, 0]
    for name, run in runs.items():
        mean, top = _arr(run["grad_norm_mean"]), _arr(run["grad_norm_max"])
        ep = np.arange(len(mean))
        ax.plot(
            ep[1:], mean[1:], color=model_color(name), lw=2, marker="o", ms=3, label=f"{name} mean"
        )
        ax.plot(ep[1:], top[1:], color=model_color(name), lw=1, ls="--", label=f"{name} max")
    if clip_norm:
        ax.axhline(clip_norm, color="0.3", ls=":", lw=1.2, label=f"clip at {clip_norm:g}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm before clipping")
    ax.set_title("Global gradient norm per step")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1, 1]
    width = 0.8 / max(len(runs), 1)
    for k, (name, run) in enumerate(runs.items()):
        clipped, steps = _arr(run["clipped_steps"]), _arr(run["steps"])
        frac = np.where(steps > 0, clipped / np.maximum(steps, 1), np.nan)
        ep = np.arange(len(frac))
        ax.bar(
            ep[1:] + (k - (len(runs) - 1) / 2) * width,
            100 * frac[1:],
            width=width,
            color=model_color(name),
            label=name,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("clipped steps (%)")
    ax.set_title("Steps where clipping acted")
    ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_steps(
    steps: Mapping[str, Mapping[str, Sequence[float]]], *, title: str, clip_norm: float | None
):
    """Per-step training loss (top) and gradient norm (bottom) for every model."""
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for name, run in steps.items():
        loss, norm = _arr(run["loss"]), _arr(run["grad_norm"])
        axes[0].plot(np.arange(1, len(loss) + 1), loss, color=model_color(name), lw=0.8, label=name)
        axes[1].plot(np.arange(1, len(norm) + 1), norm, color=model_color(name), lw=0.8, label=name)
        spikes = np.asarray(run.get("spikes", []), dtype=int)
        if spikes.size:
            axes[0].scatter(
                spikes + 1, loss[spikes], color=model_color(name), marker="x", s=30, zorder=3
            )
    if clip_norm:
        axes[1].axhline(clip_norm, color="0.3", ls=":", lw=1.2, label=f"clip at {clip_norm:g}")
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[0].set_ylabel("training loss (batch)")
    axes[1].set_ylabel("gradient norm")
    axes[1].set_xlabel("optimiser step")
    axes[0].set_title("Per-step loss (x: loss spikes) and gradient norm before clipping")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Weight distributions
# --------------------------------------------------------------------------------------------


def plot_gate_histograms(
    blocks: Mapping[str, np.ndarray],
    ax=None,
    *,
    limit: float,
    bins: int = 60,
    title: str = "",
    legend: bool = True,
):
    """Overlaid step histograms (density) of the gate blocks of one matrix at one epoch; values
    beyond +-``limit`` are counted in the outermost bins."""
    ax = _ax(ax)
    edges = np.linspace(-limit, limit, bins + 1)
    for gate, values in blocks.items():
        density, _ = np.histogram(
            np.clip(np.ravel(values), -limit, limit), bins=edges, density=True
        )
        ax.stairs(density, edges, lw=1.3, color=GATE_COLORS[gate], label=GATE_LABELS[gate])
    ax.set_xlim(-limit, limit)
    if title:
        ax.set_title(title, fontsize=9)
    if legend:
        ax.legend(fontsize=6)
    return ax


def pick_epochs(n_epochs: int, count: int = 5) -> list[int]:
    """Up to ``count`` epochs spread over 0..n_epochs, always with 0, 1 and the last."""
    if n_epochs <= count - 1:
        return list(range(n_epochs + 1))
    inner = np.linspace(1, n_epochs, count - 1).round().astype(int).tolist()
    return sorted({0, *inner})


def figure_histogram_grid(rows: Weights, *, xlabel: str, title: str, count: int = 5):
    """Grid of overlaid per-gate histograms: one row per entry of ``rows`` (e.g. "LSTM W_hh"),
    one column per selected epoch (see :func:`pick_epochs`)."""
    names = list(rows)
    n_epochs = min(len(v) for v in rows.values()) - 1
    epochs = pick_epochs(n_epochs, count)
    fig, axes = _grid_axes(len(names), len(epochs), size=(2.6, 2.0), sharex="row")
    for r, name in enumerate(names):
        limit = symmetric_range([v for blocks in rows[name] for v in blocks.values()])
        for c, e in enumerate(epochs):
            ax = axes[r, c]
            plot_gate_histograms(
                rows[name][e],
                ax,
                limit=limit,
                legend=(c == len(epochs) - 1),
                title=f"{name}, epoch {e}",
            )
            if c == 0:
                ax.set_ylabel("density")
            if r == len(names) - 1:
                ax.set_xlabel(f"{xlabel} value")
            ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_kde(weights: Weights, *, xlabel: str, title: str):
    """Rows: models; columns: gate blocks; each panel overlays one density curve per epoch
    (colour from early, dark, to late, yellow)."""
    models = list(weights)
    max_gates = max(len(weights[m][0]) for m in models)
    n_epochs = max(len(v) for v in weights.values()) - 1
    fig, axes = _grid_axes(len(models), max_gates, size=(2.8, 2.2))
    norm = Normalize(0, max(n_epochs, 1))
    cmap = plt.get_cmap(EPOCH_CMAP)
    for r, name in enumerate(models):
        limit = symmetric_range([v for blocks in weights[name] for v in blocks.values()])
        grid = np.linspace(-limit, limit, GRID_POINTS)
        gates = list(weights[name][0])
        for c in range(max_gates):
            ax = axes[r, c]
            if c >= len(gates):
                ax.axis("off")
                continue
            gate = gates[c]
            for e, blocks in enumerate(weights[name]):
                ax.plot(
                    grid,
                    kde(blocks[gate], grid, max_points=KDE_POINTS, seed=e),
                    color=cmap(norm(e)),
                    lw=1,
                )
            ax.set_title(f"{name}: {GATE_LABELS[gate]}", fontsize=9, color=GATE_COLORS[gate])
            if c == 0:
                ax.set_ylabel("density")
            if r == len(models) - 1 or c >= len(weights[models[r + 1]][0]):
                ax.set_xlabel(xlabel)
    fig.tight_layout(rect=(0, 0, 0.92, 0.96))
    cax = fig.add_axes((0.93, 0.15, 0.015, 0.7))
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, label="epoch")
    fig.suptitle(title)
    return fig


def plot_ridgeline(
    per_epoch: Sequence[np.ndarray],
    ax=None,
    *,
    color: str,
    limit: float,
    overlap: float = 1.3,
    title: str = "",
    xlabel: str = "",
):
    """Stacked density curves, one per epoch from the bottom (epoch 0) up, each lower curve in
    front of the one above it, with the standard deviation of the weights written on the right:
    drift at a glance."""
    ax = _ax(ax, size=(4, 6))
    grid = np.linspace(-limit, limit, GRID_POINTS)
    curves = [
        kde(values, grid, max_points=KDE_POINTS, seed=e) for e, values in enumerate(per_epoch)
    ]
    scale = overlap / max(max(c.max() for c in curves), 1e-12)
    n = len(curves)
    shades = [
        plt.matplotlib.colors.to_rgba(color, 0.25 + 0.75 * e / max(n - 1, 1)) for e in range(n)
    ]
    step = max(1, n // 10)
    for e in reversed(range(n)):
        y = e + curves[e] * scale
        z = n - e  # lower ridges in front
        ax.fill_between(grid, e, y, facecolor="white", lw=0, zorder=z)
        ax.fill_between(grid, e, y, facecolor=shades[e], lw=0, zorder=z)
        ax.plot(grid, y, color="black", lw=0.6, zorder=z)
        if e % step == 0 or e == n - 1:
            ax.text(
                limit,
                e + 0.1,
                f"sd {np.std(per_epoch[e]):.3f}",
                fontsize=6,
                ha="right",
                va="bottom",
                zorder=n + 1,
            )
    ax.set_yticks(range(0, n, step))
    ax.set_ylabel("epoch")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-0.3, n - 1 + overlap + 0.2)
    ax.grid(False)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def figure_ridgeline(by_matrix: Mapping[str, Weights], *, title: str):
    """One ridgeline per model (columns) and matrix (rows, e.g. W_hh and W_ih) of all the
    matrix's weights, epoch 0 at the bottom."""
    matrices = list(by_matrix)
    models = list(by_matrix[matrices[0]])
    fig, axes = _grid_axes(len(matrices), len(models), size=(3.6, 4.2))
    for r, matrix in enumerate(matrices):
        for c, name in enumerate(models):
            per_epoch = [
                np.concatenate([np.ravel(v) for v in blocks.values()])
                for blocks in by_matrix[matrix][name]
            ]
            plot_ridgeline(
                per_epoch,
                axes[r, c],
                color=model_color(name),
                limit=symmetric_range(per_epoch),
                title=f"{name} {matrix}",
                xlabel=f"{matrix} weight value",
            )
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
    ylabel: str,
    title: str = "",
    skip_first: bool = False,
    log_y: bool | None = None,
    ls: str = "-",
    label_suffix: str = "",
    reference: float | None = None,
):
    """One line per gate block over epochs."""
    ax = _ax(ax)
    drawn = []
    for gate, values in curves.items():
        y = _arr(values)
        ep = np.arange(len(y))
        if skip_first:
            ep, y = ep[1:], y[1:]
        ax.plot(
            ep,
            y,
            color=GATE_COLORS[gate],
            ls=ls,
            lw=1.6,
            marker="o",
            ms=2.5,
            label=f"{GATE_LABELS[gate]}{label_suffix}",
        )
        drawn.append(y)
    if reference is not None:
        ax.axhline(reference, color="0.3", ls=":", lw=1.2)
    if log_y is None:
        _log_if_wide(ax, drawn)
    elif log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=6)
    return ax


def figure_norms(evolution: Mapping[str, Mapping], *, title: str):
    """Frobenius norms per gate block: recurrent W_hh (top row) and input W_ih (bottom row)."""
    models = list(evolution)
    fig, axes = _grid_axes(2, len(models), size=(3.6, 2.9))
    for c, name in enumerate(models):
        ev = evolution[name]
        plot_gate_curves(
            ev["frobenius"]["weight_hh_l0"],
            axes[0, c],
            ylabel="||W_hh block||_F",
            title=f"{name}: recurrent W_hh",
            log_y=False,
        )
        plot_gate_curves(
            ev["frobenius"]["weight_ih_l0"],
            axes[1, c],
            ylabel="||W_ih block||_F",
            title=f"{name}: input W_ih",
            log_y=False,
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_spectral_radius(evolution: Mapping[str, Mapping], *, title: str):
    """Spectral radius of every recurrent gate block per epoch, with rho = 1 dotted."""
    models = list(evolution)
    fig, axes = _grid_axes(1, len(models), size=(3.6, 3.0), sharey=True)
    for c, name in enumerate(models):
        plot_gate_curves(
            evolution[name]["spectral_radius"],
            axes[0, c],
            ylabel="spectral radius rho(W_hh block)",
            title=name,
            log_y=False,
            reference=1.0,
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_updates(evolution: Mapping[str, Mapping], *, title: str):
    """Top: relative update ||W_e - W_{e-1}|| / ||W_{e-1}|| per gate block (log scale);
    bottom: drift from initialisation ||W_e - W_0|| / ||W_0||. Solid W_hh, dashed W_ih."""
    models = list(evolution)
    fig, axes = _grid_axes(2, len(models), size=(3.6, 2.9), sharey="row")
    for c, name in enumerate(models):
        ev = evolution[name]
        for row, key, label in (
            (0, "relative_update", "relative update per epoch"),
            (1, "drift", "drift from epoch 0"),
        ):
            plot_gate_curves(
                ev[key]["weight_hh_l0"],
                axes[row, c],
                ylabel=label,
                skip_first=True,
                log_y=(row == 0),
                label_suffix=" W_hh",
                title=name if row == 0 else "",
            )
            plot_gate_curves(
                ev[key]["weight_ih_l0"],
                axes[row, c],
                ylabel=label,
                skip_first=True,
                log_y=(row == 0),
                ls="--",
                label_suffix=" W_ih",
            )
        axes[0, c].get_legend().remove()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Saturation
# --------------------------------------------------------------------------------------------


def plot_saturation(
    saturation: Mapping[str, Mapping[str, Sequence[float]]], ax=None, *, title: str = ""
):
    """Per gate over epochs: % below 0.1 (dashed) and above 0.9 (solid) for sigmoid gates,
    % with |tanh| > 0.95 (dotted) for tanh activations."""
    ax = _ax(ax)
    for gate, fractions in saturation.items():
        color = GATE_COLORS[gate]
        if "tanh" in fractions:
            y = 100 * _arr(fractions["tanh"])
            ax.plot(
                np.arange(len(y)),
                y,
                color=color,
                ls=":",
                lw=1.8,
                marker="s",
                ms=2.5,
                label=f"{GATE_LABELS[gate]}: |a|>0.95",
            )
        else:
            hi, lo = 100 * _arr(fractions["high"]), 100 * _arr(fractions["low"])
            ax.plot(
                np.arange(len(hi)),
                hi,
                color=color,
                lw=1.6,
                marker="o",
                ms=2.5,
                label=f"{GATE_LABELS[gate]}: >0.9",
            )
            ax.plot(
                np.arange(len(lo)),
                lo,
                color=color,
                lw=1.2,
                ls="--",
                label=f"{GATE_LABELS[gate]}: <0.1",
            )
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.set_ylabel("saturated activations (%)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    return ax


def figure_saturation(saturation: Mapping[str, Mapping], *, title: str):
    models = list(saturation)
    fig, axes = _grid_axes(1, len(models), size=(3.8, 3.3), sharey=True)
    for c, name in enumerate(models):
        plot_saturation(saturation[name], axes[0, c], title=name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_unit_saturation(
    units: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], *, title: str
):
    """Per hidden unit at the last epoch: fraction of steps left-saturated (x) against
    right-saturated (y) for every sigmoid gate (after Karpathy et al. 2015); tanh activations
    as a histogram of the per-unit fraction with |a| > 0.95."""
    models = list(units)
    fig, axes = _grid_axes(1, len(models), size=(3.6, 3.4))
    for c, name in enumerate(models):
        ax = axes[0, c]
        sigmoid = {g: v for g, v in units[name].items() if "tanh" not in v}
        if sigmoid:
            ax.plot([0, 1], [1, 0], color="0.7", lw=0.8, ls=":")
            for gate, v in sigmoid.items():
                ax.scatter(
                    v["low"],
                    v["high"],
                    s=9,
                    alpha=0.6,
                    color=GATE_COLORS[gate],
                    label=GATE_LABELS[gate],
                )
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("fraction of steps < 0.1 (left)")
            ax.set_ylabel("fraction of steps > 0.9 (right)")
        else:
            for gate, v in units[name].items():
                ax.hist(
                    v["tanh"],
                    bins=np.linspace(0, 1, 21),
                    color=GATE_COLORS[gate],
                    alpha=0.8,
                    label=GATE_LABELS[gate],
                )
            ax.set_xlabel("fraction of steps with |tanh| > 0.95")
            ax.set_ylabel("hidden units")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
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
    ax.legend(fontsize=8, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
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
