"""Q1's sentences: every observation of Q1 as a function of the numbers in its metrics.json.

:func:`observations` is what ``observations.md`` and the report show; the other functions are
its parts, one per kind of sentence. The rules, all on measured numbers:

- A comparison of two models (final loss, epochs or seconds to the threshold, gradient factor)
  is a difference only when the gap is larger than the seed-to-seed spread (the two standard
  deviations over seeds added); otherwise the sentence says it is within the spread.
- "Learns fastest" is said only of a model most of whose seeds reached the loss threshold
  (more than half: :data:`MAJORITY`), and only when it is ahead of the next such model by more
  than the spread. Each model's count of seeds that reached it is always given.
- A per-step gradient factor is quoted as a rate only when the line fitted to log ||dL/dh_t||
  is good (R^2 >= :data:`GOOD_FIT_R2`); otherwise it is called a poor fit.
- A "why" sentence (gated cells carry the gradient further back) needs the gated cell's factor
  above the RNN's by more than :data:`FACTOR_MARGIN` and the seed spread, good fits, and a
  gated factor that does not itself grow back in time (above 1 + :data:`FLAT_BAND` is exploding,
  not reaching further).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnnlab.analysis.insights import compare
from rnnlab.observations import MAX_FINDINGS, setting
from rnnlab.results import Finding

FLAT_BAND = 0.01  # a per-step factor within 1 +- this counts as "roughly constant"
GOOD_FIT_R2 = 0.8  # a decay fit with R^2 below this is a poor fit: its factor is not a rate
FACTOR_MARGIN = 0.05  # a gated cell's per-step factor must beat the RNN's by more than this
MAJORITY = 0.5  # a model "reached" the threshold when more than this share of seeds did

TASK_TITLES = {"sine": "Sine", "text": "Text"}


def _fmt(x: float | None) -> str:
    """A loss or duration with 3 significant digits."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:#.3g}".rstrip(".")  # keep trailing zeros: 2.00, 0.0200


def _sd(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


# ------------------------------------------------------------------------------------------
# Loss curves: ranking, speed, cost, clipping
# ------------------------------------------------------------------------------------------


def ranking_observations(task: str, loss_name: str, summary: Mapping) -> list[str]:
    """The final losses, best first, and each gap against the seed-to-seed spread."""
    models, ranking = summary["models"], summary["ranking"]
    S, E = summary["n_seeds"], summary["epochs"]
    ranked = ", ".join(
        f"{m} {_fmt(models[m]['final_val_mean'])} ± {_fmt(models[m]['final_val_std'])}" for m in ranking
    )
    out = [f"{task}: final {loss_name} after {E} epochs (mean ± sd over {S} seeds), best first: {ranked}."]
    for p in summary["pairs"]:
        rel = f" ({100 * p['relative_gap']:.0f}% lower)" if _finite(p["relative_gap"]) else ""
        head = f"{task}: {p['better']} ends {_fmt(p['gap'])} below {p['worse']}{rel}"
        if p["exceeds_spread"]:
            out.append(f"{head}, more than the seed-to-seed spread ({_fmt(p['spread'])}, the two sds added).")
        else:
            out.append(
                f"{head}, within the seed-to-seed spread ({_fmt(p['spread'])}, the two sds added): "
                f"these {S} seeds do not separate {p['better']} from {p['worse']}."
            )
    return out


def _reached_most(d: Mapping, n_seeds: int) -> bool:
    return d["seeds_reached"] > MAJORITY * n_seeds


def threshold_observation(task: str, loss_name: str, summary: Mapping) -> str:
    """Epochs and seconds to the loss threshold per model, with how many seeds reached it."""
    models, S, E = summary["models"], summary["n_seeds"], summary["epochs"]
    parts, never = [], []
    for m in summary["ranking"]:
        d = models[m]
        if d["seeds_reached"] == 0:
            never.append(m)
            continue
        mostly_not = "" if _reached_most(d, S) else ", mostly not reached"
        parts.append(f"{m} after {d['epochs_to_threshold_mean']:.1f} epochs "
                     f"({_fmt(d['seconds_to_threshold_mean'])} s; {d['seeds_reached']}/{S} seeds "
                     f"reached it{mostly_not})")
    sentence = (f"{task}: to reach {loss_name} {_fmt(summary['threshold'])} "
                f"({summary['threshold_rule']}; means over the seeds that reached it)")
    if parts:
        sentence += ", " + "; ".join(parts)
    if never:
        sentence += f"; {' and '.join(never)} never reached it within {E} epochs (0/{S} seeds)"
    return sentence + "."


def speed_leader(models: Mapping[str, Mapping], candidates: Sequence[str], key: str) -> dict:
    """The model with the lowest mean ``key`` (``"epochs"`` or ``"seconds"``) to the threshold.

    The mean and sd are over the seeds that reached the threshold (per-seed lists
    ``<key>_to_threshold``); the lead "exceeds the spread" when the runner-up's mean minus the
    leader's is larger than the two sds added.

    Returns
    -------
    dict
        ``best``, ``runner_up``, ``best_mean``, ``runner_up_mean``, ``gap``, ``spread``,
        ``exceeds_spread``.
    """
    stats = {}
    for m in candidates:
        values = [v for v in models[m][f"{key}_to_threshold"] if v is not None]
        stats[m] = (float(np.mean(values)), _sd(values))
    best, runner = sorted(candidates, key=lambda m: (stats[m][0], -models[m]["seeds_reached"]))[:2]
    gap = stats[runner][0] - stats[best][0]
    spread = stats[best][1] + stats[runner][1]
    return {"best": best, "runner_up": runner, "best_mean": stats[best][0], "runner_up_mean": stats[runner][0],
            "gap": gap, "spread": spread, "exceeds_spread": bool(gap > spread)}


def _lead_text(lead: Mapping, unit: str, digits: str) -> str:
    b, r = lead["best"], lead["runner_up"]
    numbers = (f"{b} {lead['best_mean']:{digits}} against {r} {lead['runner_up_mean']:{digits}} {unit}, "
               f"spread {lead['spread']:{digits}}")
    if lead["exceeds_spread"]:
        return f"{b} needs the fewest {unit}, ahead by more than the seed-to-seed spread ({numbers})"
    if lead["gap"] == 0:
        return f"in {unit}, {b} and {r} are level ({numbers})"
    return f"in {unit}, {b} and {r} are within the seed-to-seed spread ({numbers})"


def speed_observation(task: str, summary: Mapping) -> str:
    """Which model reaches the loss threshold first, in epochs and in seconds, if any can be said."""
    models, S = summary["models"], summary["n_seeds"]
    able = [m for m in summary["ranking"] if _reached_most(models[m], S)]
    unable = [m for m in summary["ranking"] if m not in able]
    not_most = (f"; {' and '.join(unable)} reached it in at most half of the {S} seeds, so "
                f"{'it is' if len(unable) == 1 else 'they are'} not ranked") if unable else ""
    if not able:
        return (f"{task}: no model reached the threshold in most of its {S} seeds, so none can be "
                f"called fastest.")
    if len(able) == 1:
        m = able[0]
        return (f"{task}: only {m} reached the threshold in most seeds "
                f"({models[m]['seeds_reached']}/{S}){not_most}.")
    by_epoch = speed_leader(models, able, "epochs")
    by_time = speed_leader(models, able, "seconds")
    if by_epoch["exceeds_spread"] and by_time["exceeds_spread"]:
        if by_epoch["best"] == by_time["best"]:
            return (f"{task}: {by_epoch['best']} learns fastest both per epoch and per second of training, "
                    f"ahead of the next model by more than the seed-to-seed spread{not_most}.")
        a, b = by_epoch["best"], by_time["best"]
        ratio = models[a]["seconds_per_epoch"] / models[b]["seconds_per_epoch"]
        return (f"{task}: {a} needs the fewest epochs, but an epoch of {a} costs {ratio:.1f}x one of "
                f"{b}, so {b} gets there first in seconds (both leads beyond the seed-to-seed "
                f"spread){not_most}.")
    return (f"{task}: to the threshold, {_lead_text(by_epoch, 'epochs', '.1f')}; "
            f"{_lead_text(by_time, 'seconds', '.3g')}{not_most}.")


def curve_observations(task: str, loss_name: str, summary: Mapping) -> list[str]:
    """Ranking, gaps, time to the threshold and speed of one task (see the module rules)."""
    out = ranking_observations(task, loss_name, summary)
    out.append(threshold_observation(task, loss_name, summary))
    if len(summary["models"]) >= 2:
        out.append(speed_observation(task, summary))
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


def timing_observation(timing: Mapping) -> list[str]:
    """How the training seconds were measured: ``timing["workers"]`` lists how many runs trained
    side by side, per run (one value when every run agrees)."""
    workers = timing.get("workers")
    if isinstance(workers, int):  # written as one number for a few commits of issue 12
        workers = [workers]
    if not workers:
        return []
    if len(workers) > 1:
        sizes = " or ".join(str(w) for w in workers)
        return [(f"Times are each run's own training seconds; the runs were trained in parts, {sizes} side by "
                "side, so their times are not measured alike.")]
    if workers[0] > 1:
        return [(f"Times are each run's own training seconds, with {workers[0]} runs training side by side in "
                "separate processes, one core each.")]
    return ["Times are each run's own training seconds, one run at a time."]


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


def clipping_numbers(curves: Mapping[str, Mapping]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean clipped fraction and gradient norm per model, from epoch 1 (epoch 0 has no updates)."""
    clipped = {lb: float(np.mean(np.array(c["clipped_fraction"], dtype=np.float64)[:, 1:]))
               for lb, c in curves.items()}
    norms = {lb: float(np.mean(np.array(c["grad_norm"], dtype=np.float64)[:, 1:])) for lb, c in curves.items()}
    return clipped, norms


def baseline_observations(task: str, what: str, baseline: float, summary: Mapping) -> list[str]:
    """Each model's final loss against a no-learning baseline (lower is better).

    ``what`` describes the baseline with a ``{value}`` placeholder for its loss.
    """
    models = summary["models"]
    parts = []
    for lb, d in models.items():
        final = d["final_val_mean"]
        side = "below it" if final < baseline else "not below it"
        parts.append(f"{lb} ends at {_fmt(final)} ({side})")
    return [f"{task}: {what.format(value=_fmt(baseline))}; " + ", ".join(parts) + "."]


# ------------------------------------------------------------------------------------------
# Mechanism: why the gated cells win or not
# ------------------------------------------------------------------------------------------


def _gate_text(m: str, mech: Mapping) -> str:
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


def fit_quality(mech: Mapping) -> float:
    """Mean R^2 of a model's per-seed decay fits (NaN when not recorded)."""
    r2 = [r for r in mech.get("grad_fit_r2_per_seed") or [] if _finite(r)]
    return float(np.mean(r2)) if r2 else float("nan")


def factor_lead(mechanism: Mapping[str, Mapping], gated: str) -> dict:
    """How far ``gated``'s per-step factor is above the RNN's, against margin and seed spread."""
    g, r = mechanism[gated], mechanism["RNN"]
    gap = g["grad_factor_per_step"] - r["grad_factor_per_step"]
    spread = _sd(g.get("grad_factor_per_seed") or []) + _sd(r.get("grad_factor_per_seed") or [])
    needed = max(FACTOR_MARGIN, spread)
    return {"gap": float(gap), "needed": float(needed), "clear": bool(gap > needed)}


def _why_sentence(task: str, winners: list[str], mechanism: Mapping[str, Mapping]) -> str:
    """The sentence about the gradient flow of gated cells that beat the RNN."""
    names = " and ".join(winners)
    verb = "beats" if len(winners) == 1 else "beat"
    factor = {m: mechanism[m]["grad_factor_per_step"] for m in ["RNN", *winners]}
    fs = ", ".join(f"{m} x{factor[m]:.2f}" for m in winners) + f" against x{factor['RNN']:.2f} for the RNN"
    quality = {m: fit_quality(mechanism[m]) for m in ["RNN", *winners]}
    poor = [m for m, q in quality.items() if not (q >= GOOD_FIT_R2)]
    if poor:
        r2 = ", ".join(f"{m} {quality[m]:.2f}" if _finite(quality[m]) else f"{m} not recorded" for m in poor)
        return (f"{task}: {names} {verb} the RNN, but the gradient-flow fits of the trained models are "
                f"poor (R^2 {r2}, below {GOOD_FIT_R2:g}), so their per-step factors ({fs}) are not rates "
                f"and do not explain it.")
    growing = [m for m in winners if factor[m] > 1 + FLAT_BAND]
    if growing:
        both = " (as does the RNN's)" if factor["RNN"] > 1 + FLAT_BAND else ""
        return (f"{task}: {names} {verb} the RNN, but the gradient of {' and '.join(growing)} grows "
                f"back in time{both} ({fs}): an exploding signal, not one that reaches further back, "
                f"so the gradient flow does not explain it.")
    leads = {m: factor_lead(mechanism, m) for m in winners}
    if all(d["clear"] for d in leads.values()):
        return (f"{task}: why {names} {verb} the RNN: in the trained models the gradient of the last "
                f"step's loss changes per step back in time by {fs} (R^2 of the fits at least "
                f"{min(quality.values()):.2f}), more than {FACTOR_MARGIN:g} and the seed spread apart, "
                f"so the error signal reaches further back. The gated cells have paths for it that the "
                f"RNN lacks: " + "; ".join(_gate_text(m, mechanism.get(m, {})) for m in winners) + ".")
    return (f"{task}: {names} {verb} the RNN, but the measured gradient flow does not explain it "
            f"(per-step factor {fs}, not apart by more than {FACTOR_MARGIN:g} and the seed spread); "
            f"the remaining differences are the gates' multiplicative interactions and the extra "
            f"parameters.")


def mechanism_observations(task: str, summary: Mapping, mechanism: Mapping[str, Mapping]) -> list[str]:
    """"Why" sentences tying the loss ranking to measured gradient flow and gate values.

    Parameters
    ----------
    task : str
    summary : dict
        From :func:`rnnlab.analysis.insights.summarize_runs`; labels ``"RNN"``, ``"LSTM"``, ``"GRU"``.
    mechanism : mapping label -> dict
        Measured on the trained models of this task: ``grad_factor_per_step`` (mean over seeds),
        ``grad_factor_per_seed``, ``grad_fit_r2_per_seed``, and for the LSTM
        ``forget_gate_mean``, for the GRU ``update_gate_mean``; optionally
        ``forget_gate_open_fraction`` / ``update_gate_open_fraction``.

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
    factors = [mechanism.get(m, {}).get("grad_factor_per_step") for m in ["RNN", *gated_win]]
    if gated_win and all(_finite(f) for f in factors):
        out.append(_why_sentence(task, gated_win, mechanism))
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


# ------------------------------------------------------------------------------------------
# Gradient flow through time
# ------------------------------------------------------------------------------------------


def trend(fit: Mapping) -> str:
    """How ||dL/dh_t|| changes going back in time, from a decay fit (a poor fit is named so)."""
    factor, r2 = fit.get("factor_per_step"), fit.get("r2")
    if not _finite(factor):
        return "cannot be fitted"
    if not (_finite(r2) and r2 >= GOOD_FIT_R2):
        r2_text = f"R^2 {r2:.2f}" if _finite(r2) else "R^2 not recorded"
        return f"follows no clear geometric trend (poor fit, {r2_text}; fitted x{factor:.3g} per step)"
    if factor < 1 - FLAT_BAND:
        return f"shrinks x{factor:.3g} per step back in time (vanishing)"
    if factor > 1 + FLAT_BAND:
        return f"grows x{factor:.3g} per step back in time (exploding)"
    return f"stays roughly constant (x{factor:.3g} per step)"


def _good(fit: Mapping) -> bool:
    return _finite(fit.get("factor_per_step")) and _finite(fit.get("r2")) and fit["r2"] >= GOOD_FIT_R2


def _per_cell_sentences(gradflow: Mapping, T_max: int) -> list[str]:
    out = []
    key = str(T_max)
    for label, conds in gradflow["cells"].items():
        init = conds.get("init", {}).get(key)
        trained = conds.get("trained", {}).get(key)
        if init is None:
            continue
        n = np.asarray(init["norms"], dtype=np.float64)
        s = (f"{label}, T = {T_max}: at initialisation ||dL/dh_t|| {trend(init['fit'])}, "
             f"from {n[-1]:.2g} at t = {T_max} to {n[0]:.2g} at t = 1")
        if trained is not None:
            m = np.asarray(trained["norms"], dtype=np.float64)
            s += (f"; after training on {gradflow.get('trained_on', 'the task')} it "
                  f"{trend(trained['fit'])}, reaching {m[0]:.2g} at t = 1")
        out.append(s + ".")
    return out


def length_observations(gradflow: Mapping) -> list[str]:
    """Whether the gradient left at the first step falls exponentially with the length T."""
    lengths = [int(T) for T in gradflow["lengths"]]
    out = []
    for label, conds in gradflow["cells"].items():
        init = conds.get("init", {})
        Ts = [T for T in lengths if str(T) in init]
        if len(Ts) < 2:
            continue
        fits = [init[str(T)]["fit"] for T in Ts]
        fs = [f["factor_per_step"] for f in fits]
        listed = ", ".join(map(str, Ts))
        if not all(_good(f) for f in fits):
            out.append(f"{label}: at initialisation not every length (T = {listed}) gives a good geometric "
                       f"fit (R^2 >= {GOOD_FIT_R2:g}), so no exponential law in T is claimed.")
        elif max(fs) < 1 - FLAT_BAND:
            firsts = ", ".join(f"{init[str(T)]['norms'][0]:.1g} at T = {T}" for T in Ts)
            out.append(
                f"{label}: the per-step factor at initialisation is {min(fs):.2f}-{max(fs):.2f} for "
                f"T = {listed}, so the gradient left at the first step falls exponentially with the "
                f"sequence length: {firsts}."
            )
        else:
            out.append(f"{label}: at initialisation the gradient does not shrink at every length "
                       f"(per-step factor {min(fs):.2f}-{max(fs):.2f} for T = {listed}), so it does "
                       f"not fall exponentially with the sequence length.")
    return out


def gradflow_observations(gradflow: Mapping) -> list[str]:
    """Sentences about ||dL/dh_t|| from the gradient-flow metrics.

    Parameters
    ----------
    gradflow : dict
        ``lengths`` (list of T), ``vanishing_radius``, ``exploding_radius``, ``trained_on`` and
        ``cells``: label -> condition (``"init"``, ``"trained"``, ``"vanishing"``,
        ``"exploding"``) -> str(T) -> {``norms``: list (T,), ``fit``: DecayFit dict with
        ``factor_per_step`` and ``r2``}. Optionally ``jacobian``: label -> condition -> norms by lag.
    """
    T_max = max(int(T) for T in gradflow["lengths"])
    out = _per_cell_sentences(gradflow, T_max) + length_observations(gradflow)
    return out + radius_observations(gradflow) + jacobian_observations(gradflow)


def through_time_observations(gradflow: Mapping) -> list[str]:
    """The per-cell and per-length sentences of the gradient flow (init and trained)."""
    T_max = max(int(T) for T in gradflow["lengths"])
    return _per_cell_sentences(gradflow, T_max) + length_observations(gradflow)


def radius_observations(gradflow: Mapping) -> list[str]:
    """How each cell's gradient responds to W_hh rescaled to the vanishing and exploding radii."""
    T_max = max(int(T) for T in gradflow["lengths"])
    key = str(T_max)
    cells = gradflow["cells"]
    out = []
    for cond, radius in (("vanishing", gradflow.get("vanishing_radius")),
                         ("exploding", gradflow.get("exploding_radius"))):
        parts = []
        for label, conds in cells.items():
            entry = conds.get(cond, {}).get(key)
            if entry is not None:
                parts.append(f"the {label}'s gradient {trend(entry['fit'])} ({entry['norms'][0]:.2g} at t = 1)")
        if parts:
            out.append(f"Every W_hh gate block rescaled to spectral radius {radius:g}, T = {T_max}: "
                       + "; ".join(parts) + ".")
    return out


def jacobian_observations(gradflow: Mapping) -> list[str]:
    """The Jacobian product's norm at one lag, at initialisation and after training."""
    T_max = max(int(T) for T in gradflow["lengths"])
    out = []
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


# ------------------------------------------------------------------------------------------
# All of Q1
# ------------------------------------------------------------------------------------------


def task_observations(task_name: str, m: Mapping, hidden_size: int, clip: float | None) -> list[str]:
    """The sentences of one task (``"sine"`` or ``"text"``) from ``metrics["tasks"][task_name]``."""
    title = TASK_TITLES.get(task_name, task_name)
    out = curve_observations(title, m["loss"], m)
    out += cost_observations(title, m, hidden_size)
    out += mechanism_observations(title, m, m["mechanism"])
    clipped, norms = clipping_numbers(m["curves"])
    out += clipping_observations(title, clipped, norms, clip)
    return out



SINE_BASELINE = "copying the last noisy value would score validation MSE {value}"
TEXT_BASELINE = ("a model that ignores context scores {value} nats/char (the character entropy of the "
                 "training text)")


def prediction_observations(predictions: Mapping) -> list[str]:
    """Each model's MSE on the sequences of the sine-prediction figure, lowest first."""
    seqs = predictions.get("sequences") or []
    if not seqs:
        return []
    labels = list(seqs[0]["mse"])
    mean = {lb: float(np.mean([s["mse"][lb] for s in seqs])) for lb in labels}
    ranked = ", ".join(f"{lb} {_fmt(mean[lb])}" for lb in sorted(labels, key=lambda lb: mean[lb]))
    which = " and ".join(str(s["index"]) for s in seqs)
    return [(f"Sine: on the plotted validation sequences ({which}; seed {predictions['seed']}) the one-step-ahead "
            f"MSE, lowest first: {ranked}.")]


# ------------------------------------------------------------------------------------------
# Correctness: gradient check and torch parity
# ------------------------------------------------------------------------------------------

GRADCHECK_TOLERANCE = 1e-7  # worst relative error against finite differences (as `rnnlab gradcheck`)
TORCH_TOLERANCE = 1e-10  # worst absolute difference from torch in float64 (as `rnnlab gradcheck`)


def correctness_worst(correctness: Mapping) -> dict:
    """The worst finite-difference error and the worst torch difference over every cell.

    Returns
    -------
    dict
        ``fd`` and ``torch``: each ``(value, cell label, array name)``; ``fd_failed`` and
        ``torch_failed``: ``"label name"`` of every entry at or above its tolerance (a NaN fails).
    """
    fd, th, fd_failed, th_failed = (-1.0, "", ""), (-1.0, "", ""), [], []
    for entry in correctness["cells"].values():
        label = entry["label"]
        for name, v in entry["finite_differences"].items():
            v = float(v)
            if not v < GRADCHECK_TOLERANCE:
                fd_failed.append(f"{label} {name}")
            if not v <= fd[0]:
                fd = (v, label, name)
        for name, v in entry["torch"].items():
            v = float(v)
            if not v < TORCH_TOLERANCE:
                th_failed.append(f"{label} {name}")
            if not v <= th[0]:
                th = (v, label, name)
    return {"fd": fd, "torch": th, "fd_failed": fd_failed, "torch_failed": th_failed}


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _times(ratio: float) -> str:
    """A ratio as ``12x`` or, when huge, ``3e+11x``."""
    return f"{ratio:.0f}x" if ratio < 1e4 else f"{ratio:.0e}x"


def _listed(names: list[str], most: int = 3) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def correctness_observations(correctness: Mapping) -> list[str]:
    """Whether the hand-written BPTT passes the gradient check and matches torch, with the worst numbers."""
    w = correctness_worst(correctness)
    n = len(correctness["cells"])
    sizes = ", ".join(f"{k} = {correctness[k]}" for k in ("N", "T", "D", "H"))
    (fd, fd_cell, fd_name), (th, th_cell, th_name) = w["fd"], w["torch"]
    if w["fd_failed"]:
        first = (f"Gradient check FAILED ({correctness['dtype']}, {sizes}): {len(w['fd_failed'])} hand-written "
                 f"gradients are {GRADCHECK_TOLERANCE:.0e} or more from centred finite differences "
                 f"({_listed(w['fd_failed'])}); the worst relative error is {fd:.1e} ({fd_cell}, {fd_name}).")
    else:
        first = (f"Gradient check ({correctness['dtype']}, {sizes}): over all {n} cells and every hand-written "
                 f"gradient (each parameter, the input and the initial state) the worst relative error against "
                 f"centred finite differences is {fd:.1e} ({fd_cell}, {fd_name}), below the tolerance "
                 f"{GRADCHECK_TOLERANCE:.0e}.")
    if w["torch_failed"]:
        second = (f"Torch parity FAILED: {len(w['torch_failed'])} outputs or gradients differ from torch by "
                  f"{TORCH_TOLERANCE:.0e} or more ({_listed(w['torch_failed'])}); the worst difference is "
                  f"{th:.1e} ({th_cell}, {th_name}).")
    else:
        second = (f"Torch parity: the worst absolute difference of the outputs and gradients from torch is "
                  f"{th:.1e} ({th_cell}, {th_name}; torch.nn on the same weights, the Cho GRU against autograd "
                  f"of its torch transcription), below the tolerance {TORCH_TOLERANCE:.0e}.")
    return [first, second]


# ------------------------------------------------------------------------------------------
# Topics, findings and limitations
# ------------------------------------------------------------------------------------------

TOPICS = (  # (key, title)
    ("correctness", "1. The engine is right: gradient check and torch parity"),
    ("loss", "2. Loss curves: who learns faster"),
    ("cost", "3. Cost: parameters, time per epoch, loss against time"),
    ("clipping", "4. Gradient clipping during training"),
    ("sine", "5. Sine predictions"),
    ("text", "6. Sampled text"),
    ("gradflow", "7. Gradient flow through time"),
    ("vanishing", "8. Vanishing and exploding gradients"),
    ("jacobian", "9. Jacobian products"),
)


def topic_sentences(metrics: Mapping, config: Any) -> dict[str, list[str]]:
    """The sentences of each topic of :data:`TOPICS`, by key (a part missing from ``metrics`` gives none).

    ``config`` gives the hidden sizes (``sine_hidden``, ``text_hidden``) and ``clip``.
    """
    tasks = metrics["tasks"]
    out: dict[str, list[str]] = {key: [] for key, _ in TOPICS}
    if "correctness" in metrics:
        out["correctness"] = correctness_observations(metrics["correctness"])
    for name in ("sine", "text"):
        if name not in tasks:
            continue
        m, title = tasks[name], TASK_TITLES[name]
        out["loss"] += curve_observations(title, m["loss"], m)
        out["cost"] += cost_observations(title, m, setting(config, f"{name}_hidden"))
        out["gradflow"] += mechanism_observations(title, m, m["mechanism"])
        clipped, norms = clipping_numbers(m["curves"])
        out["clipping"] += clipping_observations(title, clipped, norms, setting(config, "clip"))
    if out["cost"]:
        out["cost"] += timing_observation(metrics.get("timing", {}))
    if "sine" in tasks:
        out["sine"] += baseline_observations("Sine", SINE_BASELINE, tasks["sine"]["copy_last_value_mse"],
                                             tasks["sine"])
    if "sine_predictions" in metrics:
        out["sine"] += prediction_observations(metrics["sine_predictions"])
    if "text" in tasks:
        out["text"] += baseline_observations("Text", TEXT_BASELINE, tasks["text"]["unigram_entropy_nats"],
                                             tasks["text"])
    gradflow = metrics["gradflow"]
    out["gradflow"] += through_time_observations(gradflow)
    out["vanishing"] = radius_observations(gradflow)
    out["jacobian"] = jacobian_observations(gradflow)
    return out


def observations(metrics: Mapping, config: Any) -> list[str]:
    """Every sentence of Q1, topic by topic, from its metrics (as read back from metrics.json)
    and its config (see :func:`topic_sentences`)."""
    return [s for sentences in topic_sentences(metrics, config).values() for s in sentences]


# Priorities of the findings (lower first): a failed check or goal, then a result against
# expectation, then the largest effect, then a confirmed expectation.
FAILED, SURPRISE, EFFECT, CONFIRMED = 0, 1, 2, 3
CLIPPED_MOST = 0.5  # clipping that acts on more than this share of updates shapes the training
REACH_RATIO = 10.0  # trained cells whose gradient at t = 1 differs by this factor differ in reach


def _correctness_finding(correctness: Mapping) -> tuple[int, Finding]:
    w = correctness_worst(correctness)
    if w["fd_failed"] or w["torch_failed"]:
        failed = w["fd_failed"] + [f"{x} (torch)" for x in w["torch_failed"]]
        return FAILED, Finding(
            f"The engine's gradient check FAILED for {_listed(failed)}: results trained with it are suspect.",
            "correctness")
    return CONFIRMED, Finding(
        f"The hand-written BPTT passes: for RNN, LSTM and both GRU variants the worst gradient error "
        f"against finite differences is {w['fd'][0]:.1e} (tolerance {GRADCHECK_TOLERANCE:.0e}), the worst "
        f"difference from torch {w['torch'][0]:.1e} (tolerance {TORCH_TOLERANCE:.0e}; float64).", "correctness")


def _task_findings(task: str, m: Mapping, baseline: float | None, what: str) -> list[tuple[int, Finding]]:
    """A model not beating the no-learning baseline (failed); the RNN beating a gated cell beyond
    the spread (against expectation); the largest gap beyond the spread (effect); else the seeds
    not separating the cells (confirmed: nothing to claim)."""
    title, models, S = TASK_TITLES.get(task, task), m["models"], m["n_seeds"]
    out: list[tuple[int, Finding]] = []
    if baseline is not None:
        above = [lb for lb in m["ranking"] if not models[lb]["final_val_mean"] < baseline]
        if above:
            out.append((FAILED, Finding(
                f"{title}: {_and(above)} end{'s' if len(above) == 1 else ''} at or above the no-learning "
                f"baseline ({what} {_fmt(baseline)}): {'it has' if len(above) == 1 else 'they have'} not learnt "
                f"the task within {m['epochs']} epochs.", "loss")))
    beyond = [p for p in m["pairs"] if p["exceeds_spread"]]
    rnn_wins = [p for p in beyond if p["better"] == "RNN" and p["worse"] in ("LSTM", "GRU")]
    if rnn_wins:
        p = max(rnn_wins, key=lambda p: p["gap"])
        out.append((SURPRISE, Finding(
            f"{title}: against expectation the plain RNN ends below the {p['worse']} ({m['loss']} "
            f"{_fmt(models['RNN']['final_val_mean'])} against {_fmt(models[p['worse']]['final_val_mean'])}, "
            f"beyond the seed spread over {S} seeds).", "loss")))
    elif beyond:
        p = max(beyond, key=lambda p: p["relative_gap"] if _finite(p["relative_gap"]) else -1.0)
        rel = f" ({100 * p['relative_gap']:.0f}% lower)" if _finite(p["relative_gap"]) else ""
        out.append((EFFECT, Finding(
            f"{title}: {p['better']} ends at {m['loss']} {_fmt(models[p['better']]['final_val_mean'])} against "
            f"{_fmt(models[p['worse']]['final_val_mean'])} for {p['worse']}{rel}, beyond the seed spread over "
            f"{S} seeds.", "loss")))
    else:
        out.append((CONFIRMED, Finding(
            f"{title}: the {S} seeds do not separate the cells' final {m['loss']} (every gap within the "
            f"seed-to-seed spread).", "loss")))
    clipped, _ = clipping_numbers(m["curves"])
    most = [lb for lb, f in clipped.items() if f > CLIPPED_MOST]
    if most:
        out.append((SURPRISE, Finding(
            f"{title}: gradient clipping acted on most updates of "
            + ", ".join(f"{lb} ({100 * clipped[lb]:.0f}%)" for lb in most)
            + ", so the clip norm, not the raw gradient, set their step sizes.", "clipping")))
    return out


def _gradflow_findings(gradflow: Mapping) -> list[tuple[int, Finding]]:
    """How far back the trained cells' gradient reaches (an effect when the cells differ by
    :data:`REACH_RATIO` or more), and whether every cell explodes at the exploding radius."""
    T_max = max(int(T) for T in gradflow["lengths"])
    key = str(T_max)
    out: list[tuple[int, Finding]] = []
    first = {lb: float(c["trained"][key]["norms"][0]) for lb, c in gradflow["cells"].items()
             if key in c.get("trained", {})}
    first = {lb: v for lb, v in first.items() if _finite(v) and v > 0}
    if len(first) >= 2:
        hi, lo = max(first, key=first.get), min(first, key=first.get)
        ratio = first[hi] / first[lo]
        listed = ", ".join(f"{lb} {first[lb]:.1e}" for lb in sorted(first, key=first.get, reverse=True))
        if ratio >= REACH_RATIO:
            out.append((EFFECT, Finding(
                f"After training, the gradient of the last step's loss that reaches t = 1 of {T_max} steps is "
                f"{_times(ratio)} larger in the {hi} than in the {lo} ({listed}).", "gradflow")))
        else:
            out.append((CONFIRMED, Finding(
                f"After training, the gradient reaching t = 1 of {T_max} steps is within a factor "
                f"{ratio:.1f} across the cells ({listed}).", "gradflow")))
    grows, not_grows = [], []
    for lb, c in gradflow["cells"].items():
        fit = c.get("exploding", {}).get(key, {}).get("fit")
        if fit is None:
            continue
        poor = "" if _good(fit) else " (poor fit)"
        (grows if _good(fit) and fit["factor_per_step"] > 1 + FLAT_BAND else not_grows).append(
            f"{lb} x{fit['factor_per_step']:.2f}{poor}")
    radius = gradflow.get("exploding_radius")
    if grows and not_grows:
        out.append((SURPRISE, Finding(
            f"W_hh at spectral radius {radius:g} makes the gradient explode in {', '.join(grows)} per step back "
            f"in time, but not in {', '.join(not_grows)}.", "vanishing")))
    elif not_grows:
        out.append((SURPRISE, Finding(
            f"W_hh at spectral radius {radius:g} makes no cell's gradient grow back in time "
            f"({', '.join(not_grows)} per step).", "vanishing")))
    elif grows:
        out.append((CONFIRMED, Finding(
            f"W_hh at spectral radius {radius:g} makes every cell's gradient explode back in time "
            f"({', '.join(grows)} per step).", "vanishing")))
    return out


def _candidates(metrics: Mapping) -> list[tuple[int, Finding]]:
    out: list[tuple[int, Finding]] = []
    if "correctness" in metrics:
        out.append(_correctness_finding(metrics["correctness"]))
    tasks = metrics["tasks"]
    if "sine" in tasks:
        out += _task_findings("sine", tasks["sine"], tasks["sine"].get("copy_last_value_mse"),
                              "copying the last value scores")
    if "text" in tasks:
        out += _task_findings("text", tasks["text"], tasks["text"].get("unigram_entropy_nats"),
                              "the character entropy is")
    out += _gradflow_findings(metrics["gradflow"])
    return out


def findings(metrics: Mapping, config: Any = None) -> list[Finding]:
    """The 3 to 6 key findings of Q1, chosen by rule from the measurements.

    Candidates, by priority: failed (the gradient check or torch parity fails; a model ends at or
    above its task's no-learning baseline), against expectation (the RNN ends below a gated cell
    beyond the seed spread; clipping acted on more than :data:`CLIPPED_MOST` of a model's updates;
    a cell whose gradient does not explode at the exploding radius), the largest effect (per task
    the largest relative gap beyond the spread; trained cells whose gradient at t = 1 differs by
    :data:`REACH_RATIO` or more), confirmed (the engine passes; the seeds separate no cell; the
    cells' reach within that factor; every cell explodes). The first :data:`MAX_FINDINGS` by
    priority are kept, in the order above within a priority, except that the gradient check's
    finding always has a place (it replaces the last one kept); the gradient check, the two tasks
    and the gradient flow always give at least four.
    """
    ranked = [f for _, (_, f) in sorted(enumerate(_candidates(metrics)), key=lambda item: (item[1][0], item[0]))]
    kept = ranked[:MAX_FINDINGS]
    proof = [f for f in ranked if f.topic == "correctness"]
    if proof and proof[0] not in kept:  # the engine's check always has a place
        kept[-1] = proof[0]
    return kept


def limitations(metrics: Mapping, config: Any = None) -> list[str]:
    """What limits Q1's results, each a short phrase (empty: nothing does)."""
    out = []
    if setting(config, "profile") == "quick":
        out.append("quick profile: tiny settings, numbers are not meaningful")
    source = metrics.get("text_source", {}).get("name")
    if source == "python-docs":
        out.append("fallback text: the Zen of Python and Python's help topics instead of Debian fortunes "
                   "(not installed)")
    if "correctness" not in metrics:
        out.append("no gradient check in these results (saved before it was added; run again)")
    else:
        w = correctness_worst(metrics["correctness"])
        if w["fd_failed"] or w["torch_failed"]:
            out.append("gradient check failed: the engine's gradients are not verified")
    return out
