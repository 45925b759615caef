"""The introductory exercises: seven parts, each computed, measured and shown.

1. Architectures: one-to-one, one-to-many, many-to-one, many-to-many, encoder-decoder, each a
   tiny PyTorch model run on dummy input (:mod:`rnnlab.exercises.architectures`).
2. Parameter counting with shared weights, checked against PyTorch (:mod:`~rnnlab.exercises.counting`).
3. The manual forward pass, by a plain loop and by the NumPy engine (:mod:`~rnnlab.exercises.forward_pass`).
4. A many-to-one NumPy RNN on four toy sequences, trained by hand-written BPTT
   (:mod:`~rnnlab.exercises.toy_classifier`).
5. A PyTorch RNN telling increasing from decreasing sequences, tested on longer ones
   (:mod:`~rnnlab.exercises.monotonic`).
6. A 2-layer bidirectional LSTM sentiment classifier over GloVe vectors with gradient x input
   word attribution (:mod:`~rnnlab.exercises.sentiment`), on the shipped sentences or IMDb.
7. RNN, LSTM, GRU and BiLSTM side by side, with the vanishing gradient against sequence length
   (:mod:`~rnnlab.exercises.comparison`).

Data flow: ``rnnlab.exercises.*`` (pure computations returning numbers) -> this module (metrics,
tables, text blocks, observations computed by the ``*_observations`` functions below) ->
:mod:`rnnlab.viz.exercises` (figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.errors import ConfigError
from rnnlab.experiments.base import (
    PROFILES,
    Figure,
    RunContext,
    SectionResult,
    Table,
    config_to_dict,
)

NAME = "exercises"
TITLE = "Introductory exercises: architectures, parameter counts, a manual forward pass, small classifiers"


@dataclass(frozen=True)
class Config:
    """Every setting of the exercises (seeds: ``seed``, ``seed + 1``, ...)."""

    profile: str = "default"
    seed: int = 0
    # 2. parameter counting: the exercise's RNN, and the length that must not change the count
    count_input: int = 4
    count_hidden: int = 3
    count_steps: int = 10
    # 4. toy classifier (NumPy engine, full batch, Adam)
    toy_hidden: int = 4
    toy_epochs: int = 200
    toy_lr: float = 0.05
    # 5. increasing / decreasing (PyTorch RNN)
    mono_train: int = 2000
    mono_test: int = 1000
    mono_length: int = 4
    mono_eval_lengths: tuple[int, ...] = (4, 8, 16)
    mono_hidden: int = 16
    mono_epochs: int = 20
    mono_batch: int = 64
    mono_lr: float = 0.01
    mono_seeds: int = 3
    # 6. BiLSTM sentiment classifier
    imdb_dir: str | None = None
    sent_hidden: int = 32
    sent_layers: int = 2
    sent_dropout: float = 0.3
    sent_epochs: int = 25
    sent_batch: int = 16
    sent_lr: float = 3e-3
    sent_freeze_embeddings: bool = True
    sent_seeds: int = 3
    attribution_count: int = 6
    # ... with an aclImdb folder instead of the shipped sentences
    imdb_max_per_split: int | None = 2000
    imdb_max_tokens: int = 200
    imdb_max_vocab: int = 20000
    imdb_epochs: int = 4
    imdb_batch: int = 64
    imdb_lr: float = 2e-3
    imdb_seeds: int = 1
    # 7. comparison
    cmp_input: int = 32
    cmp_hidden: int = 64
    cmp_lengths: tuple[int, ...] = (10, 50, 100)
    cmp_seeds: int = 3
    cmp_batch: int = 8
    cmp_timing_steps: int = 100
    cmp_timing_batch: int = 32
    cmp_timing_repeats: int = 7
    cmp_forget_bias: float = 3.0


PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "quick": {
        "mono_train": 400, "mono_test": 200, "mono_epochs": 6, "mono_seeds": 2, "mono_eval_lengths": (4, 8),
        "sent_hidden": 8, "sent_epochs": 3, "sent_seeds": 1, "attribution_count": 3,
        "imdb_max_per_split": 100, "imdb_max_tokens": 50, "imdb_epochs": 1,
        "cmp_input": 4, "cmp_hidden": 8, "cmp_lengths": (5, 10), "cmp_seeds": 1, "cmp_batch": 2,
        "cmp_timing_steps": 10, "cmp_timing_batch": 4, "cmp_timing_repeats": 1,
    },
    "default": {},
    "full": {
        "mono_train": 10000, "mono_test": 5000, "mono_epochs": 30, "mono_seeds": 5, "mono_eval_lengths": (4, 8, 16, 32),
        "sent_seeds": 5, "sent_epochs": 30,
        "imdb_max_per_split": None, "imdb_max_tokens": 400, "imdb_epochs": 6, "imdb_seeds": 3,
        "cmp_lengths": (10, 50, 100, 200), "cmp_seeds": 5, "cmp_batch": 16, "cmp_timing_repeats": 15,
    },
}


def build_config(profile: str = "default", seed: int = 0, imdb_dir: str | None = None, **options) -> Config:
    """The configuration of ``profile`` with the user's options (``imdb_dir``: ``--imdb-dir``)."""
    if profile not in PROFILES:
        raise ConfigError(f"expected a profile in {PROFILES}, found {profile!r}")
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        raise ConfigError(f"expected exercise options among the Config fields, found unknown {unknown}")
    if imdb_dir is not None:
        from rnnlab.exercises.sentiment import find_imdb_dir

        imdb_dir = str(find_imdb_dir(imdb_dir).resolve())  # a wrong folder fails here, before any work
    return Config(**{**PROFILE_OVERRIDES[profile], **options, "profile": profile, "seed": seed,
                     "imdb_dir": imdb_dir})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--imdb-dir", dest="imdb_dir", default=None, metavar="DIR",
        help="an aclImdb/ folder (train/ and test/ with pos/ and neg/): train the sentiment "
             "models on IMDb reviews instead of the shipped sentences",
    )


def options_from_args(args: argparse.Namespace) -> dict:
    return {"imdb_dir": getattr(args, "imdb_dir", None)}


# ----------------------------------------------------------------------------------------------
# Observations: sentences computed from the metrics (tested with fabricated numbers)
# ----------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def counting_observations(m: dict) -> list[str]:
    """Sentences about the parameter counts (``metrics["counting"]``)."""
    ex = m["exercise"]
    out = [
        (f"The exercise's RNN (input {ex['input']}, hidden {ex['hidden']}, one bias vector) has "
        f"{ex['formula_one_bias']} parameters; PyTorch's nn.RNN reports {ex['torch']} because it keeps two "
        f"bias vectors (b_ih and b_hh, {ex['torch'] - ex['one_bias']} extra numbers) whose sum plays the "
        f"role of the single b."),
    ]
    if ex["torch_same_for_lengths"]:
        out.append(
            f"On a sequence of length {ex['steps']} the count is still {ex['one_bias']} (PyTorch: "
            f"{ex['torch']} for every length run): the same weights are applied at every step; "
            f"without sharing, {ex['steps']} steps would need {ex['unshared']} parameters."
        )
    else:
        out.append(f"Unexpectedly, PyTorch's count changed with the sequence length: {ex['torch_by_length']}.")
    checks = m["checks"]
    matched = sum(1 for c in checks if c["ours"] == c["torch"])
    if matched == len(checks):
        out.append(f"The general counter G*(H*D + H*H + 2*H) per layer and direction matched PyTorch's "
                   f"parameter count in all {len(checks)} configurations tried (RNN, LSTM, GRU; stacked "
                   f"and bidirectional).")
    else:
        out.append(f"The general counter disagreed with PyTorch in {len(checks) - matched} of {len(checks)} configurations.")
    return out


def forward_pass_observations(m: dict) -> list[str]:
    """Sentences about the manual forward pass (``metrics["forward_pass"]``)."""
    h = m["h_loop"]
    last = ", ".join(f"{v:.8f}" for v in h[-1])
    diff = m["max_abs_diff"]
    agree = "agree" if diff < 1e-8 else "DISAGREE"
    return [(f"The plain loop and the NumPy engine {agree} on every hidden state (largest difference "
            f"{diff:.1e}); the final state is h_{len(h)} = [{last}].")]


def toy_observations(m: dict) -> list[str]:
    """Sentences about the toy classifier (``metrics["toy"]``)."""
    n = len(m["labels"])
    before = round(m["accuracy_before"] * n)
    after = round(m["accuracy_after"] * n)
    s = (f"Before training the toy RNN classified {before} of {n} sequences correctly (chance level "
         f"for two balanced classes is {n // 2}); after {m['epochs']} full-batch updates with hand-written "
         f"BPTT it classifies {after} of {n} correctly, final cross-entropy {m['final_loss']:.4f}.")
    if m["first_epoch_all_correct"] is not None:
        s += f" All {n} were first right at update {m['first_epoch_all_correct']}."
    else:
        s += " It never classified all of them correctly."
    return [s]


def monotonic_observations(m: dict) -> list[str]:
    """Sentences about increasing/decreasing (``metrics["monotonic"]``)."""
    T0 = m["train_length"]
    test = m["test_accuracy"]
    goal = m["goal"]
    out = [(f"Trained on length-{T0} sequences, the RNN reaches {_pct(m['train_accuracy'])} training and "
           f"{_pct(test)} test accuracy on {m['test_size']} fresh sequences (goal {_pct(goal)}: "
           f"{'met' if test >= goal else 'not met'}).")]
    parts = []
    for T, accs in zip(m["lengths"], m["accuracy_by_length"]):
        if T == T0:
            continue
        mean, lo, hi = float(np.mean(accs)), float(np.min(accs)), float(np.max(accs))
        spread = f" (seeds: {_pct(lo)} to {_pct(hi)})" if len(accs) > 1 else ""
        parts.append((T, mean, lo, hi, f"length {T}: {_pct(mean)} on average{spread}"))
    if parts:
        s = "On longer sequences it never saw, " + "; ".join(p[4] for p in parts) + "."
        worst = min(parts, key=lambda p: p[1])
        held = all(p[2] >= goal for p in parts)
        below = sum(1 for a in m["accuracy_by_length"][m["lengths"].index(worst[0])] if a < 0.5)
        n_seeds = len(m["accuracy_by_length"][0])
        if held:
            s += " It generalises: every seed stays at or above the goal on every longer length."
        elif worst[2] < 0.5:
            s += (f" It does not generalise reliably: at length {worst[0]}, {below} of {n_seeds} seeds fall "
                  f"below chance (50%), i.e. they systematically call the sequences the wrong way round, so "
                  f"what was learnt is tied to length {T0}, not the rule 'each value larger than the last'.")
        else:
            s += (f" Generalisation is partial: accuracy drops to {_pct(worst[1])} at length {worst[0]}, "
                  f"and seeds differ ({_pct(worst[2])} to {_pct(worst[3])}).")
        out.append(s)
    return out


def sentiment_observations(m: dict) -> list[str]:
    """Sentences about the BiLSTM sentiment classifier (``metrics["sentiment"]``)."""
    n = m["test_size"]
    acc = m["test_accuracy_mean"]
    se = math.sqrt(0.25 / n)  # standard error of accuracy at chance
    z = (acc - 0.5) / se
    seeds = len(m["test_accuracy_seeds"])
    spread = f" ± {_pct(m['test_accuracy_std'])} over {seeds} seeds" if seeds > 1 else ""
    s = (f"On the {n} held-out {m['unit']} ({m['source']}), the BiLSTM is right {_pct(acc)}{spread} "
         f"(training accuracy {_pct(m['train_accuracy'])}); ")
    if z >= 2:
        s += f"that is {z:.1f} standard errors above chance (50%, standard error {_pct(se)} for {n} items)."
    else:
        s += f"that is within {max(z, 0):.1f} standard errors of chance (50%), so not clearly better than guessing."
    out = [s]
    gap = m["train_accuracy"] - m["test_accuracy"]
    if gap > 0.1:
        out.append(f"Training accuracy exceeds held-out accuracy by {100 * gap:.1f} points: with "
                   f"{m['train_size']} training {m['unit']} the model memorises much of its training set.")
    base = m["baseline_accuracy"]
    diff = acc - base
    noise = max(m["test_accuracy_std"], se)
    if abs(diff) <= noise:
        out.append(f"A logistic regression on the mean GloVe vector (no word order) scores {_pct(base)}; "
                   f"the difference of {100 * diff:+.1f} points is within the noise (seed spread or one "
                   f"standard error, {_pct(noise)}), so word order is not shown to help at this data size.")
    else:
        better = "better" if diff > 0 else "worse"
        out.append(f"A logistic regression on the mean GloVe vector (no word order) scores {_pct(base)}; "
                   f"the BiLSTM does {abs(100 * diff):.1f} points {better}, more than the noise ({_pct(noise)}).")
    tags = m.get("accuracy_by_tag") or {}
    if "negation" in tags and "plain" in tags:
        neg, plain = tags["negation"], tags["plain"]
        rel = ("lower than" if neg["accuracy"] < plain["accuracy"] else
               "higher than" if neg["accuracy"] > plain["accuracy"] else "the same as")
        se_gap = math.sqrt(0.25 / neg["count"] + 0.25 / plain["count"])  # s.e. of a difference of accuracies
        gap = abs(neg["accuracy"] - plain["accuracy"])
        verdict = ("a gap within two standard errors of chance variation for groups this small "
                   f"({_pct(2 * se_gap)}), so not a clear effect of negation" if gap <= 2 * se_gap else
                   f"a gap larger than two standard errors ({_pct(2 * se_gap)}) for groups this small")
        out.append(f"On the {neg['count']} held-out sentences with negation it is right {_pct(neg['accuracy'])}, "
                   f"{rel} its {_pct(plain['accuracy'])} on {plain['count']} plain sentences (seed {m['seed']}): "
                   f"{verdict}.")
    for a in m["attributions"][:2]:
        label = "positive" if a["label"] == 1 else "negative"
        pred = "positive" if a["pred"] == 1 else "negative"
        out.append(f"In \"{a['text'][:90]}\" (true {label}, predicted {pred}, P(positive) = "
                   f"{a['prob_positive']:.2f}), the word pushing most towards positive is "
                   f"'{a['top_positive']}' and towards negative '{a['top_negative']}' (gradient x input).")
    sums = [(a["sum_of_attributions"], a["score"]) for a in m["attributions"] if "score" in a]
    if sums:
        err = float(np.median([abs(t - sc) / max(abs(sc), 1e-12) for t, sc in sums]))
        out.append(f"Summed over a text, the word attributions differ from the score s = z_pos - z_neg itself by "
                   f"{100 * err:.0f}% (median over {len(sums)} texts): gradient x input adds up exactly only for a "
                   f"linear model, for the LSTM it is a local, first-order picture.")
    return out


def comparison_observations(m: dict) -> list[str]:
    """Sentences about the comparison table (``metrics["comparison"]``)."""
    rows = {r["model"]: r for r in m["rows"]}
    lengths = m["lengths"]
    T_max, T_min = max(lengths), min(lengths)
    rnn, lstm, gru, bi = rows["RNN"], rows["LSTM"], rows["GRU"], rows["BiLSTM"]
    out = [
        (f"At input {m['input_size']} and hidden {m['hidden_size']}, the LSTM has "
        f"{lstm['parameters'] / rnn['parameters']:.1f}x the RNN's parameters ({lstm['parameters']} vs "
        f"{rnn['parameters']}), the GRU {gru['parameters'] / rnn['parameters']:.1f}x and the BiLSTM "
        f"{bi['parameters'] / rnn['parameters']:.1f}x: the count scales with the number of weight blocks G.")
    ]
    t_ratio = lstm["time_per_step_us"] / rnn["time_per_step_us"]
    mac_ratio = lstm["macs_per_step"] / rnn["macs_per_step"]
    out.append(
        f"Measured on this machine (one thread, batch {m['timing_batch']}), a forward step takes "
        + ", ".join(f"{r['time_per_step_us']:.1f} µs for the {name}" for name, r in rows.items())
        + f"; the LSTM takes {t_ratio:.1f}x the RNN's time for {mac_ratio:.0f}x its multiply-adds"
        + (", so fixed per-step overheads dominate at this size." if t_ratio < 0.5 * mac_ratio else ".")
    )

    def reach(r, T):
        return r["reach"][lengths.index(T)]

    ranked = sorted(("RNN", "LSTM", "GRU"), key=lambda k: reach(rows[k], T_max), reverse=True)
    falling = [k for k in ("RNN", "LSTM", "GRU") if reach(rows[k], T_max) < reach(rows[k], T_min)]
    trend = ("falls with length for every unidirectional model" if len(falling) == 3 else
             f"falls with length for {', '.join(falling) or 'none of them'}")
    out.append(
        f"Untrained (PyTorch's default initialisation), the weakest input gradient relative to the strongest "
        f"{trend}: the RNN's from {reach(rnn, T_min):.1e} at T = {T_min} to "
        f"{reach(rnn, T_max):.1e} at T = {T_max}, the LSTM's from {reach(lstm, T_min):.1e} to "
        f"{reach(lstm, T_max):.1e}, the GRU's from {reach(gru, T_min):.1e} to {reach(gru, T_max):.1e}; "
        f"at T = {T_max} the unidirectional models rank {' > '.join(ranked)}."
    )
    weakest = bi["weakest_position"][lengths.index(T_max)]
    fl = bi["first_last"][lengths.index(T_max)]
    ends = ("so its first and last inputs get gradients of the same order" if 0.2 <= fl <= 5 else
            "yet its first and last inputs get gradients of different orders")
    out.append(
        f"The BiLSTM's summary [h_T^f; h_1^b] reads both ends, {ends} (ratio {fl:.2f} at T = {T_max}); "
        f"its weakest input is t = {weakest} of {T_max}, where the weakest/strongest ratio is {reach(bi, T_max):.1e} "
        f"against the LSTM's {reach(lstm, T_max):.1e}."
    )
    fb = m["forget_bias_reach"][lengths.index(T_max)]
    factor = fb / max(reach(lstm, T_max), 1e-300)
    out.append(
        f"With its forget gate opened at the start (bias {m['forget_bias']:g}, f close to 1) the LSTM keeps a "
        f"ratio of {fb:.2f} at T = {T_max}, {factor:.1e} times the default LSTM's: the cell-state path "
        f"carries gradient only while f stays near 1, which training (or this initialisation) must arrange."
    )
    return out


def observations_from_metrics(metrics: dict) -> list[str]:
    """All the section's sentences, part by part."""
    out: list[str] = []
    for key, fn in (("counting", counting_observations), ("forward_pass", forward_pass_observations),
                    ("toy", toy_observations), ("monotonic", monotonic_observations),
                    ("sentiment", sentiment_observations), ("comparison", comparison_observations)):
        if key in metrics:
            out.extend(fn(metrics[key]))
    return out


# ----------------------------------------------------------------------------------------------
# The parts
# ----------------------------------------------------------------------------------------------

COUNT_CHECKS = [  # (cell, D, H, layers, bidirectional) compared with PyTorch in the report
    ("rnn", 4, 3, 1, False), ("lstm", 4, 3, 1, False), ("gru", 4, 3, 1, False),
    ("rnn", 10, 20, 2, False), ("lstm", 50, 32, 2, True), ("gru", 7, 5, 3, True),
]


def _part_architectures(ctx: RunContext, figures: list, tables: list, texts: dict) -> list[dict]:
    from rnnlab.exercises.architectures import demonstrate_architectures, format_architectures

    demos = demonstrate_architectures(seed=ctx.seed)
    rows = [dataclasses.asdict(d) for d in demos]
    tables.append(Table(
        "1. Architectures: input/output patterns, each run as a tiny PyTorch model (batch B = 2)",
        ["task", "architecture", "example", "input", "output (measured)", "model", "parameters"],
        [[d.task, d.architecture, d.example, f"{d.input_shape} {d.input_meaning}",
          f"{d.output_shape} {d.output_meaning}", d.model, d.num_parameters] for d in demos],
    ))
    texts["1. architectures (shapes measured on dummy input)"] = format_architectures(demos)
    from rnnlab.viz.exercises import plot_architectures
    from rnnlab.viz.style import save_figure

    save_figure(plot_architectures(rows), ctx.figures_dir / "architectures.png")
    figures.append(Figure("figures/architectures.png",
                          "The five input/output patterns unrolled in time: inputs x_t (green), hidden "
                          "states (orange; decoder states yellow), outputs y_t (blue); the dashed arrows of "
                          "one-to-many feed each generated output back as the next input. Titles give the "
                          "shapes measured on the tiny PyTorch models."))
    return rows


def _part_counting(config: Config, tables: list, texts: dict) -> dict:
    from rnnlab.exercises.counting import (
        count_parameters,
        torch_parameter_count,
        unshared_parameter_count,
    )

    D, H, T = config.count_input, config.count_hidden, config.count_steps
    one = count_parameters("rnn", D, H, biases=1)
    two = count_parameters("rnn", D, H, biases=2)
    torch_count = torch_parameter_count("rnn", D, H)
    by_length = _torch_count_over_lengths(D, H, (1, T))
    checks = []
    for cell, d, h, layers, bi in COUNT_CHECKS:
        ours = count_parameters(cell, d, h, num_layers=layers, bidirectional=bi)
        checks.append({"cell": cell, "input": d, "hidden": h, "layers": layers, "bidirectional": bi,
                       "ours": ours.total, "torch": torch_parameter_count(cell, d, h, num_layers=layers,
                                                                           bidirectional=bi),
                       "formula": ours.formula, "textbook_one_bias": count_parameters(
                           cell, d, h, num_layers=layers, bidirectional=bi, biases=1).total})
    tables.append(Table(
        "2. Parameter counts: the formula against PyTorch's count (two bias vectors per block)",
        ["cell", "input D", "hidden H", "layers", "bidirectional", "formula (PyTorch's biases)",
         "PyTorch says", "one bias vector (textbook)"],
        [[c["cell"].upper(), c["input"], c["hidden"], c["layers"], "yes" if c["bidirectional"] else "no",
          c["formula"], c["torch"], c["textbook_one_bias"]] for c in checks],
    ))
    unshared = unshared_parameter_count("rnn", D, H, T, biases=1)
    texts["2. parameter counting"] = "\n".join([
        f"RNN, input D = {D}, hidden H = {H}:",
        f"  one bias vector (the exercise): H*D + H*H + H = {H}*{D} + {H}*{H} + {H} = {one.total}",
        f"  PyTorch (b_ih and b_hh):        H*D + H*H + 2H = {two.total}   (torch.nn.RNN says {torch_count})",
        f"  difference: {two.total - one.total} = H, the second bias vector; b_ih + b_hh act as one b,",
        "  so the extra vector adds numbers to store and train but no expressive power.",
        (f"On a sequence of length T = {T}: still {one.total} (PyTorch's count for lengths {list(by_length)}: "
        f"{list(by_length.values())})."),
        (f"  Weight sharing: the same W_xh, W_hh, b at every step. Without it, T = {T} steps would need "
        f"{T} x {one.total} = {unshared}."),
    ])
    return {
        "exercise": {"input": D, "hidden": H, "one_bias": one.total, "two_biases": two.total,
                     "torch": torch_count, "formula_one_bias": f"{H}*{D} + {H}*{H} + {H} = {one.total}",
                     "steps": T, "unshared": unshared, "torch_by_length": [[k, v] for k, v in by_length.items()],
                     "torch_same_for_lengths": len(set(by_length.values())) == 1},
        "checks": checks,
        "all_match": all(c["ours"] == c["torch"] for c in checks),
    }


def _torch_count_over_lengths(D: int, H: int, lengths: tuple[int, ...]) -> dict[int, int]:
    """PyTorch's parameter count of an nn.RNN after running it on sequences of each length."""
    import torch

    module = torch.nn.RNN(D, H, batch_first=True)
    counts = {}
    with torch.no_grad():
        for T in lengths:
            module(torch.zeros(1, T, D))
            counts[T] = int(sum(p.numel() for p in module.parameters()))
    return counts


def _part_forward(texts: dict) -> dict:
    from rnnlab.exercises.forward_pass import (
        EXERCISE,
        format_forward_pass,
        forward_engine,
        forward_loop,
    )

    text, diff = format_forward_pass(EXERCISE)
    texts["3. manual forward pass"] = text
    loop = forward_loop(EXERCISE)
    return {"pre_activations": [list(a) for a in loop.pre_activations],
            "h_loop": [list(h) for h in loop.hidden_states],
            "h_engine": forward_engine(EXERCISE).tolist(), "max_abs_diff": diff}


def _part_toy(config: Config, ctx: RunContext, figures: list, texts: dict) -> dict:
    from rnnlab.exercises.toy_classifier import TOY_Y, format_predictions, train_toy_classifier

    _, r = train_toy_classifier(hidden_size=config.toy_hidden, epochs=config.toy_epochs,
                                lr=config.toy_lr, seed=ctx.seed)
    texts["4. toy classifier: predictions before and after training"] = format_predictions(r)
    from rnnlab.viz.exercises import plot_toy_probabilities, plot_toy_training
    from rnnlab.viz.style import plt, save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_toy_training(r.losses, r.accuracies, a)
    plot_toy_probabilities(r.probs_before[:, 1], r.probs_after[:, 1], TOY_Y, b)
    fig.tight_layout()
    save_figure(fig, ctx.figures_dir / "toy_classifier.png")
    figures.append(Figure("figures/toy_classifier.png",
                          f"Part 4: the many-to-one NumPy RNN (H = {config.toy_hidden}) on the four toy "
                          "sequences, trained full-batch with Adam on gradients from the engine's hand-written "
                          "BPTT. Left: loss and accuracy per update; right: P(class 1) before and after."))
    return {"labels": TOY_Y.tolist(), "accuracy_before": r.accuracy_before, "accuracy_after": r.accuracy_after,
            "prob_before": r.probs_before[:, 1].tolist(), "prob_after": r.probs_after[:, 1].tolist(),
            "pred_before": r.pred_before.tolist(), "pred_after": r.pred_after.tolist(),
            "first_epoch_all_correct": r.first_epoch_all_correct, "final_loss": float(r.losses[-1]),
            "epochs": config.toy_epochs, "losses": r.losses.tolist()}


MONOTONIC_GOAL = 0.98


def _part_monotonic(config: Config, ctx: RunContext, figures: list) -> dict:
    from rnnlab.exercises.monotonic import train_monotonic

    results = [train_monotonic(train_size=config.mono_train, test_size=config.mono_test,
                               length=config.mono_length, eval_lengths=config.mono_eval_lengths,
                               hidden_size=config.mono_hidden, epochs=config.mono_epochs,
                               batch_size=config.mono_batch, lr=config.mono_lr, seed=ctx.seed + k)
               for k in range(config.mono_seeds)]
    main = results[0]
    lengths = sorted(main.accuracy_by_length)
    by_length = [[r.accuracy_by_length[T] for r in results] for T in lengths]
    from rnnlab.viz.exercises import plot_accuracy_by_length, plot_loss_curve
    from rnnlab.viz.style import plt, save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_loss_curve(main.losses, a, label="RNN", title=f"Training on length {config.mono_length} (seed {ctx.seed})")
    plot_accuracy_by_length(dict(zip(lengths, by_length)), config.mono_length, b)
    fig.tight_layout()
    save_figure(fig, ctx.figures_dir / "increasing_decreasing.png")
    figures.append(Figure("figures/increasing_decreasing.png",
                          f"Part 5: a PyTorch RNN (H = {config.mono_hidden}, {main.num_parameters} parameters) "
                          f"classifying increasing vs decreasing sequences. Left: training loss; right: test "
                          f"accuracy on {config.mono_test} fresh sequences of each length, trained on length "
                          f"{config.mono_length} only ({config.mono_seeds} seeds)."))
    return {"train_length": config.mono_length, "train_accuracy": main.train_accuracy,
            "test_accuracy": main.test_accuracy, "test_size": config.mono_test, "goal": MONOTONIC_GOAL,
            "lengths": lengths, "accuracy_by_length": by_length,
            "test_accuracy_seeds": [r.test_accuracy for r in results],
            "num_parameters": main.num_parameters, "losses": main.losses}


def _part_sentiment(config: Config, ctx: RunContext, figures: list, tables: list, texts: dict) -> dict:
    from rnnlab.exercises import sentiment as S

    if config.imdb_dir:
        data = S.load_imdb(config.imdb_dir, config.imdb_max_per_split)
        settings = {"epochs": config.imdb_epochs, "batch_size": config.imdb_batch, "lr": config.imdb_lr,
                        "freeze_embeddings": False, "max_tokens": config.imdb_max_tokens,
                        "max_vocab": config.imdb_max_vocab, "device": ctx.device,
                        "threads": 1 if ctx.device == "cpu" else None}  # 2 busy threads ran 8x slower here
        n_seeds, unit = config.imdb_seeds, "reviews"
        candidates = sorted(data.test, key=lambda e: len(e.text))[: 10 * config.attribution_count]
    else:
        data = S.load_shipped_sentences()
        settings = {"epochs": config.sent_epochs, "batch_size": config.sent_batch, "lr": config.sent_lr,
                        "freeze_embeddings": config.sent_freeze_embeddings, "device": "cpu", "threads": 1}
        n_seeds, unit = config.sent_seeds, "sentences"
        candidates = data.test
    examples = S.pick_attribution_examples(candidates, config.attribution_count)
    common = {"hidden_size": config.sent_hidden, "num_layers": config.sent_layers, "dropout": config.sent_dropout}
    results = [S.train_sentiment(data, **common, **settings, seed=ctx.seed + k,
                                 attribution_examples=examples if k == 0 else None)
               for k in range(n_seeds)]
    main = results[0]
    baseline = S.mean_glove_baseline(data, settings.get("max_tokens"))
    accs = [r.test_accuracy for r in results]

    attributions = []
    for a in main.attributions:
        order = np.argsort(a.scores)
        attributions.append({"text": a.text, "tokens": a.tokens, "scores": a.scores, "label": a.label,
                             "pred": a.pred, "prob_positive": a.prob_positive, "score": a.score,
                             "sum_of_attributions": float(np.sum(a.scores)), "tags": list(a.tags),
                             "top_positive": a.tokens[int(order[-1])], "top_negative": a.tokens[int(order[0])]})
    from rnnlab.viz.exercises import (
        plot_confusion_matrix,
        plot_sentiment_history,
        plot_word_importance,
    )
    from rnnlab.viz.style import plt, save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.5, 1]})
    plot_sentiment_history(main.history, a, baseline=baseline)
    plot_confusion_matrix(main.confusion, S.LABELS, b, title=f"Confusion matrix, {len(data.test)} held-out {unit}")
    fig.tight_layout()
    save_figure(fig, ctx.figures_dir / "sentiment.png")
    figures.append(Figure("figures/sentiment.png",
                          f"Part 6: the 2-layer bidirectional LSTM (H = {config.sent_hidden} per direction, "
                          f"GloVe 6B 50d embeddings{', frozen' if settings['freeze_embeddings'] else ''}) on "
                          f"{data.source}. Left: loss and accuracy per epoch (seed {ctx.seed}); right: "
                          "confusion matrix of the held-out set."))
    captions = [f"true {S.LABELS[x['label']]}, predicted {S.LABELS[x['pred']]}, P(positive) = "
                f"{x['prob_positive']:.2f}" + (f"   [{', '.join(x['tags'])}]" if x["tags"] else "")
                for x in attributions]
    ax = plot_word_importance([x["tokens"] for x in attributions], [x["scores"] for x in attributions], captions)
    save_figure(ax.figure, ctx.figures_dir / "word_importance.png")
    figures.append(Figure("figures/word_importance.png",
                          "Part 6: word importance by gradient x input for held-out texts: for the score "
                          "s = z_pos - z_neg, each word's a_t = sum_k (ds/de_tk) e_tk; blue pushes towards "
                          "positive, red towards negative, each text on its own colour scale."))
    tables.append(Table(
        f"6. BiLSTM sentiment classifier on {data.source}",
        ["seed", "train accuracy", "held-out accuracy", "held-out items"],
        [[ctx.seed + k, f"{r.train_accuracy:.3f}", f"{r.test_accuracy:.3f}", len(data.test)]
         for k, r in enumerate(results)]
        + [["mean-GloVe logistic regression", "", f"{baseline:.3f}", len(data.test)]],
    ))
    texts["6. sentiment data"] = (f"{data.description}.\nModel: {main.num_parameters} parameters, "
                                  f"{main.num_trainable} trained; vocabulary {main.vocab_size} words, "
                                  f"{_pct(main.glove_coverage)} with a GloVe vector.")
    return {"source": data.source, "unit": unit, "train_size": len(data.train), "test_size": len(data.test),
            "seed": ctx.seed, "train_accuracy": main.train_accuracy, "test_accuracy": main.test_accuracy,
            "test_accuracy_seeds": accs, "test_accuracy_mean": float(np.mean(accs)),
            "test_accuracy_std": float(np.std(accs)), "baseline_accuracy": baseline,
            "confusion": main.confusion, "accuracy_by_tag": main.accuracy_by_tag, "history": main.history,
            "num_parameters": main.num_parameters, "num_trainable": main.num_trainable,
            "vocab_size": main.vocab_size, "glove_coverage": main.glove_coverage, "attributions": attributions}


def _part_comparison(config: Config, ctx: RunContext, figures: list, tables: list) -> dict:
    from rnnlab.exercises.comparison import compare_models

    r = compare_models(input_size=config.cmp_input, hidden_size=config.cmp_hidden, lengths=config.cmp_lengths,
                       seeds=tuple(ctx.seed + k for k in range(config.cmp_seeds)), batch=config.cmp_batch,
                       timing_steps=config.cmp_timing_steps, timing_batch=config.cmp_timing_batch,
                       timing_repeats=config.cmp_timing_repeats, forget_bias=config.cmp_forget_bias)
    lengths = list(r.lengths)
    tables.append(Table(
        f"7. RNN, LSTM, GRU and BiLSTM at input D = {r.input_size}, hidden H = {r.hidden_size} (one layer)",
        ["model", "parameters", "PyTorch says", "weight blocks G", "gates", "multiply-adds per step",
         f"forward time per step (µs, batch {config.cmp_timing_batch})"]
        + [f"gradient ratio weakest/strongest, T = {T}" for T in lengths],
        [[row.model, row.parameters, row.parameters_torch, row.blocks, row.gates, row.macs_per_step,
          f"{row.time_per_step_us:.1f}"] + [f"{row.reach[T]:.1e}" for T in lengths] for row in r.rows],
    ))
    from rnnlab.viz.exercises import plot_gradient_profiles, plot_reach_vs_length
    from rnnlab.viz.style import plt, save_figure

    fb_name = f"LSTM, forget bias {config.cmp_forget_bias:g}"
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    plot_gradient_profiles({**r.profiles, fb_name: r.forget_bias_profile}, a)
    reach = {row.model: row.reach for row in r.rows}
    spread = {row.model: row.reach_spread for row in r.rows}
    plot_reach_vs_length(lengths, {**reach, fb_name: r.forget_bias_reach}, spread, b)
    fig.tight_layout()
    save_figure(fig, ctx.figures_dir / "vanishing_gradient.png")
    figures.append(Figure("figures/vanishing_gradient.png",
                          f"Part 7: the vanishing gradient. Untrained layers (PyTorch's default initialisation, "
                          f"float64, D = {r.input_size}, H = {r.hidden_size}) read T random inputs; s is a fixed "
                          "random readout of h_T ([h_T^f; h_1^b] for the BiLSTM). Left: ||ds/dx_t|| against t at "
                          f"T = {max(lengths)}; right: min_t/max_t of ||ds/dx_t|| against T (mean over "
                          f"{config.cmp_seeds} seeds, band: ± one standard deviation). Dashed: an LSTM whose "
                          "forget gate starts open."))
    return {"input_size": r.input_size, "hidden_size": r.hidden_size, "lengths": lengths,
            "timing_batch": config.cmp_timing_batch, "timing_threads": r.torch_threads,
            "rows": [{"model": row.model, "parameters": row.parameters, "parameters_torch": row.parameters_torch,
                      "blocks": row.blocks, "gates": row.gates, "macs_per_step": row.macs_per_step,
                      "time_per_step_us": row.time_per_step_us,
                      "reach": [row.reach[T] for T in lengths],
                      "reach_spread": [row.reach_spread[T] for T in lengths],
                      "first_last": [row.first_last[T] for T in lengths],
                      "weakest_position": [row.weakest_position[T] for T in lengths]} for row in r.rows],
            "profiles": {k: v.tolist() for k, v in r.profiles.items()},
            "forget_bias": config.cmp_forget_bias,
            "forget_bias_reach": [r.forget_bias_reach[T] for T in lengths]}


def run(config: Config, ctx: RunContext) -> SectionResult:
    """Run the seven parts and collect their numbers, tables, figures and sentences."""
    figures: list[Figure] = []
    tables: list[Table] = []
    texts: dict[str, str] = {}
    metrics: dict[str, Any] = {"timings_s": {}}

    def timed(key: str, fn, *args):
        start = time.perf_counter()
        if ctx.progress:
            print(f"rnnlab: exercises: {key}", flush=True)
        metrics[key] = fn(*args)
        metrics["timings_s"][key] = round(time.perf_counter() - start, 3)

    timed("architectures", _part_architectures, ctx, figures, tables, texts)
    timed("counting", _part_counting, config, tables, texts)
    timed("forward_pass", _part_forward, texts)
    timed("toy", _part_toy, config, ctx, figures, texts)
    timed("monotonic", _part_monotonic, config, ctx, figures)
    timed("sentiment", _part_sentiment, config, ctx, figures, tables, texts)
    timed("comparison", _part_comparison, config, ctx, figures, tables)
    return SectionResult(name=NAME, title=TITLE, config=config_to_dict(config), metrics=metrics,
                         observations=observations_from_metrics(metrics), figures=figures, tables=tables,
                         text_blocks=texts)


__all__ = [
    "NAME",
    "TITLE",
    "Config",
    "add_arguments",
    "build_config",
    "observations_from_metrics",
    "options_from_args",
    "run",
]
