"""Figures of Q1: loss curves over seeds, gradient flow through time, Jacobian norms.

``plot_*`` functions draw one panel on ``ax`` (a new one when None) and return it; ``figure_*``
functions lay several panels out and return the figure (save it with
:func:`rnnlab.viz.style.save_figure`). Every model keeps its colour from
:func:`rnnlab.viz.style.model_color`; magnitudes that span decades get a log axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from rnnlab.viz.style import OKABE_ITO, model_color

SPREAD_ALPHA = 0.2  # shading of the min-max band over seeds
DECADES_FOR_LOG = 1.0  # use a log y axis when the plotted values span more than this many decades
CONDITION_STYLES = {  # line style per gradient-flow condition
    "init": {"linestyle": "--", "alpha": 0.9},
    "trained": {"linestyle": "-", "alpha": 1.0},
}
LENGTH_COLORS = [OKABE_ITO[k] for k in ("sky_blue", "vermillion", "black", "purple", "yellow")]
POOR_FIT_R2 = 0.8  # legends mark a decay fit below this R^2 as poor (rnnlab.observations.q1.GOOD_FIT_R2)


def fit_legend(fit: Mapping) -> str:
    """`` (x0.62/step)`` for a decay fit, `` (poor fit, R^2 0.27)`` when R^2 < POOR_FIT_R2, else ``""``."""
    factor, r2 = fit.get("factor_per_step"), fit.get("r2")
    if factor is None or not np.isfinite(factor):
        return ""
    if r2 is not None and np.isfinite(r2) and r2 < POOR_FIT_R2:
        return f" (poor fit, R^2 {r2:.2f})"
    return f" (x{factor:.2f}/step)"


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    return ax


def _span_decades(values: Sequence[np.ndarray]) -> float:
    v = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in values])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 0.0
    return float(np.log10(v.max() / v.min()))


def focus_range(curves: Sequence[np.ndarray], last: float, threshold: float | None = None,
                margin: float = 0.15) -> tuple[float, float]:
    """(low, high) covering the last ``last`` fraction of epochs of every (S, E') curve, and the
    threshold, plus ``margin`` of the span on each side."""
    tails = []
    for c in curves:
        c = np.asarray(c, dtype=np.float64)
        start = int(np.floor(c.shape[-1] * (1 - last)))
        tails.append(c[..., min(start, c.shape[-1] - 1):].ravel())
    if threshold is not None:
        tails.append(np.array([threshold], dtype=np.float64))
    v = np.concatenate(tails)
    v = v[np.isfinite(v)]
    low, high = float(v.min()), float(v.max())
    pad = margin * (high - low) if high > low else 0.05 * max(abs(high), 1e-12)
    return low - pad, high + pad


def plot_loss_curves(curves: Mapping[str, Mapping[str, np.ndarray]], ax=None, *, key: str = "val_loss",
                     x: str = "epoch", log_y: bool | None = None, threshold: float | None = None,
                     train_key: str | None = "train_loss", title: str = "", ylabel: str = "loss",
                     focus_last: float | None = None):
    """Mean loss over seeds with a min-max band, one colour per model.

    Parameters
    ----------
    curves : mapping label -> {key: (S, E+1) array, "seconds": (S, E+1) array, ...}
    ax : matplotlib Axes, optional
    key : str
        The curve drawn solid (validation loss by default).
    x : ``"epoch"`` or ``"seconds"``
        Horizontal axis: epochs, or mean cumulative training seconds over the seeds.
    log_y : bool, optional
        Log scale; by default when the curves span more than one decade.
    threshold : float, optional
        A horizontal dotted line at the loss threshold.
    train_key : str or None
        Also draw this curve's mean dashed (training loss), without band.
    focus_last : float, optional
        Fit the y range to the last ``focus_last`` fraction of the epochs (e.g. 0.5: the second
        half), so that small gaps between the trained models are visible; the early, high part
        of the curves leaves the panel at the top. None: the whole range.
    """
    ax = _ax(ax)
    drawn = []
    for label, c in curves.items():
        val = np.asarray(c[key], dtype=np.float64)  # (S, E+1)
        if x == "seconds":
            xs = np.asarray(c["seconds"], dtype=np.float64).mean(axis=0)
        else:
            xs = np.arange(val.shape[1])
        color = model_color(label)
        S = val.shape[0]
        ax.plot(xs, val.mean(axis=0), color=color, lw=2, label=f"{label} (val., mean of {S})")
        ax.fill_between(xs, val.min(axis=0), val.max(axis=0), color=color, alpha=SPREAD_ALPHA, lw=0)
        drawn.append(val)
        if train_key and train_key in c:
            tr = np.asarray(c[train_key], dtype=np.float64)
            # epoch 0 has no training epoch; draw from epoch 1
            ax.plot(xs[1:], tr.mean(axis=0)[1:], color=color, lw=1.2, linestyle="--",
                    label=f"{label} (train)")
            drawn.append(tr[:, 1:])
    if threshold is not None:
        ax.axhline(threshold, color="0.3", linestyle=":", lw=1.2, label=f"threshold {threshold:.3g}")
    use_log = log_y if log_y is not None else _span_decades(drawn) > DECADES_FOR_LOG
    if use_log:
        ax.set_yscale("log")
    if focus_last is not None and not use_log:
        ax.set_ylim(*focus_range(drawn, focus_last, threshold))
    ax.set_xlabel("epoch" if x == "epoch" else "training time (s, mean over seeds)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_grad_norms(series: Mapping[str, np.ndarray], ax=None, *, title: str = "",
                    styles: Mapping[str, dict] | None = None, colors: Mapping[str, str] | None = None,
                    ylabel: str = "||dL/dh_t|| (log scale)"):
    """||dL/dh_t|| against t on a log axis, one line per entry of ``series``.

    Parameters
    ----------
    series : mapping name -> (T,) norms for t = 1..T
    styles : mapping name -> matplotlib line keywords, optional
    colors : mapping name -> colour; by default the model colour of the name's first word.
    """
    ax = _ax(ax)
    for name, norms in series.items():
        norms = np.asarray(norms, dtype=np.float64)
        t = np.arange(1, len(norms) + 1)
        color = (colors or {}).get(name) or model_color(name.split()[0])
        ax.plot(t, np.where(norms > 0, norms, np.nan), color=color, label=name,
                **(styles or {}).get(name, {}))
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_jacobian_norms(series: Mapping[str, np.ndarray], ax=None, *, title: str = "",
                        styles: Mapping[str, dict] | None = None):
    """||dh_T/dh_t||_2 against the lag T - t on a log axis, one line per entry."""
    ax = _ax(ax)
    for name, norms in series.items():
        norms = np.asarray(norms, dtype=np.float64)
        lag = np.arange(len(norms))
        ax.plot(lag, np.where(norms > 0, norms, np.nan), color=model_color(name.split()[0]), label=name,
                **(styles or {}).get(name, {}))
    ax.axhline(1.0, color="0.5", lw=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("lag T - t (steps)")
    ax.set_ylabel("||dh_T / dh_t||_2 (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


# ------------------------------------------------------------------------------------------
# Multi-panel figures
# ------------------------------------------------------------------------------------------


def figure_loss_curves(tasks: Mapping[str, Mapping], *, x: str = "epoch"):
    """One panel per task: validation (solid, band = min-max over seeds) and training (dashed).

    Parameters
    ----------
    tasks : mapping task title -> {"curves": label -> arrays, "ylabel": str, "threshold": float,
        "log_y": bool or None, "focus_last": float or None (see :func:`plot_loss_curves`)}
    x : ``"epoch"`` or ``"seconds"``
    """
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, (title, t) in zip(axes[0], tasks.items()):
        plot_loss_curves(t["curves"], ax, x=x, threshold=t.get("threshold"), log_y=t.get("log_y"),
                         title=title, ylabel=t["ylabel"], focus_last=t.get("focus_last"))
    what = "epoch" if x == "epoch" else "training time"
    fig.suptitle(f"Q1: NumPy RNN, LSTM, GRU, same budget; loss against {what} "
                 f"(line: mean over seeds, band: min-max)")
    fig.tight_layout()
    return fig


def figure_gradflow_init_vs_trained(cells: Mapping[str, Mapping], lengths: Sequence[int], *,
                                    trained_on: str = "the task"):
    """Grid: rows = cells, columns = sequence lengths; dashed = at initialisation, solid = trained.

    Parameters
    ----------
    cells : mapping label -> {"init": {str(T): {"norms": ...}}, "trained": {...}}
    """
    labels = list(cells)
    fig, axes = plt.subplots(len(labels), len(lengths), figsize=(4.2 * len(lengths), 3.0 * len(labels)),
                             squeeze=False, sharey="row")
    for i, label in enumerate(labels):
        for j, T in enumerate(lengths):
            series, styles = {}, {}
            for cond in ("init", "trained"):
                entry = cells[label].get(cond, {}).get(str(T))
                if entry is None:
                    continue
                name = f"{label} {'at init' if cond == 'init' else 'trained'}" + fit_legend(entry["fit"])
                series[name] = entry["norms"]
                styles[name] = CONDITION_STYLES[cond]
            plot_grad_norms(series, axes[i, j], styles=styles, title=f"{label}, T = {T}",
                            ylabel="||dL/dh_t||" if j == 0 else "")
    fig.suptitle(f"Gradient of the last step's loss reaching each step t, ||dL/dh_t|| (log scale): "
                 f"at initialisation (dashed) and after training on {trained_on} (solid)")
    fig.tight_layout()
    return fig


def figure_gradflow_radius(cells: Mapping[str, Mapping], lengths: Sequence[int], *,
                           vanishing_radius: float, exploding_radius: float):
    """Grid: rows = vanishing / exploding regime, columns = sequence lengths, one line per cell."""
    fig, axes = plt.subplots(2, len(lengths), figsize=(4.2 * len(lengths), 6.2), squeeze=False)
    for i, (cond, radius, word) in enumerate((("vanishing", vanishing_radius, "small"),
                                              ("exploding", exploding_radius, "large"))):
        for j, T in enumerate(lengths):
            series = {}
            for label, conds in cells.items():
                entry = conds.get(cond, {}).get(str(T))
                if entry is not None:
                    series[label + fit_legend(entry["fit"])] = entry["norms"]
            plot_grad_norms(series, axes[i, j],
                            title=f"{cond}: spectral radius of W_hh = {radius:g}, T = {T}",
                            ylabel="||dL/dh_t||" if j == 0 else "")
    fig.suptitle(f"Vanishing and exploding gradients: every W_hh gate block rescaled to spectral radius "
                 f"{vanishing_radius:g} (top) or {exploding_radius:g} (bottom), untrained weights")
    fig.tight_layout()
    return fig


def figure_jacobian(jacobian: Mapping[str, Mapping[str, np.ndarray]], *, T: int,
                    vanishing_radius: float, exploding_radius: float, trained_on: str = "the task"):
    """Panels per condition (init, trained, vanishing, exploding): ||dh_T/dh_t|| vs T - t per cell."""
    titles = {
        "init": "at initialisation",
        "trained": f"after training on {trained_on}",
        "vanishing": f"W_hh spectral radius {vanishing_radius:g}",
        "exploding": f"W_hh spectral radius {exploding_radius:g}",
    }
    conds = [c for c in titles if any(c in v for v in jacobian.values())]
    ncols = min(2, len(conds))
    nrows = -(-len(conds) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(conds):
            ax.set_visible(False)
            continue
        cond = conds[k]
        series = {label: v[cond] for label, v in jacobian.items() if cond in v}
        plot_jacobian_norms(series, ax, title=titles[cond])
        if k % ncols:
            ax.set_ylabel("")
    fig.suptitle(f"Norm of the Jacobian product dh_T/dh_t against the lag, T = {T} (mean over sequences)")
    fig.tight_layout()
    return fig


def plot_sine_predictions(truth: Sequence[float], inputs: Sequence[float] | None,
                          predictions: Mapping[str, Sequence[float]], ax=None, *, title: str = ""):
    """One validation sequence: the clean next values (black), the noisy inputs (grey dots) and
    each model's one-step-ahead prediction (its colour), against the step t.

    Parameters
    ----------
    truth : (T,) targets y_t
    inputs : (T,) inputs x_t, optional
    predictions : mapping label -> (T,) predictions
    """
    ax = _ax(ax)
    t = np.arange(1, len(truth) + 1)
    if inputs is not None:
        ax.plot(t, np.asarray(inputs, dtype=np.float64), ".", color="0.6", ms=3, label="input x_t")
    ax.plot(t, np.asarray(truth, dtype=np.float64), color="black", lw=2.2, label="target y_t")
    for label, pred in predictions.items():
        ax.plot(t, np.asarray(pred, dtype=np.float64), color=model_color(label), lw=1.4, label=label)
    ax.set_xlabel("step t")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return ax


def figure_sine_predictions(sequences: Sequence[Mapping]):
    """One panel per validation sequence ({"truth", "inputs", "predictions", "title"})."""
    fig, axes = plt.subplots(len(sequences), 1, figsize=(8, 2.8 * len(sequences)), squeeze=False)
    for ax, seq in zip(axes[:, 0], sequences):
        plot_sine_predictions(seq["truth"], seq.get("inputs"), seq["predictions"], ax, title=seq.get("title", ""))
    fig.tight_layout()
    return fig
