"""Q1's insights: numbers read off the loss curves, and sentences generated from them.

Everything here is a function of measured numbers. :func:`summarize_runs` turns per-seed loss
curves into the table numbers (final loss mean and spread, epochs and seconds to a loss
threshold, cost per epoch); the ``*_observations`` functions turn those numbers into sentences.
A sentence that compares two models says whether the gap is larger than the seed-to-seed spread
(the sum of the two standard deviations over seeds) and says so when it is not; a sentence that
gives a reason ("why") is only written when the measured mechanism numbers point the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ShapeError

THRESHOLD_MARGIN = 1.1  # automatic threshold: this times the worst model's final mean loss
FLAT_BAND = 0.01  # a per-step factor within 1 +- this counts as "roughly constant"


@dataclass(frozen=True)
class RunCurves:
    """Per-seed curves of one model on one task.

    Attributes
    ----------
    val_loss : ndarray, (S, E+1)
        Validation loss after epochs 0..E for S seeds (epoch 0: before training).
    seconds : ndarray, (S, E+1)
        Cumulative training time at the end of each epoch.
    num_parameters : int
    train_loss : ndarray, (S, E+1), optional
    """

    val_loss: np.ndarray
    seconds: np.ndarray
    num_parameters: int
    train_loss: np.ndarray | None = None

    def __post_init__(self):
        v, s = np.asarray(self.val_loss), np.asarray(self.seconds)
        if v.ndim != 2 or v.shape != s.shape or v.shape[1] < 2:
            raise ShapeError(f"expected val_loss and seconds of one shape (S, E+1) with E >= 1, "
                             f"found {v.shape} and {s.shape}")


def first_crossing(losses: Sequence[float], threshold: float) -> int | None:
    """The first epoch whose loss is at or below ``threshold`` (None when it never is)."""
    hits = np.flatnonzero(np.asarray(losses, dtype=np.float64) <= threshold)
    return int(hits[0]) if hits.size else None


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize_runs(curves: Mapping[str, RunCurves], threshold: float | None = None,
                   margin: float = THRESHOLD_MARGIN) -> dict:
    """Table numbers for several models trained with the same budget and seeds.

    Parameters
    ----------
    curves : mapping model label -> RunCurves
    threshold : float, optional
        Loss threshold for "epochs/seconds to threshold". Default: ``margin`` times the largest
        final mean validation loss among the models, a level every model reaches on average.
    margin : float

    Returns
    -------
    dict
        ``threshold``, ``threshold_rule``, ``n_seeds``, ``epochs``, ``ranking`` (labels, lowest
        final mean loss first), ``pairs`` (consecutive models of the ranking: gap, spread, whether
        the gap exceeds it) and ``models`` (per label: final loss per seed, mean, sd, best epoch
        loss, epochs and seconds to threshold per seed and their means over the seeds that
        reached it, seconds per epoch, parameters).
    """
    if not curves:
        raise ShapeError("expected curves for at least one model, found none")
    finals = {m: np.asarray(c.val_loss, np.float64)[:, -1] for m, c in curves.items()}
    if threshold is None:
        threshold = float(margin * max(float(np.mean(f)) for f in finals.values()))
        rule = f"{margin:g} x the highest final mean validation loss among the models"
    else:
        rule = "given"
    models: dict[str, dict] = {}
    for label, c in curves.items():
        val = np.asarray(c.val_loss, np.float64)
        sec = np.asarray(c.seconds, np.float64)
        E1 = val.shape[1]
        epochs = [first_crossing(v, threshold) for v in val]
        secs = [None if e is None else float(sec[i, e]) for i, e in enumerate(epochs)]
        reached = [e for e in epochs if e is not None]
        models[label] = {
            "final_val_per_seed": finals[label].tolist(),
            "final_val_mean": float(np.mean(finals[label])),
            "final_val_std": _std(finals[label]),
            "best_val_mean": float(np.mean(val.min(axis=1))),
            "initial_val_mean": float(np.mean(val[:, 0])),
            "epochs_to_threshold": epochs,
            "seconds_to_threshold": secs,
            "seeds_reached": len(reached),
            "epochs_to_threshold_mean": float(np.mean(reached)) if reached else None,
            "seconds_to_threshold_mean": float(np.mean([s for s in secs if s is not None])) if reached else None,
            "seconds_per_epoch": float(np.mean(sec[:, -1]) / (E1 - 1)),
            "num_parameters": int(c.num_parameters),
        }
        if c.train_loss is not None:
            models[label]["final_train_mean"] = float(np.mean(np.asarray(c.train_loss)[:, -1]))
    ranking = sorted(models, key=lambda m: models[m]["final_val_mean"])
    pairs = [compare(models, a, b) for a, b in itertools.pairwise(ranking)]
    if len(ranking) > 2:
        pairs.append(compare(models, ranking[0], ranking[-1]))
    first = next(iter(curves.values()))
    return {
        "threshold": float(threshold),
        "threshold_rule": rule,
        "n_seeds": int(np.asarray(first.val_loss).shape[0]),
        "epochs": int(np.asarray(first.val_loss).shape[1] - 1),
        "ranking": ranking,
        "pairs": pairs,
        "models": models,
    }


def compare(models: Mapping[str, dict], a: str, b: str) -> dict:
    """Gap between the final mean losses of ``a`` (better) and ``b`` against the seed spread.

    The spread is sd_a + sd_b (standard deviations over seeds); the gap "exceeds the spread" when
    mean_b - mean_a is larger than that sum.
    """
    ma, mb = models[a]["final_val_mean"], models[b]["final_val_mean"]
    spread = models[a]["final_val_std"] + models[b]["final_val_std"]
    gap = mb - ma
    return {
        "better": a,
        "worse": b,
        "gap": float(gap),
        "relative_gap": float(gap / mb) if mb else float("nan"),
        "spread": float(spread),
        "exceeds_spread": bool(gap > spread),
    }


def _fmt(x: float | None) -> str:
    """A loss or duration with 3 significant digits."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:#.3g}".rstrip(".")  # keep trailing zeros: 2.00, 0.0200


def curve_observations(task: str, loss_name: str, summary: Mapping) -> list[str]:
    """Sentences about which model learns faster and ends lower on one task.

    Parameters
    ----------
    task : str
        Task label used in the sentences, e.g. ``"Sine"``.
    loss_name : str
        e.g. ``"validation MSE"``.
    summary : dict
        From :func:`summarize_runs`.
    """
    models, ranking = summary["models"], summary["ranking"]
    S, E = summary["n_seeds"], summary["epochs"]
    out = []
    ranked = ", ".join(
        f"{m} {_fmt(models[m]['final_val_mean'])} ± {_fmt(models[m]['final_val_std'])}" for m in ranking
    )
    out.append(f"{task}: final {loss_name} after {E} epochs (mean ± sd over {S} seeds), best first: {ranked}.")
    for p in summary["pairs"]:
        rel = f" ({100 * p['relative_gap']:.0f}% lower)" if np.isfinite(p["relative_gap"]) else ""
        head = f"{task}: {p['better']} ends {_fmt(p['gap'])} below {p['worse']}{rel}"
        if p["exceeds_spread"]:
            out.append(f"{head}, more than the seed-to-seed spread ({_fmt(p['spread'])}, the two sds added).")
        else:
            out.append(
                f"{head}, within the seed-to-seed spread ({_fmt(p['spread'])}, the two sds added): "
                f"these {S} seeds do not separate {p['better']} from {p['worse']}."
            )
    # Speed to the threshold, in epochs and in seconds.
    thr = summary["threshold"]
    parts, never = [], []
    for m in ranking:
        d = models[m]
        if d["seeds_reached"] == 0:
            never.append(m)
            continue
        seeds = "" if d["seeds_reached"] == S else f", {d['seeds_reached']}/{S} seeds reached it"
        parts.append(f"{m} after {d['epochs_to_threshold_mean']:.1f} epochs "
                     f"({_fmt(d['seconds_to_threshold_mean'])} s{seeds})")
    reached = [m for m in ranking if models[m]["seeds_reached"] > 0]
    sentence = f"{task}: to reach {loss_name} {_fmt(thr)} ({summary['threshold_rule']})"
    if parts:
        sentence += ", " + "; ".join(parts)
    if never:
        sentence += f"; {' and '.join(never)} never reached it within {E} epochs"
    out.append(sentence + ".")
    if len(reached) >= 2:
        by_epoch = min(reached, key=lambda m: (models[m]["epochs_to_threshold_mean"], -models[m]["seeds_reached"]))
        by_time = min(reached, key=lambda m: (models[m]["seconds_to_threshold_mean"], -models[m]["seeds_reached"]))
        if by_epoch == by_time:
            out.append(f"{task}: {by_epoch} learns fastest both per epoch and per second of training.")
        else:
            ratio = models[by_epoch]["seconds_per_epoch"] / models[by_time]["seconds_per_epoch"]
            out.append(
                f"{task}: {by_epoch} needs the fewest epochs, but an epoch of {by_epoch} costs "
                f"{ratio:.1f}x one of {by_time}, so {by_time} gets there first in seconds."
            )
    return out


def cost_observations(task: str, summary: Mapping, hidden_size: int) -> list[str]:
    """Parameter counts and time per epoch relative to the cheapest model."""
    models = summary["models"]
    cheapest = min(models, key=lambda m: models[m]["num_parameters"])
    p0, t0 = models[cheapest]["num_parameters"], models[cheapest]["seconds_per_epoch"]
    others = [m for m in models if m != cheapest]
    if not others:
        return []
    desc = ", ".join(
        f"{m} {models[m]['num_parameters'] / p0:.1f}x the parameters and "
        f"{models[m]['seconds_per_epoch'] / t0:.1f}x the time per epoch" for m in others
    )
    return [(f"{task}: at hidden size {hidden_size}, against {cheapest} ({p0:,} parameters, "
            f"{_fmt(t0)} s per epoch): {desc}.")]


def clipping_observations(task: str, clipped_fraction: Mapping[str, float], grad_norm: Mapping[str, float],
                          clip: float | None) -> list[str]:
    """How often gradient clipping acted during training, per model.

    Parameters
    ----------
    clipped_fraction : mapping label -> fraction of updates whose global gradient norm exceeded
        ``clip`` (mean over epochs and seeds)
    grad_norm : mapping label -> mean global gradient norm before clipping
    clip : float or None
    """
    if clip is None or not clipped_fraction:
        return []
    parts = ", ".join(f"{m} {100 * clipped_fraction[m]:.0f}% (mean norm {_fmt(grad_norm[m])})"
                      for m in clipped_fraction)
    if max(clipped_fraction.values()) == 0:
        return [f"{task}: gradient clipping at global norm {clip:g} never acted (mean gradient norm "
                + ", ".join(f"{m} {_fmt(grad_norm[m])}" for m in grad_norm) + ")."]
    return [f"{task}: share of updates whose gradient was clipped at global norm {clip:g}: {parts}."]


def mechanism_observations(task: str, summary: Mapping, mechanism: Mapping[str, Mapping]) -> list[str]:
    """"Why" sentences tying the loss ranking to measured gradient flow and gate values.

    Parameters
    ----------
    task : str
    summary : dict
        From :func:`summarize_runs`; model labels ``"RNN"``, ``"LSTM"``, ``"GRU"``.
    mechanism : mapping label -> dict
        Measured on the trained models of this task: ``grad_factor_per_step`` (the factor by
        which ||dL/dh_t|| changes per step back in time, see
        :func:`rnnlab.analysis.gradflow.fit_decay`), and for the LSTM ``forget_gate_mean``, for the
        GRU ``update_gate_mean``; optionally ``forget_gate_open_fraction`` /
        ``update_gate_open_fraction`` (fraction of gate values above 0.9).

    Returns
    -------
    list of str
        Empty when the labels needed are missing.
    """
    models = summary["models"]
    if "RNN" not in models or not ({"LSTM", "GRU"} & set(models)):
        return []
    gated = [m for m in ("LSTM", "GRU") if m in models]
    out = []

    def beats(a: str, b: str) -> bool:
        p = compare(models, a, b)
        return p["gap"] > 0 and p["exceeds_spread"]

    gated_win = [m for m in gated if beats(m, "RNN")]
    rnn_win = [m for m in gated if beats("RNN", m)]
    factor = {m: mechanism.get(m, {}).get("grad_factor_per_step") for m in ["RNN", *gated]}
    have_factors = all(f is not None and np.isfinite(f) for f in factor.values())

    def gate_text(m: str) -> str:
        mech = mechanism.get(m, {})
        if m == "LSTM":
            gate, path = "forget", ("the LSTM's additive cell path c_t = f*c_(t-1) + i*g, which passes "
                                    "f*dL/dc_t straight to c_(t-1)")
        else:
            gate, path = "update", ("the GRU's interpolation h_t = (1-z)*n + z*h_(t-1), which passes "
                                    "z*dL/dh_t straight to h_(t-1)")
        mean, open_ = mech.get(f"{gate}_gate_mean"), mech.get(f"{gate}_gate_open_fraction")
        if mean is None:
            return path
        extra = f", {100 * open_:.0f}% of its values above 0.9" if open_ is not None else ""
        text = f"{path} (measured: mean {gate} gate {mean:.2f}{extra})"
        if mean < 0.5:
            text += (f", although with the {gate} gate mostly closed this direct path carries less "
                     f"than half of the gradient, so it does not explain the difference alone")
        return text

    if gated_win:
        names = " and ".join(gated_win)
        if have_factors and all(factor[m] > factor["RNN"] for m in gated_win):
            fs = ", ".join(f"{m} x{factor[m]:.2f}" for m in gated_win)
            out.append(
                f"{task}: why {names} beat{'s' if len(gated_win) == 1 else ''} the RNN: in the trained "
                f"models the gradient of the last step's loss changes per step back in time by "
                f"{fs} against x{factor['RNN']:.2f} for the RNN, so the error signal reaches further "
                f"back. The gated cells have paths for it that the RNN lacks: "
                + "; ".join(gate_text(m) for m in gated_win) + "."
            )
        elif have_factors:
            fs = ", ".join(f"{m} x{factor[m]:.2f}" for m in gated_win)
            out.append(
                f"{task}: {names} beat{'s' if len(gated_win) == 1 else ''} the RNN, but the measured "
                f"gradient flow does not explain it (per-step factor {fs} against x{factor['RNN']:.2f} "
                f"for the RNN); the remaining differences are the gates' multiplicative "
                f"interactions and the extra parameters."
            )
    if rnn_win:
        names = " and ".join(rnn_win)
        out.append(
            f"{task}: the RNN ends lower than the {names} by more than the seed spread: at this budget "
            f"(the same number of updates for every cell) the {names}'s gating brings no measurable "
            f"benefit on this task."
        )
    tied = [m for m in gated if m not in gated_win and m not in rnn_win]
    if tied:
        out.append(
            f"{task}: {' and '.join(tied)} and the RNN are within the seed spread of each other, so "
            f"these runs show no advantage from gating on this task."
        )
    return out


def _trend(factor: float) -> str:
    if not np.isfinite(factor):
        return "cannot be fitted"
    if factor < 1 - FLAT_BAND:
        return f"shrinks x{factor:.3g} per step back in time (vanishing)"
    if factor > 1 + FLAT_BAND:
        return f"grows x{factor:.3g} per step back in time (exploding)"
    return f"stays roughly constant (x{factor:.3g} per step)"


def gradflow_observations(gradflow: Mapping) -> list[str]:
    """Sentences about ||dL/dh_t|| from the gradient-flow metrics.

    Parameters
    ----------
    gradflow : dict
        ``lengths`` (list of T), ``vanishing_radius``, ``exploding_radius``, ``trained_on`` and
        ``cells``: label -> condition (``"init"``, ``"trained"``, ``"vanishing"``,
        ``"exploding"``) -> str(T) -> {``norms``: list (T,), ``fit``: DecayFit dict}.
        Optionally ``jacobian``: label -> condition -> list of norms by lag.
    """
    out = []
    lengths = [int(T) for T in gradflow["lengths"]]
    T_max = max(lengths)
    key = str(T_max)
    cells = gradflow["cells"]
    for label, conds in cells.items():
        init = conds.get("init", {}).get(key)
        trained = conds.get("trained", {}).get(key)
        if init is None:
            continue
        n = np.asarray(init["norms"], dtype=np.float64)
        s = (f"{label}, T = {T_max}: at initialisation ||dL/dh_t|| {_trend(init['fit']['factor_per_step'])}, "
             f"from {n[-1]:.2g} at t = {T_max} to {n[0]:.2g} at t = 1")
        if trained is not None:
            m = np.asarray(trained["norms"], dtype=np.float64)
            s += (f"; after training on {gradflow.get('trained_on', 'the task')} it "
                  f"{_trend(trained['fit']['factor_per_step'])}, reaching {m[0]:.2g} at t = 1")
        out.append(s + ".")
    # The same per-step factor over several lengths: exponential in T.
    for label, conds in cells.items():
        init = conds.get("init", {})
        if len(init) < 2:
            continue
        fs = [init[str(T)]["fit"]["factor_per_step"] for T in lengths if str(T) in init]
        firsts = [f"{init[str(T)]['norms'][0]:.1g} at T = {T}" for T in lengths if str(T) in init]
        if all(np.isfinite(fs)) and max(fs) < 1 - FLAT_BAND:
            out.append(
                f"{label}: the per-step factor at initialisation is {min(fs):.2f}-{max(fs):.2f} for "
                f"T = {', '.join(map(str, lengths))}, so the gradient left at the first step falls "
                f"exponentially with the sequence length: {', '.join(firsts)}."
            )
    for cond, radius in (("vanishing", gradflow.get("vanishing_radius")),
                         ("exploding", gradflow.get("exploding_radius"))):
        parts = []
        for label, conds in cells.items():
            entry = conds.get(cond, {}).get(key)
            if entry is not None:
                first = entry["norms"][0]
                parts.append(f"the {label}'s gradient {_trend(entry['fit']['factor_per_step'])} "
                             f"({first:.2g} at t = 1)")
        if parts:
            out.append(f"Every W_hh gate block rescaled to spectral radius {radius:g}, T = {T_max}: "
                       + "; ".join(parts) + ".")
    jac = gradflow.get("jacobian")
    if jac:
        lag = min(T_max - 1, 50)
        parts = [f"{label} {np.asarray(v['init'])[lag]:.2g}" for label, v in jac.items() if "init" in v]
        parts_t = [f"{label} {np.asarray(v['trained'])[lag]:.2g}" for label, v in jac.items() if "trained" in v]
        if parts:
            s = f"Jacobian product ||dh_T/dh_(T-{lag})||: at initialisation " + ", ".join(parts)
            if parts_t:
                s += "; after training " + ", ".join(parts_t)
            out.append(s + ".")
    return out
