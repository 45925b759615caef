"""The exercises' sentences: every observation as a function of the numbers in metrics.json.

:func:`observations` is what ``observations.md`` and the report show; the ``*_observations``
functions are its parts, one per exercise, each reading ``metrics[<part>]``. The rules:

- Accuracy against chance (50%, two balanced classes): the standard error of an accuracy at
  chance on n items is sqrt(0.25 / n); "above" or "below" chance needs more than
  :data:`Z_CHANCE` standard errors, otherwise the accuracy is "within" that many of chance.
- A classifier "calls the sequences the wrong way round" only when a seed's accuracy is below
  chance by more than :data:`Z_CHANCE` standard errors of its test set.
- Two accuracies differ only by more than the noise (the seed spread or one standard error);
  two groups' accuracies differ only by more than two standard errors of their difference.
- An attribution method "adds up" when the median completeness error of its sum, |sum_t a_t -
  (s(x) - s(x'))| / |s(x) - s(x')| with x' the all-zero embeddings, is at most
  :data:`SUM_TOLERANCE` (older results without integrated gradients: |sum_t a_t - s| / |s|).
- A word "pushes towards positive" only when its attribution is > 0 (towards negative: < 0);
  a text whose attributions are all <= 0 has no most-positive word (:func:`top_words`).
- Gradient x input and integrated gradients "agree" on the top words only when they name the
  same most-positive and the same most-negative word in every text shown.
- The open forget gate "keeps" more gradient than the default LSTM only when the ratio of the
  two is at least :data:`FACTOR_BAND`, "less" at most 1 / :data:`FACTOR_BAND`, otherwise
  "about as much".

Beyond the sentences: :data:`TOPICS` groups them as the report shows them, :func:`findings`
picks the 3 to 6 key findings by rule (its docstring gives the rule) and :func:`limitations`
names what limits the results (quick profile, IMDb not used or cut to a subset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rnnlab.data.sentences import IMDB_SOURCE
from rnnlab.observations import MAX_FINDINGS, setting, top_findings  # noqa: F401 (MAX_FINDINGS re-exported)
from rnnlab.results import Finding

Z_CHANCE = 2.0  # standard errors from chance before an accuracy is called above/below it
TRAIN_GAP = 0.1  # training accuracy above held-out by more than this: memorising
SUM_TOLERANCE = 0.05  # median |sum a_t - s| / |s| up to this: the attributions add up to s
FACTOR_BAND = 2.0  # forget-bias reach this many times the default LSTM's: "keeps more"
AGREE = 1e-8  # loop and engine agree when their largest difference is below this
OVERHEAD = 0.5  # time ratio below this share of the multiply-add ratio: overheads dominate
ENDS_BAND = (0.2, 5.0)  # first/last gradient ratio within this: "of the same order"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _err(x: float) -> str:
    """A relative error as a percentage with three significant digits (0.00534%, 74.6%)."""
    return f"{100 * x:.3g}%"


def chance_se(n: int) -> float:
    """Standard error of an accuracy at chance (p = 0.5) on ``n`` items."""
    return math.sqrt(0.25 / n)


# ----------------------------------------------------------------------------------------------
# 2. Parameter counting
# ----------------------------------------------------------------------------------------------


def counting_observations(m: Mapping) -> list[str]:
    """Sentences about the parameter counts (``metrics["counting"]``)."""
    ex = m["exercise"]
    formula = f"{ex['hidden']}*{ex['input']} + {ex['hidden']}*{ex['hidden']} + {ex['hidden']} = {ex['one_bias']}"
    out = [
        (f"The exercise's RNN (input {ex['input']}, hidden {ex['hidden']}, one bias vector) has "
         f"{formula} parameters; PyTorch's nn.RNN reports {ex['torch']} because it keeps two "
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


# ----------------------------------------------------------------------------------------------
# 3. Forward pass, 4. toy classifier
# ----------------------------------------------------------------------------------------------


def forward_pass_observations(m: Mapping) -> list[str]:
    """Sentences about the manual forward pass (``metrics["forward_pass"]``)."""
    h = m["h_loop"]
    last = ", ".join(f"{v:.8f}" for v in h[-1])
    diff = m["max_abs_diff"]
    agree = "agree" if diff < AGREE else "DISAGREE"
    return [(f"The plain loop and the NumPy engine {agree} on every hidden state (largest difference "
             f"{diff:.1e}); the final state is h_{len(h)} = [{last}].")]


def toy_observations(m: Mapping) -> list[str]:
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


# ----------------------------------------------------------------------------------------------
# 5. Increasing / decreasing
# ----------------------------------------------------------------------------------------------


def monotonic_observations(m: Mapping) -> list[str]:
    """Sentences about increasing/decreasing (``metrics["monotonic"]``)."""
    T0, test, goal = m["train_length"], m["test_accuracy"], m["goal"]
    out = [(f"Trained on length-{T0} sequences, the RNN reaches {_pct(m['train_accuracy'])} training and "
            f"{_pct(test)} test accuracy on {m['test_size']} fresh sequences (goal {_pct(goal)}: "
            f"{'met' if test >= goal else 'not met'}).")]
    longer = [(T, list(accs)) for T, accs in zip(m["lengths"], m["accuracy_by_length"]) if T != T0]
    if not longer:
        return out
    parts = []
    for T, accs in longer:
        spread = f" (seeds: {_pct(min(accs))} to {_pct(max(accs))})" if len(accs) > 1 else ""
        parts.append(f"length {T}: {_pct(float(np.mean(accs)))} on average{spread}")
    s = "On longer sequences it never saw, " + "; ".join(parts) + "."
    out.append(s + " " + _generalisation(longer, T0, goal, m["test_size"]))
    return out


def _generalisation(longer: list[tuple[int, list[float]]], T0: int, goal: float, test_size: int) -> str:
    """Whether the rule carried over to longer sequences: held, reversed (below chance) or partial."""
    floor = 0.5 - Z_CHANCE * chance_se(test_size)  # below this a seed is worse than guessing
    n_seeds = len(longer[0][1])
    if all(a >= goal for _, accs in longer for a in accs):
        return "It generalises: every seed stays at or above the goal on every longer length."
    below = [(sum(1 for a in accs if a < floor), T) for T, accs in longer]
    count, T_below = max(below, key=lambda b: (b[0], -b[1]))
    if count:
        return (f"It does not generalise reliably: at length {T_below}, {count} of {n_seeds} seeds fall "
                f"below chance (50%) by more than {Z_CHANCE:g} standard errors (under {_pct(floor)}), i.e. "
                f"they systematically call the sequences the wrong way round, so what was learnt is tied "
                f"to length {T0}, not the rule 'each value larger than the last'.")
    T, accs = min(longer, key=lambda item: float(np.mean(item[1])))
    return (f"Generalisation is partial: accuracy drops to {_pct(float(np.mean(accs)))} at length {T}, "
            f"and seeds differ ({_pct(min(accs))} to {_pct(max(accs))}); no seed is below chance by more "
            f"than {Z_CHANCE:g} standard errors.")


# ----------------------------------------------------------------------------------------------
# 6. Sentiment
# ----------------------------------------------------------------------------------------------


def chance_sentence(acc: float, n: int) -> str:
    """Where an accuracy on ``n`` balanced items stands against chance, in standard errors."""
    se = chance_se(n)
    z = (acc - 0.5) / se
    if z > Z_CHANCE:
        return f"that is {z:.1f} standard errors above chance (50%, standard error {_pct(se)} for {n} items)."
    if z < -Z_CHANCE:
        return (f"that is {-z:.1f} standard errors below chance (50%, standard error {_pct(se)} for {n} "
                f"items): it is systematically wrong, worse than guessing.")
    side = "above" if z > 0 else "below" if z < 0 else "at"
    return (f"that is {abs(z):.1f} standard errors {side} chance (50%), within {Z_CHANCE:g} standard errors, "
            f"so not clearly better than guessing.")


def _train_gap_sentence(m: Mapping) -> str:
    gap = m["train_accuracy"] - m["test_accuracy"]
    if gap > TRAIN_GAP:
        return (f"Training accuracy exceeds held-out accuracy by {100 * gap:.1f} points: with "
                f"{m['train_size']} training {m['unit']} the model memorises much of its training set.")
    return (f"Training and held-out accuracy differ by {100 * gap:+.1f} points (at most "
            f"{100 * TRAIN_GAP:.0f}): no sign of memorising the training set.")


def _baseline_sentence(m: Mapping) -> str:
    acc, base = m["test_accuracy_mean"], m["baseline_accuracy"]
    diff = acc - base
    noise = max(m["test_accuracy_std"], chance_se(m["test_size"]))
    head = f"A logistic regression on the mean GloVe vector (no word order) scores {_pct(base)}; "
    if abs(diff) <= noise:
        return head + (f"the difference of {100 * diff:+.1f} points is within the noise (seed spread or one "
                       f"standard error, {_pct(noise)}), so word order is not shown to help at this data size.")
    better = "better" if diff > 0 else "worse"
    return head + f"the BiLSTM does {abs(100 * diff):.1f} points {better}, more than the noise ({_pct(noise)})."


def _negation_sentence(m: Mapping) -> list[str]:
    tags = m.get("accuracy_by_tag") or {}
    if "negation" not in tags or "plain" not in tags:
        return []
    neg, plain = tags["negation"], tags["plain"]
    rel = ("lower than" if neg["accuracy"] < plain["accuracy"] else
           "higher than" if neg["accuracy"] > plain["accuracy"] else "the same as")
    se_gap = math.sqrt(0.25 / neg["count"] + 0.25 / plain["count"])  # s.e. of a difference of accuracies
    gap = abs(neg["accuracy"] - plain["accuracy"])
    verdict = ("a gap within two standard errors of chance variation for groups this small "
               f"({_pct(2 * se_gap)}), so not a clear effect of negation" if gap <= 2 * se_gap else
               f"a gap larger than two standard errors ({_pct(2 * se_gap)}) for groups this small")
    return [(f"On the {neg['count']} held-out sentences with negation it is right {_pct(neg['accuracy'])}, "
            f"{rel} its {_pct(plain['accuracy'])} on {plain['count']} plain sentences (seed {m['seed']}): "
            f"{verdict}.")]


def _has_ig(m: Mapping) -> bool:
    return bool(m["attributions"]) and all("completeness_error_ig" in a for a in m["attributions"])


def top_words(a: Mapping, method: str = "gxi") -> tuple[str | None, str | None]:
    """The word pushing most towards positive and most towards negative, by one method.

    ``method`` is ``"gxi"`` (gradient x input: ``top_positive``, ``scores``) or ``"ig"``
    (integrated gradients: ``ig_top_positive``, ``ig_scores``). A word pushes towards positive
    only when its attribution is > 0 and towards negative only when it is < 0: when every score
    of the text is <= 0 there is no most-positive word (None), and likewise for negative. Records
    without the per-word scores keep their saved words.
    """
    prefix = "" if method == "gxi" else "ig_"
    pos, neg = a.get(prefix + "top_positive"), a.get(prefix + "top_negative")
    scores = a.get("scores" if method == "gxi" else "ig_scores")
    if scores:
        if max(scores) <= 0:
            pos = None
        if min(scores) >= 0:
            neg = None
    return pos, neg


def _push_phrase(pos: str | None, neg: str | None) -> str:
    """'the word pushing most towards positive is 'x' and towards negative 'y'', or saying none does."""
    if pos is not None and neg is not None:
        return f"the word pushing most towards positive is '{pos}' and towards negative '{neg}'"
    first = (f"the word pushing most towards positive is '{pos}'" if pos is not None
             else "no word pushes towards positive (every attribution is <= 0)")
    second = (f"the word pushing most towards negative is '{neg}'" if neg is not None
              else "no word pushes towards negative (every attribution is >= 0)")
    return f"{first}, and {second}"


def _name(word: str | None, side: str) -> str:
    return f"'{word}'" if word is not None else f"no word towards {side}"


def _attribution_sentences(m: Mapping) -> list[str]:
    out = []
    ig = _has_ig(m)
    for a in m["attributions"][:2]:
        label = "positive" if a["label"] == 1 else "negative"
        pred = "positive" if a["pred"] == 1 else "negative"
        s = (f"In \"{a['text'][:90]}\" (true {label}, predicted {pred}, P(positive) = "
             f"{a['prob_positive']:.2f}), {_push_phrase(*top_words(a, 'gxi'))} (gradient x input)")
        if ig:
            ig_pos, ig_neg = top_words(a, "ig")
            s += (f"; integrated gradients names {_name(ig_pos, 'positive')} and {_name(ig_neg, 'negative')}. "
                  f"Their sums miss s(x) - s(x') = {a['score_difference']:+.3f} by "
                  f"{_err(a['completeness_error_gxi'])} (gradient x input) and "
                  f"{_err(a['completeness_error_ig'])} (integrated gradients)")
        out.append(s + ".")
    if ig:
        return out + [_completeness_sentence(m), _agreement_sentence(m)]
    sums = [(a["sum_of_attributions"], a["score"]) for a in m["attributions"] if "score" in a]
    if sums:
        err = float(np.median([abs(t - sc) / max(abs(sc), 1e-12) for t, sc in sums]))
        head = (f"Summed over a text, the word attributions differ from the score s = z_pos - z_neg itself by "
                f"{100 * err:.0f}% (median over {len(sums)} texts)")
        if err <= SUM_TOLERANCE:
            out.append(head + f", within {100 * SUM_TOLERANCE:.0f}%: here they nearly add up to the score, as "
                       "they would exactly for a linear model.")
        else:
            out.append(head + f", more than {100 * SUM_TOLERANCE:.0f}%: they do not add up to the score (they "
                       "would exactly for a linear model), so for this LSTM they are a local, first-order "
                       "picture, not a decomposition of s.")
    return out


def _completeness_sentence(m: Mapping) -> str:
    """How far each method's sums fall from s(x) - s(x'), median over the texts, against SUM_TOLERANCE."""
    records = m["attributions"]
    steps = (m.get("attribution_comparison") or {}).get("method", {}).get("steps")
    errors = {"gradient x input": float(np.median([a["completeness_error_gxi"] for a in records])),
              "integrated gradients": float(np.median([a["completeness_error_ig"] for a in records]))}
    parts = [f"{name} by {_err(e)}, so it {'adds up' if e <= SUM_TOLERANCE else 'does not add up'}"
             for name, e in errors.items()]
    s = (f"Summed over a text, the word attributions should give the change of the score s = z_pos - z_neg "
         f"from all-zero embeddings (the <pad> row) to the text, s(x) - s(x'). Median over {len(records)} "
         f"texts, they miss it: " + "; ".join(parts) + f" (tolerance {100 * SUM_TOLERANCE:.0f}%"
         + (f"; integrated gradients with {steps} trapezoid steps in float64" if steps else "") + ").")
    gxi_ok = errors["gradient x input"] <= SUM_TOLERANCE
    ig_ok = errors["integrated gradients"] <= SUM_TOLERANCE
    if not gxi_ok and ig_ok:
        s += (" Gradient x input is a local, first-order picture of this LSTM, not a decomposition of its "
              "score (it would be exact only for a linear model); integrated gradients is one.")
    elif not ig_ok:
        s += " Integrated gradients does not add up here: more path steps are needed before its words are read."
    return s


def _agreement_sentence(m: Mapping) -> str:
    """Whether the two methods name the same most-positive and most-negative word in every text."""
    records = m["attributions"]
    n = len(records)
    pos, neg, differ = _agreement(records)
    if pos == n and neg == n:
        return (f"The two methods name the same most-positive and the same most-negative word in all {n} "
                "texts: here the top words do not depend on the method.")
    a = differ[0]
    (g_pos, g_neg), (i_pos, i_neg) = top_words(a, "gxi"), top_words(a, "ig")

    def pair(p: str | None, q: str | None) -> str:
        return f"{_name(p, 'positive')} / {_name(q, 'negative')}"

    return (f"The two methods disagree on the top words in {len(differ)} of {n} texts (same most-positive "
            f"word in {pos}, same most-negative word in {neg}); e.g. in \"{a['text'][:60]}\" gradient x "
            f"input says {pair(g_pos, g_neg)}, integrated gradients {pair(i_pos, i_neg)} (most positive / most "
            "negative). A top word from one method alone is not a finding about the model.")


def _agreement(records: list) -> tuple[int, int, list]:
    """(texts with the same most-positive word, ... most-negative word, the texts that differ)."""
    tops = [(top_words(a, "gxi"), top_words(a, "ig")) for a in records]
    pos = sum(g[0] == i[0] for g, i in tops)
    neg = sum(g[1] == i[1] for g, i in tops)
    differ = [a for a, (g, i) in zip(records, tops) if g != i]
    return pos, neg, differ


def sentiment_observations(m: Mapping) -> list[str]:
    """Sentences about the BiLSTM sentiment classifier (``metrics["sentiment"]``)."""
    n, acc = m["test_size"], m["test_accuracy_mean"]
    seeds = len(m["test_accuracy_seeds"])
    spread = f" ± {_pct(m['test_accuracy_std'])} over {seeds} seeds" if seeds > 1 else ""
    first = (f"On the {n} held-out {m['unit']} ({m['source']}), the BiLSTM is right {_pct(acc)}{spread} "
             f"(training accuracy {_pct(m['train_accuracy'])}); " + chance_sentence(acc, n))
    return [first, _train_gap_sentence(m), _baseline_sentence(m), *_negation_sentence(m)]


def attribution_observations(m: Mapping) -> list[str]:
    """Sentences about the word attributions of the sentiment classifier (``metrics["sentiment"]``)."""
    return _attribution_sentences(m)


# ----------------------------------------------------------------------------------------------
# 7. Comparison
# ----------------------------------------------------------------------------------------------


def _reach(row: Mapping, lengths: list, T: int) -> float:
    return row["reach"][lengths.index(T)]


def _cost_sentences(m: Mapping, rows: Mapping) -> list[str]:
    rnn, lstm, gru, bi = rows["RNN"], rows["LSTM"], rows["GRU"], rows["BiLSTM"]
    t_ratio = lstm["time_per_step_us"] / rnn["time_per_step_us"]
    mac_ratio = lstm["macs_per_step"] / rnn["macs_per_step"]
    return [
        (f"At input {m['input_size']} and hidden {m['hidden_size']}, the LSTM has "
         f"{lstm['parameters'] / rnn['parameters']:.1f}x the RNN's parameters ({lstm['parameters']} vs "
         f"{rnn['parameters']}), the GRU {gru['parameters'] / rnn['parameters']:.1f}x and the BiLSTM "
         f"{bi['parameters'] / rnn['parameters']:.1f}x: the count scales with the number of weight blocks G."),
        (f"Measured on this machine (one thread, batch {m['timing_batch']}), a forward step takes "
         + ", ".join(f"{r['time_per_step_us']:.1f} µs for the {name}" for name, r in rows.items())
         + f"; the LSTM takes {t_ratio:.1f}x the RNN's time for {mac_ratio:.0f}x its multiply-adds"
         + (", so fixed per-step overheads dominate at this size." if t_ratio < OVERHEAD * mac_ratio else ".")),
    ]


def _reach_sentences(m: Mapping, rows: Mapping) -> list[str]:
    lengths = list(m["lengths"])
    T_max, T_min = max(lengths), min(lengths)
    rnn, lstm, gru, bi = rows["RNN"], rows["LSTM"], rows["GRU"], rows["BiLSTM"]

    def reach(r: Mapping, T: int) -> float:
        return _reach(r, lengths, T)

    ranked = sorted(("RNN", "LSTM", "GRU"), key=lambda k: reach(rows[k], T_max), reverse=True)
    falling = [k for k in ("RNN", "LSTM", "GRU") if reach(rows[k], T_max) < reach(rows[k], T_min)]
    trend = ("falls with length for every unidirectional model" if len(falling) == 3 else
             f"falls with length for {', '.join(falling) or 'none of them'}")
    weakest = bi["weakest_position"][lengths.index(T_max)]
    fl = bi["first_last"][lengths.index(T_max)]
    ends = ("so its first and last inputs get gradients of the same order" if ENDS_BAND[0] <= fl <= ENDS_BAND[1]
            else "yet its first and last inputs get gradients of different orders")
    return [
        (f"Untrained (PyTorch's default initialisation), the weakest input gradient relative to the strongest "
         f"{trend}: the RNN's from {reach(rnn, T_min):.1e} at T = {T_min} to "
         f"{reach(rnn, T_max):.1e} at T = {T_max}, the LSTM's from {reach(lstm, T_min):.1e} to "
         f"{reach(lstm, T_max):.1e}, the GRU's from {reach(gru, T_min):.1e} to {reach(gru, T_max):.1e}; "
         f"at T = {T_max} the unidirectional models rank {' > '.join(ranked)}."),
        (f"The BiLSTM's summary [h_T^f; h_1^b] reads both ends, {ends} (ratio {fl:.2f} at T = {T_max}); "
         f"its weakest input is t = {weakest} of {T_max}, where the weakest/strongest ratio is "
         f"{reach(bi, T_max):.1e} against the LSTM's {reach(lstm, T_max):.1e}."),
    ]


def forget_bias_sentence(m: Mapping, rows: Mapping) -> str:
    """The LSTM with its forget gate opened at the start against the default LSTM."""
    lengths = list(m["lengths"])
    T_max = max(lengths)
    fb = m["forget_bias_reach"][lengths.index(T_max)]
    factor = fb / max(_reach(rows["LSTM"], lengths, T_max), 1e-300)
    head = f"With its forget gate opened at the start (bias {m['forget_bias']:g}, f close to 1) the LSTM "
    if factor >= FACTOR_BAND:
        return head + (f"keeps a ratio of {fb:.2f} at T = {T_max}, {factor:.1e} times the default LSTM's: the "
                       "cell-state path carries gradient only while f stays near 1, which training (or this "
                       "initialisation) must arrange.")
    if factor <= 1 / FACTOR_BAND:
        return head + (f"reaches a ratio of only {fb:.2e} at T = {T_max}, {factor:.1e} times the default "
                       "LSTM's: here opening the forget gate did not carry the gradient further back.")
    return head + (f"reaches a ratio of {fb:.2e} at T = {T_max}, {factor:.2f} times the default LSTM's "
                   f"(within a factor of {FACTOR_BAND:g}): about as much gradient as the default at this length.")


def cost_observations(m: Mapping) -> list[str]:
    """Sentences about parameters and time per step (``metrics["comparison"]``)."""
    return _cost_sentences(m, {r["model"]: r for r in m["rows"]})


def gradient_observations(m: Mapping) -> list[str]:
    """Sentences about the vanishing gradient (``metrics["comparison"]``)."""
    rows = {r["model"]: r for r in m["rows"]}
    return [*_reach_sentences(m, rows), forget_bias_sentence(m, rows)]


def comparison_observations(m: Mapping) -> list[str]:
    """Sentences about the comparison table (``metrics["comparison"]``)."""
    return [*cost_observations(m), *gradient_observations(m)]


# ----------------------------------------------------------------------------------------------
# 1. Architectures
# ----------------------------------------------------------------------------------------------


def architectures_observations(rows: list) -> list[str]:
    """One sentence about the measured shapes of the five patterns (``metrics["architectures"]``).

    A pattern keeps the input's time axis when input and output both have one of the same length
    (aligned), changes it when both have one of different lengths, and has none in its output
    when the output is (B, C).
    """
    shapes = "; ".join(f"{r['architecture']} {tuple(r['input_shape'])} -> {tuple(r['output_shape'])}"
                       for r in rows)
    aligned = [r for r in rows if len(r["input_shape"]) >= 2 and len(r["output_shape"]) == 3
               and r["output_shape"][1] == r["input_shape"][1]]
    changed = [r for r in rows if len(r["input_shape"]) >= 2 and len(r["output_shape"]) == 3
               and r["output_shape"][1] != r["input_shape"][1]]
    s = f"Run on dummy input, the {len(rows)} patterns return: {shapes}."
    if aligned:
        s += (" One output per input step only for " + ", ".join(r["architecture"] for r in aligned)
              + f" (T = {aligned[0]['input_shape'][1]} in and out)")
    if changed:
        s += ("; " if aligned else " ") + ", ".join(
            f"{r['architecture']} returns {r['output_shape'][1]} steps for {r['input_shape'][1]}" for r in changed)
    return [s + ("." if aligned or changed else "")]


# ----------------------------------------------------------------------------------------------
# Topics, findings and limitations
# ----------------------------------------------------------------------------------------------

TOPICS = (  # (key, title, part of metrics, sentences)
    ("architectures", "1. Architectures: which input/output pattern fits which task", "architectures",
     architectures_observations),
    ("counting", "2. Counting parameters with shared weights", "counting", counting_observations),
    ("forward_pass", "3. A forward pass by hand", "forward_pass", forward_pass_observations),
    ("toy", "4. A many-to-one NumPy RNN trained by hand-written BPTT", "toy", toy_observations),
    ("monotonic", "5. Increasing or decreasing, and longer sequences", "monotonic", monotonic_observations),
    ("sentiment", "6. A bidirectional LSTM for sentiment", "sentiment", sentiment_observations),
    ("attribution", "6b. Which words matter: gradient x input and integrated gradients", "sentiment",
     attribution_observations),
    ("cost", "7. RNN, LSTM, GRU and BiLSTM: parameters and cost", "comparison", cost_observations),
    ("gradient", "7b. The vanishing gradient against sequence length", "comparison", gradient_observations),
)


def topic_sentences(metrics: Mapping[str, Any]) -> dict[str, list[str]]:
    """The sentences of each topic, by topic key, in the order of :data:`TOPICS`."""
    return {key: fn(metrics[part]) for key, _, part, fn in TOPICS if part in metrics}


def observations(metrics: Mapping[str, Any], config: Any = None) -> list[str]:
    """All the section's sentences, topic by topic (parts missing from ``metrics`` are skipped)."""
    return [s for sentences in topic_sentences(metrics).values() for s in sentences]


# Priorities of the findings (lower first): a failed check or goal, then a result against
# expectation, then the largest effect, then a confirmed expectation.
FAILED, SURPRISE, EFFECT, CONFIRMED = 0, 1, 2, 3


def _candidates(metrics: Mapping[str, Any]) -> list[tuple[int, Finding]]:
    """Every candidate finding with its priority; each part present gives at least one."""
    out: list[tuple[int, Finding]] = []
    if "counting" in metrics:
        m = metrics["counting"]
        ex, checks = m["exercise"], m["checks"]
        wrong = sum(1 for c in checks if c["ours"] != c["torch"])
        if wrong or not ex["torch_same_for_lengths"]:
            out.append((FAILED, Finding(
                f"Parameter counting failed a check: the counter disagrees with PyTorch in {wrong} of "
                f"{len(checks)} configurations" + ("" if ex["torch_same_for_lengths"] else
                                                   ", and PyTorch's count changed with the sequence length")
                + ".", "counting")))
        else:
            out.append((CONFIRMED, Finding(
                f"Weight sharing: the exercise's RNN has {ex['one_bias']} parameters at any length "
                f"({ex['unshared']} without sharing over {ex['steps']} steps); the counter matches PyTorch in all "
                f"{len(checks)} configurations.", "counting")))
    if "forward_pass" in metrics:
        diff = metrics["forward_pass"]["max_abs_diff"]
        ok = diff < AGREE
        out.append((CONFIRMED if ok else FAILED, Finding(
            f"The hand-written loop and the NumPy engine {'agree' if ok else 'DISAGREE'} on every hidden state "
            f"(largest difference {diff:.1e}).", "forward_pass")))
    if "toy" in metrics:
        m = metrics["toy"]
        n = len(m["labels"])
        right = round(m["accuracy_after"] * n)
        ok = right == n
        out.append((CONFIRMED if ok else FAILED, Finding(
            f"Hand-written BPTT trains the toy RNN to {right} of {n} correct in {m['epochs']} updates"
            + (f" (all right from update {m['first_epoch_all_correct']})." if ok and m["first_epoch_all_correct"]
               else "."), "toy")))
    if "monotonic" in metrics:
        out.extend(_monotonic_findings(metrics["monotonic"]))
    if "sentiment" in metrics:
        out.extend(_sentiment_findings(metrics["sentiment"]))
    if "comparison" in metrics:
        out.extend(_comparison_findings(metrics["comparison"]))
    return out


def _monotonic_findings(m: Mapping) -> list[tuple[int, Finding]]:
    T0, test, goal = m["train_length"], m["test_accuracy"], m["goal"]
    out = []
    if test < goal:
        out.append((FAILED, Finding(f"Increasing/decreasing: the goal of {_pct(goal)} test accuracy on length "
                                    f"{T0} is not met ({_pct(test)}).", "monotonic")))
    longer = [(T, list(accs)) for T, accs in zip(m["lengths"], m["accuracy_by_length"]) if T != T0]
    if not longer:
        return out
    floor = 0.5 - Z_CHANCE * chance_se(m["test_size"])
    T, accs = min(longer, key=lambda item: (float(np.mean(item[1])), item[0]))
    reversed_seeds = sum(1 for a in accs if a < floor)
    if reversed_seeds:
        out.append((SURPRISE, Finding(
            f"The increasing/decreasing RNN ({_pct(test)} on length {T0}) scores {_pct(float(np.mean(accs)))} on "
            f"length {T}: {reversed_seeds} of {len(accs)} seeds call the longer sequences the wrong way round, "
            "so it learnt something tied to the training length, not the rule.", "monotonic")))
    elif all(a >= goal for _, a_s in longer for a in a_s):
        out.append((CONFIRMED, Finding(
            f"The increasing/decreasing RNN trained on length {T0} stays at or above {_pct(goal)} on every "
            "longer length tested.", "monotonic")))
    else:
        out.append((SURPRISE, Finding(
            f"The increasing/decreasing RNN trained on length {T0} drops to {_pct(float(np.mean(accs)))} on "
            f"length {T}: the rule carries over only partly.", "monotonic")))
    return out


def _sentiment_findings(m: Mapping) -> list[tuple[int, Finding]]:
    out = []
    n, acc, base = m["test_size"], m["test_accuracy_mean"], m["baseline_accuracy"]
    z = (acc - 0.5) / chance_se(n)
    noise = max(m["test_accuracy_std"], chance_se(n))
    blind = f"a mean-GloVe logistic regression that ignores word order scores {_pct(base)}"
    if z <= Z_CHANCE:
        out.append((FAILED, Finding(
            f"The BiLSTM sentiment classifier is not clearly better than guessing: {_pct(acc)} on {n} held-out "
            f"{m['unit']} ({z:.1f} standard errors from 50%); {blind}.", "sentiment")))
    elif base - acc > noise:
        out.append((SURPRISE, Finding(
            f"Word order did not help: the BiLSTM's {_pct(acc)} on {n} held-out {m['unit']} is below the "
            f"{_pct(base)} of a mean-GloVe logistic regression, by more than the noise ({_pct(noise)}).",
            "sentiment")))
    else:
        better = acc - base > noise
        out.append((EFFECT if better else CONFIRMED, Finding(
            f"The BiLSTM is right {_pct(acc)} on {n} held-out {m['unit']}; {blind}"
            + (", so word order helps beyond the noise." if better else ", within the noise of it."),
            "sentiment")))
    if not _has_ig(m):
        return out
    records = m["attributions"]
    gxi = float(np.median([a["completeness_error_gxi"] for a in records]))
    ig = float(np.median([a["completeness_error_ig"] for a in records]))
    if ig > SUM_TOLERANCE:
        out.append((FAILED, Finding(
            f"Integrated gradients does not add up to s(x) - s(x') (median error {_err(ig)}, tolerance "
            f"{100 * SUM_TOLERANCE:.0f}%): its word scores need more path steps before they are read.",
            "attribution")))
    elif gxi > SUM_TOLERANCE:
        out.append((EFFECT, Finding(
            f"Word attribution: integrated gradients adds up to the score change (median error {_err(ig)}), "
            f"gradient x input does not (median error {_err(gxi)}): only the first decomposes the LSTM's score.",
            "attribution")))
    _, _, differ = _agreement(records)
    if differ:
        out.append((SURPRISE, Finding(
            f"Gradient x input and integrated gradients name different top words in {len(differ)} of "
            f"{len(records)} texts: a top word from one method alone says little about the model.",
            "attribution")))
    return out


def _comparison_findings(m: Mapping) -> list[tuple[int, Finding]]:
    rows = {r["model"]: r for r in m["rows"]}
    lengths = list(m["lengths"])
    T_max = max(lengths)
    rnn, lstm = rows["RNN"], rows["LSTM"]
    fb = m["forget_bias_reach"][lengths.index(T_max)]
    factor = fb / max(_reach(lstm, lengths, T_max), 1e-300)
    s = (f"Vanishing gradient at T = {T_max}: the weakest input gets {_reach(rnn, lengths, T_max):.1e} of the "
         f"strongest input's gradient in the RNN, {_reach(lstm, lengths, T_max):.1e} in the LSTM")
    if factor >= FACTOR_BAND:
        s += f", and {fb:.2f} ({factor:.0f}x the LSTM's) once the forget gate starts open"
    out = [(EFFECT, Finding(s + ".", "gradient"))]
    t_ratio = lstm["time_per_step_us"] / rnn["time_per_step_us"]
    mac_ratio = lstm["macs_per_step"] / rnn["macs_per_step"]
    if t_ratio < OVERHEAD * mac_ratio:
        out.append((SURPRISE, Finding(
            f"Cost: the LSTM does {mac_ratio:.0f}x the RNN's multiply-adds per step but takes only "
            f"{t_ratio:.1f}x its time at hidden {m['hidden_size']}: fixed per-step overheads dominate at this size.",
            "cost")))
    return out


def findings(metrics: Mapping[str, Any], config: Any = None) -> list[Finding]:
    """The 3 to 6 key findings of the section, chosen by rule from the measurements.

    Every part gives candidates with a priority: a failed check or goal first (the loop and engine
    disagree, the counter misses PyTorch, the toy RNN or the increasing/decreasing goal is not
    reached, the BiLSTM is within :data:`Z_CHANCE` standard errors of chance, integrated gradients
    does not add up), then a result against expectation (a model reversed on longer sequences, the
    word-order-blind baseline beating the BiLSTM beyond the noise, the two attribution methods
    naming different top words, overheads dominating the cost), then the largest effect (the
    vanishing gradient at the longest length, integrated gradients adding up where gradient x
    input does not, a BiLSTM beating the baseline), then confirmed expectations. The first
    :data:`MAX_FINDINGS` by priority are kept, in the order of the parts within a priority;
    the three always-present parts (counting, forward pass, toy) guarantee at least three.
    """
    return top_findings(_candidates(metrics))



def limitations(metrics: Mapping[str, Any], config: Any = None) -> list[str]:
    """What limits the section's results, each a short phrase (empty: nothing does)."""
    out = []
    if setting(config, "profile") == "quick":
        out.append("quick profile: tiny settings, numbers are not meaningful")
    m = metrics.get("sentiment")
    if m is not None:
        if m["source"] != IMDB_SOURCE:
            out.append(f"IMDb not used (no --imdb-dir): the sentiment model learnt from {m['train_size']} shipped "
                       f"review sentences and is tested on {m['test_size']}")
        elif setting(config, "imdb_max_per_split") is not None:
            out.append(f"IMDb subset: at most {setting(config, 'imdb_max_per_split')} reviews per split "
                       f"({m['train_size']} for training, {m['test_size']} held out)")
    return out
