"""The introductory exercises: seven parts, measured once, then told.

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

Data flow: :func:`measure` runs the parts (``rnnlab.exercises.*``, pure computations returning
numbers) and returns the measurements (metrics.json); :func:`present` turns what was saved into
tables, text blocks, figures (:mod:`rnnlab.viz.exercises`) and sentences
(:mod:`rnnlab.observations.exercises`), without any model or data.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.errors import DataError
from rnnlab.experiments.base import (
    RESUME_HELP,
    Figure,
    Presentation,
    RunContext,
    Table,
    config_to_dict,
    make_config,
    option,
)
from rnnlab.observations import exercises as O
from rnnlab.observations.exercises import observations as observations_from_metrics
from rnnlab.results import Topic
from rnnlab.sections import TITLES

NAME = "exercises"
TITLE = TITLES[NAME]


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
    imdb_dir: str | None = option(
        None, "an aclImdb/ folder in its official layout (train/test, pos/neg)", metavar="DIR")
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
    # interrupted runs (the unit of work is a part: parts/<part>.json)
    resume: bool = option(False, RESUME_HELP)


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


def build_config(profile: str = "default", seed: int = 0, options: dict[str, Any] | None = None) -> Config:
    """The configuration of ``profile`` with the user's options (``imdb_dir``: ``--imdb-dir``).

    A given ``--imdb-dir`` is checked (and resolved to its ``aclImdb`` folder) here, so a wrong
    folder fails before any work.

    Raises
    ------
    ConfigError
        Unknown profile, bad seed, unknown option or bad value.
    DataError
        An ``--imdb-dir`` that is not an aclImdb folder in its official layout.
    """
    config = make_config(Config, PROFILE_OVERRIDES, profile, seed, options, section=NAME)
    if config.imdb_dir is not None:
        from rnnlab.data.sentences import find_imdb_dir

        config = dataclasses.replace(config, imdb_dir=str(find_imdb_dir(config.imdb_dir).resolve()))
    return config


# ----------------------------------------------------------------------------------------------
# Measure: the seven parts, numbers only
# ----------------------------------------------------------------------------------------------

COUNT_CHECKS = [  # (cell, D, H, layers, bidirectional) compared with PyTorch in the report
    ("rnn", 4, 3, 1, False), ("lstm", 4, 3, 1, False), ("gru", 4, 3, 1, False),
    ("rnn", 10, 20, 2, False), ("lstm", 50, 32, 2, True), ("gru", 7, 5, 3, True),
]
MONOTONIC_GOAL = 0.98


def measure_architectures(config: Config, ctx: RunContext) -> list[dict]:
    """Part 1: the five tiny models run on dummy input, their measured shapes."""
    from rnnlab.exercises.architectures import demonstrate_architectures

    return [dataclasses.asdict(d) for d in demonstrate_architectures(seed=ctx.seed)]


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


def measure_counting(config: Config, ctx: RunContext) -> dict:
    """Part 2: the exercise's count, PyTorch's, and the general counter against PyTorch."""
    from rnnlab.exercises.counting import (
        count_parameters,
        torch_parameter_count,
        unshared_parameter_count,
    )

    D, H, T = config.count_input, config.count_hidden, config.count_steps
    by_length = _torch_count_over_lengths(D, H, (1, T))
    checks = []
    for cell, d, h, layers, bi in COUNT_CHECKS:
        kw = {"num_layers": layers, "bidirectional": bi}
        checks.append({"cell": cell, "input": d, "hidden": h, "layers": layers, "bidirectional": bi,
                       "ours": count_parameters(cell, d, h, **kw).total,
                       "torch": torch_parameter_count(cell, d, h, **kw),
                       "textbook_one_bias": count_parameters(cell, d, h, **kw, biases=1).total})
    return {
        "exercise": {"input": D, "hidden": H, "one_bias": count_parameters("rnn", D, H, biases=1).total,
                     "two_biases": count_parameters("rnn", D, H, biases=2).total,
                     "torch": torch_parameter_count("rnn", D, H), "steps": T,
                     "unshared": unshared_parameter_count("rnn", D, H, T, biases=1),
                     "torch_by_length": [[k, v] for k, v in by_length.items()],
                     "torch_same_for_lengths": len(set(by_length.values())) == 1},
        "checks": checks,
        "all_match": all(c["ours"] == c["torch"] for c in checks),
    }


def measure_forward_pass(config: Config, ctx: RunContext) -> dict:
    """Part 3: every a_t and h_t of the exercise, by the loop and by the engine."""
    from rnnlab.exercises.forward_pass import EXERCISE, forward_engine, forward_loop

    loop = forward_loop(EXERCISE)
    engine = forward_engine(EXERCISE)
    return {"pre_activations": [list(a) for a in loop.pre_activations],
            "h_loop": [list(h) for h in loop.hidden_states], "h_engine": engine.tolist(),
            "max_abs_diff": float(np.max(np.abs(np.array(loop.hidden_states) - engine)))}


def measure_toy(config: Config, ctx: RunContext) -> dict:
    """Part 4: the NumPy RNN on the four toy sequences, before and after BPTT training."""
    from rnnlab.exercises.toy_classifier import TOY_Y, train_toy_classifier

    _, r = train_toy_classifier(hidden_size=config.toy_hidden, epochs=config.toy_epochs,
                                lr=config.toy_lr, seed=ctx.seed)
    return {"labels": TOY_Y.tolist(), "accuracy_before": r.accuracy_before, "accuracy_after": r.accuracy_after,
            "prob_before": r.probs_before[:, 1].tolist(), "prob_after": r.probs_after[:, 1].tolist(),
            "pred_before": r.pred_before.tolist(), "pred_after": r.pred_after.tolist(),
            "first_epoch_all_correct": r.first_epoch_all_correct, "final_loss": float(r.losses[-1]),
            "epochs": config.toy_epochs, "losses": r.losses.tolist(), "accuracies": r.accuracies.tolist()}


def measure_monotonic(config: Config, ctx: RunContext) -> dict:
    """Part 5: increasing vs decreasing, trained on one length, tested on longer ones, per seed."""
    from rnnlab.exercises.monotonic import train_monotonic

    results = [train_monotonic(train_size=config.mono_train, test_size=config.mono_test,
                               length=config.mono_length, eval_lengths=config.mono_eval_lengths,
                               hidden_size=config.mono_hidden, epochs=config.mono_epochs,
                               batch_size=config.mono_batch, lr=config.mono_lr, seed=ctx.seed + k)
               for k in range(config.mono_seeds)]
    main = results[0]
    lengths = sorted(main.accuracy_by_length)
    return {"train_length": config.mono_length, "train_accuracy": main.train_accuracy,
            "test_accuracy": main.test_accuracy, "test_size": config.mono_test, "goal": MONOTONIC_GOAL,
            "lengths": lengths, "accuracy_by_length": [[r.accuracy_by_length[T] for r in results] for T in lengths],
            "test_accuracy_seeds": [r.test_accuracy for r in results],
            "num_parameters": main.num_parameters, "losses": main.losses}


def _sentiment_setup(config: Config, ctx: RunContext) -> tuple[Any, dict, int, str, list]:
    """The data, training settings, number of seeds, unit and attribution candidates of part 6."""
    from rnnlab.data import sentences

    if config.imdb_dir:
        data = sentences.load_imdb(config.imdb_dir, config.imdb_max_per_split)
        settings = {"epochs": config.imdb_epochs, "batch_size": config.imdb_batch, "lr": config.imdb_lr,
                    "freeze_embeddings": False, "max_tokens": config.imdb_max_tokens,
                    "max_vocab": config.imdb_max_vocab, "device": ctx.device,
                    "threads": 1 if ctx.device == "cpu" else None}  # 2 busy threads ran 8x slower here
        candidates = sorted(data.test, key=lambda e: len(e.text))[: 10 * config.attribution_count]
        return data, settings, config.imdb_seeds, "reviews", candidates
    data = sentences.load_shipped_sentences()
    settings = {"epochs": config.sent_epochs, "batch_size": config.sent_batch, "lr": config.sent_lr,
                "freeze_embeddings": config.sent_freeze_embeddings, "device": "cpu", "threads": 1}
    return data, settings, config.sent_seeds, "sentences", data.test


def completeness_error(total: float, difference: float) -> float:
    """|sum_t a_t - (s(x) - s(x'))| / |s(x) - s(x')|: how far attributions fall from the score change."""
    return abs(total - difference) / max(abs(difference), 1e-12)


def _attribution_record(a: Any) -> dict:
    order = np.argsort(a.scores)
    record = {"text": a.text, "tokens": a.tokens, "scores": a.scores, "label": a.label, "pred": a.pred,
              "prob_positive": a.prob_positive, "score": a.score, "sum_of_attributions": float(np.sum(a.scores)),
              "tags": list(a.tags), "top_positive": a.tokens[int(order[-1])],
              "top_negative": a.tokens[int(order[0])]}
    # added with integrated gradients (float64, zero-embedding baseline); keys above unchanged
    ig_order = np.argsort(a.ig_scores)
    difference = a.score_float64 - a.baseline_score  # s(x) - s(x'), float64
    ig_sum = float(np.sum(a.ig_scores))
    record.update({
        "ig_scores": a.ig_scores, "ig_sum_of_attributions": ig_sum,
        "score_float64": a.score_float64, "baseline_score": a.baseline_score, "score_difference": difference,
        "ig_top_positive": a.tokens[int(ig_order[-1])], "ig_top_negative": a.tokens[int(ig_order[0])],
        "completeness_error_gxi": completeness_error(record["sum_of_attributions"], difference),
        "completeness_error_ig": completeness_error(ig_sum, difference),
    })
    return record


def _attribution_summary(records: list[dict], steps: int) -> dict:
    """How the two attribution methods were run, their median completeness errors, top-word agreement."""
    n = len(records)
    return {
        "method": {"baseline": "all-zero embeddings (= the <pad> row, zero and never trained)",
                   "steps": steps, "rule": "trapezoid", "dtype": "float64"},
        "completeness_error_median": {
            "gradient_x_input": float(np.median([r["completeness_error_gxi"] for r in records])) if n else None,
            "integrated_gradients": float(np.median([r["completeness_error_ig"] for r in records])) if n else None},
        "texts": n,
        "top_positive_agree": sum(r["top_positive"] == r["ig_top_positive"] for r in records),
        "top_negative_agree": sum(r["top_negative"] == r["ig_top_negative"] for r in records),
    }


def measure_sentiment(config: Config, ctx: RunContext) -> dict:
    """Part 6: the BiLSTM over GloVe per seed, the mean-GloVe baseline, word attributions."""
    from rnnlab.exercises import sentiment as S

    data, settings, n_seeds, unit, candidates = _sentiment_setup(config, ctx)
    examples = S.pick_attribution_examples(candidates, config.attribution_count)
    common = {"hidden_size": config.sent_hidden, "num_layers": config.sent_layers, "dropout": config.sent_dropout}
    results = [S.train_sentiment(data, **common, **settings, seed=ctx.seed + k,
                                 attribution_examples=examples if k == 0 else None)
               for k in range(n_seeds)]
    main = results[0]
    accs = [r.test_accuracy for r in results]
    records = [_attribution_record(a) for a in main.attributions]
    return {"source": data.source, "unit": unit, "train_size": len(data.train), "test_size": len(data.test),
            "seed": ctx.seed, "train_accuracy": main.train_accuracy, "test_accuracy": main.test_accuracy,
            "test_accuracy_seeds": accs, "train_accuracy_seeds": [r.train_accuracy for r in results],
            "test_accuracy_mean": float(np.mean(accs)), "test_accuracy_std": float(np.std(accs)),
            "baseline_accuracy": S.mean_glove_baseline(data, settings.get("max_tokens")),
            "confusion": main.confusion, "accuracy_by_tag": main.accuracy_by_tag, "history": main.history,
            "num_parameters": main.num_parameters, "num_trainable": main.num_trainable,
            "vocab_size": main.vocab_size, "glove_coverage": main.glove_coverage,
            "attributions": records,
            "attribution_comparison": _attribution_summary(records, S.IG_STEPS)}


def _comparison_row(row: Any, lengths: list[int]) -> dict:
    return {"model": row.model, "parameters": row.parameters, "parameters_torch": row.parameters_torch,
            "blocks": row.blocks, "gates": row.gates, "macs_per_step": row.macs_per_step,
            "time_per_step_us": row.time_per_step_us,
            "reach": [row.reach[T] for T in lengths],
            "reach_spread": [row.reach_spread[T] for T in lengths],
            "first_last": [row.first_last[T] for T in lengths],
            "weakest_position": [row.weakest_position[T] for T in lengths]}


def measure_comparison(config: Config, ctx: RunContext) -> dict:
    """Part 7: parameters, cost and the vanishing gradient of RNN, LSTM, GRU and BiLSTM."""
    from rnnlab.exercises.comparison import compare_models

    r = compare_models(input_size=config.cmp_input, hidden_size=config.cmp_hidden, lengths=config.cmp_lengths,
                       seeds=tuple(ctx.seed + k for k in range(config.cmp_seeds)), batch=config.cmp_batch,
                       timing_steps=config.cmp_timing_steps, timing_batch=config.cmp_timing_batch,
                       timing_repeats=config.cmp_timing_repeats, forget_bias=config.cmp_forget_bias)
    lengths = list(r.lengths)
    return {"input_size": r.input_size, "hidden_size": r.hidden_size, "lengths": lengths,
            "timing_batch": config.cmp_timing_batch, "timing_threads": r.torch_threads,
            "rows": [_comparison_row(row, lengths) for row in r.rows],
            "profiles": {k: v.tolist() for k, v in r.profiles.items()},
            "forget_bias": config.cmp_forget_bias,
            "forget_bias_reach": [r.forget_bias_reach[T] for T in lengths],
            "forget_bias_profile": r.forget_bias_profile.tolist()}


PARTS: dict[str, Callable[[Config, RunContext], Any]] = {
    "architectures": measure_architectures,
    "counting": measure_counting,
    "forward_pass": measure_forward_pass,
    "toy": measure_toy,
    "monotonic": measure_monotonic,
    "sentiment": measure_sentiment,
    "comparison": measure_comparison,
}


PARTS_DIR = "parts"
PARTS_CONFIG = "config.json"


def _parts_config(config: Config) -> dict:
    """The config a parts folder belongs to: every setting except ``resume``, as JSON reads it back."""
    from rnnlab.results import dumps, loads

    out = config_to_dict(config)
    out.pop("resume")
    return loads(dumps(out))


def check(config: Config, out_dir: Path) -> None:
    """Before anything of a previous run is touched: with ``--resume``, the saved parts belong
    to this config and every part file reads back whole.

    Raises
    ------
    ConfigError, DataError
        Naming the folder or file and what is wrong.
    """
    if not config.resume:
        return
    from rnnlab.results import check_units

    parts = check_units(Path(out_dir) / PARTS_DIR, _parts_config(config), True, "parts", NAME)
    for key in PARTS:
        if (parts / f"{key}.json").exists():
            _read_part(parts / f"{key}.json")


def prepare_parts(config: Config, out_dir: Path) -> dict[str, dict]:
    """The finished parts to reuse: ``parts/<part>.json`` (``{"part", "seconds", "metrics"}``)
    in a folder checked for ``--resume`` (before any work) or cleared
    (:func:`rnnlab.results.prepare_units`). Empty without ``resume``.

    Raises
    ------
    ConfigError, DataError
        On ``resume``: another config, or an unreadable or malformed config or part file.
    """
    from rnnlab.results import prepare_units

    parts = prepare_units(Path(out_dir) / PARTS_DIR, _parts_config(config), config.resume, "parts", NAME)
    if not config.resume:
        return {}
    return {key: _read_part(parts / f"{key}.json") for key in PARTS if (parts / f"{key}.json").exists()}


def _read_part(path: Path) -> dict:
    """A saved part file, checked: its name, a number of seconds and a metrics value."""
    from rnnlab.results import read_json

    record = read_json(path, f"the finished exercise part {path.stem!r}")
    if not isinstance(record, dict) or set(record) != {"part", "seconds", "metrics"}:
        keys = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise DataError(f"expected a finished part (part, seconds, metrics) in {path}, found {keys}; "
                        "run without --resume to start over")
    seconds = record["seconds"]
    if record["part"] != path.stem or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DataError(f"expected part {path.stem!r} with its seconds in {path}, found part "
                        f"{record['part']!r}, seconds {seconds!r}; run without --resume to start over")
    return record


def measure(config: Config, ctx: RunContext) -> dict[str, Any]:
    """Run the seven parts; the measurements of each under its name, and seconds per part.

    Each part seeds its own random generators from ``ctx.seed`` (none reads state left by
    another), so a part saved under ``parts/`` and reused by ``--resume`` gives the numbers an
    uninterrupted run gives. ``timings_s`` holds each part's seconds (a reused part's from its
    first run) and ``reused_parts``, the parts read back.
    """
    from rnnlab.results import write_json

    finished = prepare_parts(config, ctx.out_dir)
    parts = Path(ctx.out_dir) / PARTS_DIR
    metrics: dict[str, Any] = {"timings_s": {}}
    for key, part in PARTS.items():
        if key in finished:
            if ctx.progress:
                print(f"rnnlab: exercises: {key} (reused from {parts / (key + '.json')})", flush=True)
            metrics[key] = finished[key]["metrics"]
            metrics["timings_s"][key] = finished[key]["seconds"]
            continue
        if ctx.progress:
            print(f"rnnlab: exercises: {key}", flush=True)
        start = time.perf_counter()
        metrics[key] = part(config, ctx)
        metrics["timings_s"][key] = round(time.perf_counter() - start, 3)
        write_json(parts / f"{key}.json", {"part": key, "seconds": metrics["timings_s"][key],
                                            "metrics": metrics[key]})
    metrics["timings_s"]["reused_parts"] = [key for key in PARTS if key in finished]
    return metrics


# ----------------------------------------------------------------------------------------------
# Present: tables, text blocks and figures from the saved measurements alone
# ----------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def present_architectures(rows: list[dict], figures_dir: Path, shown: Presentation) -> None:
    from rnnlab.exercises.architectures import format_architectures
    from rnnlab.viz.exercises import plot_architectures
    from rnnlab.viz.style import save_figure

    shown.tables.append(Table(
        "1. Architectures: input/output patterns, each run as a tiny PyTorch model (batch B = 2)",
        ["task", "architecture", "example", "input", "output (measured)", "model", "parameters"],
        [[d["task"], d["architecture"], d["example"], f"{tuple(d['input_shape'])} {d['input_meaning']}",
          f"{tuple(d['output_shape'])} {d['output_meaning']}", d["model"], d["num_parameters"]] for d in rows],
    ))
    shown.text_blocks["1. architectures (shapes measured on dummy input)"] = format_architectures(rows)
    save_figure(plot_architectures(rows), figures_dir / "architectures.png")
    shown.figures.append(Figure(
        "figures/architectures.png",
        "The five input/output patterns unrolled in time: inputs x_t (green), hidden states (orange; decoder "
        "states yellow), outputs y_t (blue); the dashed arrows of one-to-many feed each generated output back "
        "as the next input. Titles give the shapes measured on the tiny PyTorch models."))


def present_counting(m: dict, shown: Presentation) -> None:
    from rnnlab.exercises.counting import count_parameters

    def formula(c: dict) -> str:  # the arithmetic of the count (a pure function of the row)
        return count_parameters(c["cell"], c["input"], c["hidden"], num_layers=c["layers"],
                                bidirectional=c["bidirectional"]).formula

    shown.tables.append(Table(
        "2. Parameter counts: the formula against PyTorch's count (two bias vectors per block)",
        ["cell", "input D", "hidden H", "layers", "bidirectional", "formula (PyTorch's biases)",
         "PyTorch says", "one bias vector (textbook)"],
        [[c["cell"].upper(), c["input"], c["hidden"], c["layers"], "yes" if c["bidirectional"] else "no",
          formula(c), c["torch"], c["textbook_one_bias"]] for c in m["checks"]],
    ))
    ex = m["exercise"]
    D, H, T, one = ex["input"], ex["hidden"], ex["steps"], ex["one_bias"]
    lengths = [k for k, _ in ex["torch_by_length"]]
    counts = [v for _, v in ex["torch_by_length"]]
    shown.text_blocks["2. parameter counting"] = "\n".join([
        f"RNN, input D = {D}, hidden H = {H}:",
        f"  one bias vector (the exercise): H*D + H*H + H = {H}*{D} + {H}*{H} + {H} = {one}",
        f"  PyTorch (b_ih and b_hh):        H*D + H*H + 2H = {ex['two_biases']}   (torch.nn.RNN says {ex['torch']})",
        f"  difference: {ex['two_biases'] - one} = H, the second bias vector; b_ih + b_hh act as one b,",
        "  so the extra vector adds numbers to store and train but no expressive power.",
        f"On a sequence of length T = {T}: still {one} (PyTorch's count for lengths {lengths}: {counts}).",
        (f"  Weight sharing: the same W_xh, W_hh, b at every step. Without it, T = {T} steps would need "
         f"{T} x {one} = {ex['unshared']}."),
    ])


def present_forward_pass(m: dict, shown: Presentation) -> None:
    from rnnlab.exercises.forward_pass import EXERCISE, describe_forward_pass

    shown.text_blocks["3. manual forward pass"] = describe_forward_pass(
        EXERCISE, m["pre_activations"], m["h_loop"], m["h_engine"], m["max_abs_diff"])


def present_toy(m: dict, config: Config, figures_dir: Path, shown: Presentation) -> None:
    from rnnlab.exercises.toy_classifier import describe_predictions
    from rnnlab.viz.exercises import figure_toy
    from rnnlab.viz.style import save_figure

    shown.text_blocks["4. toy classifier: predictions before and after training"] = describe_predictions(
        m["labels"], m["pred_before"], m["prob_before"], m["pred_after"], m["prob_after"],
        m["accuracy_before"], m["accuracy_after"], len(m["losses"]), m["final_loss"])
    save_figure(figure_toy(m["losses"], m["accuracies"], m["prob_before"], m["prob_after"], m["labels"]),
                figures_dir / "toy_classifier.png")
    shown.figures.append(Figure(
        "figures/toy_classifier.png",
        f"Part 4: the many-to-one NumPy RNN (H = {config.toy_hidden}) on the four toy sequences, trained "
        "full-batch with Adam on gradients from the engine's hand-written BPTT. Left: loss and accuracy per "
        "update; right: P(class 1) before and after."))


def present_monotonic(m: dict, config: Config, figures_dir: Path, shown: Presentation) -> None:
    from rnnlab.viz.exercises import figure_monotonic
    from rnnlab.viz.style import save_figure

    fig = figure_monotonic(m["losses"], dict(zip(m["lengths"], m["accuracy_by_length"])), m["train_length"],
                           title=f"Training on length {m['train_length']} (seed {config.seed})")
    save_figure(fig, figures_dir / "increasing_decreasing.png")
    shown.figures.append(Figure(
        "figures/increasing_decreasing.png",
        f"Part 5: a PyTorch RNN (H = {config.mono_hidden}, {m['num_parameters']} parameters) classifying "
        f"increasing vs decreasing sequences. Left: training loss; right: test accuracy on {m['test_size']} "
        f"fresh sequences of each length, trained on length {m['train_length']} only "
        f"({len(m['test_accuracy_seeds'])} seeds)."))


def _sentiment_description(m: dict, config: Config) -> str:
    from rnnlab.data.sentences import IMDB_SOURCE, imdb_description, shipped_description

    if m["source"] == IMDB_SOURCE:
        return imdb_description(m["train_size"], m["test_size"], config.imdb_dir)
    return shipped_description(m["train_size"], m["test_size"])


def _sentiment_figures(m: dict, config: Config, figures_dir: Path, shown: Presentation) -> None:
    from rnnlab.data.sentences import LABELS
    from rnnlab.viz.exercises import figure_sentiment, plot_word_importance
    from rnnlab.viz.style import save_figure

    frozen = config.sent_freeze_embeddings and not config.imdb_dir
    fig = figure_sentiment(m["history"], m["confusion"], LABELS, baseline=m["baseline_accuracy"],
                           confusion_title=f"Confusion matrix, {m['test_size']} held-out {m['unit']}")
    save_figure(fig, figures_dir / "sentiment.png")
    shown.figures.append(Figure(
        "figures/sentiment.png",
        f"Part 6: the 2-layer bidirectional LSTM (H = {config.sent_hidden} per direction, GloVe 6B 50d "
        f"embeddings{', frozen' if frozen else ''}) on {m['source']}. Left: loss and accuracy per epoch (seed "
        f"{m['seed']}); right: confusion matrix of the held-out set."))
    attributions = m["attributions"]
    heads = [f"true {LABELS[x['label']]}, predicted {LABELS[x['pred']]}, P(positive) = "
             f"{x['prob_positive']:.2f}" + (f"   [{', '.join(x['tags'])}]" if x["tags"] else "")
             for x in attributions]
    if not all("ig_scores" in x for x in attributions):  # results saved before integrated gradients
        ax = plot_word_importance([x["tokens"] for x in attributions], [x["scores"] for x in attributions], heads)
        save_figure(ax.figure, figures_dir / "word_importance.png")
        shown.figures.append(Figure(
            "figures/word_importance.png",
            "Part 6: word importance by gradient x input for held-out texts: for the score s = z_pos - z_neg, "
            "each word's a_t = sum_k (ds/de_tk) e_tk; blue pushes towards positive, red towards negative, each "
            "text on its own colour scale."))
        return
    tokens, scores, captions = [], [], []
    for x, head in zip(attributions, heads):
        d = x["score_difference"]
        for name, key, total, err in (("gradient x input", "scores", x["sum_of_attributions"],
                                       x["completeness_error_gxi"]),
                                      ("integrated gradients", "ig_scores", x["ig_sum_of_attributions"],
                                       x["completeness_error_ig"])):
            tokens.append(x["tokens"])
            scores.append(x[key])
            captions.append(f"{head}  |  {name}: sum {total:+.3f} vs s(x) - s(x') = {d:+.3f} "
                            f"(off by {100 * err:.3g}%)")
    steps = m["attribution_comparison"]["method"]["steps"]
    ax = plot_word_importance(tokens, scores, captions,
                              title="Which words matter: gradient x input (upper row) and integrated gradients "
                                    "(lower row) of s = z_pos - z_neg",
                              scale_label="attribution / max |.| of the row")
    save_figure(ax.figure, figures_dir / "word_importance.png")
    shown.figures.append(Figure(
        "figures/word_importance.png",
        "Part 6: word importance for held-out texts, two methods on the same model and text. Upper row: gradient "
        "x input, a_t = sum_k (ds/de_tk) e_tk; lower row: integrated gradients from all-zero embeddings x' (the "
        f"<pad> row) to the text, IG_t = sum_k (e_tk - x'_tk) * mean of ds/de_tk along the straight path ({steps} "
        "trapezoid steps, float64). Each caption compares the sum of the row with s(x) - s(x'), which a "
        "complete attribution equals. Blue pushes towards positive, red towards negative, each row on its own "
        "colour scale."))


def _attribution_table(m: dict, shown: Presentation) -> None:
    """Per text: the score change, each method's sum and completeness error, and their top words."""
    rows = m["attributions"]
    if not rows or "ig_scores" not in rows[0]:
        return
    shown.tables.append(Table(
        "6. Word attribution: gradient x input against integrated gradients (baseline: all-zero embeddings)",
        ["text", "s(x) - s(x')", "sum, grad x input", "off by", "sum, integrated gradients", "off by",
         "most positive word (gxi / IG)", "most negative word (gxi / IG)"],
        [[x["text"][:60], f"{x['score_difference']:+.4f}", f"{x['sum_of_attributions']:+.4f}",
          f"{100 * x['completeness_error_gxi']:.3g}%", f"{x['ig_sum_of_attributions']:+.4f}",
          f"{100 * x['completeness_error_ig']:.3g}%", _top_cell(x, 0), _top_cell(x, 1)] for x in rows],
    ))


def _top_cell(record: dict, side: int) -> str:
    """'gxi word / IG word' for the most positive (side 0) or most negative (side 1) word; 'none'
    where no word pushes that way (every attribution of the text on the other side of zero)."""
    from rnnlab.observations.exercises import top_words

    words = [top_words(record, method)[side] for method in ("gxi", "ig")]
    return " / ".join("none" if w is None else w for w in words)


def present_sentiment(m: dict, config: Config, figures_dir: Path, shown: Presentation) -> None:
    _sentiment_figures(m, config, figures_dir, shown)
    seeds = zip(m["train_accuracy_seeds"], m["test_accuracy_seeds"])
    shown.tables.append(Table(
        f"6. BiLSTM sentiment classifier on {m['source']}",
        ["seed", "train accuracy", "held-out accuracy", "held-out items"],
        [[m["seed"] + k, f"{train:.3f}", f"{test:.3f}", m["test_size"]] for k, (train, test) in enumerate(seeds)]
        + [["mean-GloVe logistic regression", "", f"{m['baseline_accuracy']:.3f}", m["test_size"]]],
    ))
    _attribution_table(m, shown)
    shown.text_blocks["6. sentiment data"] = (
        f"{_sentiment_description(m, config)}.\nModel: {m['num_parameters']} parameters, "
        f"{m['num_trainable']} trained; vocabulary {m['vocab_size']} words, "
        f"{_pct(m['glove_coverage'])} with a GloVe vector.")


def present_comparison(m: dict, config: Config, figures_dir: Path, shown: Presentation) -> None:
    from rnnlab.viz.exercises import figure_vanishing_gradient
    from rnnlab.viz.style import save_figure

    lengths = m["lengths"]
    shown.tables.append(Table(
        f"7. RNN, LSTM, GRU and BiLSTM at input D = {m['input_size']}, hidden H = {m['hidden_size']} (one layer)",
        ["model", "parameters", "PyTorch says", "weight blocks G", "gates", "multiply-adds per step",
         f"forward time per step (µs, batch {m['timing_batch']})"]
        + [f"gradient ratio weakest/strongest, T = {T}" for T in lengths],
        [[r["model"], r["parameters"], r["parameters_torch"], r["blocks"], r["gates"], r["macs_per_step"],
          f"{r['time_per_step_us']:.1f}"] + [f"{v:.1e}" for v in r["reach"]] for r in m["rows"]],
    ))
    fb_name = f"LSTM, forget bias {m['forget_bias']:g}"
    reach = {r["model"]: dict(zip(lengths, r["reach"])) for r in m["rows"]}
    spread = {r["model"]: dict(zip(lengths, r["reach_spread"])) for r in m["rows"]}
    fig = figure_vanishing_gradient(lengths, {**m["profiles"], fb_name: m["forget_bias_profile"]},
                                    {**reach, fb_name: dict(zip(lengths, m["forget_bias_reach"]))}, spread)
    save_figure(fig, figures_dir / "vanishing_gradient.png")
    shown.figures.append(Figure(
        "figures/vanishing_gradient.png",
        f"Part 7: the vanishing gradient. Untrained layers (PyTorch's default initialisation, float64, D = "
        f"{m['input_size']}, H = {m['hidden_size']}) read T random inputs; s is a fixed random readout of h_T "
        "([h_T^f; h_1^b] for the BiLSTM). Left: ||ds/dx_t|| against t at "
        f"T = {max(lengths)}; right: min_t/max_t of ||ds/dx_t|| against T (mean over {config.cmp_seeds} seeds, "
        "band: ± one standard deviation). Dashed: an LSTM whose forget gate starts open."))


def present(metrics: dict[str, Any], config: Config, out_dir: str | Path) -> Presentation:
    """Tables, text blocks, figures and sentences of the section, from its measurements alone,
    organised by topic (:data:`rnnlab.observations.exercises.TOPICS`), with the key findings and
    the limitations chosen by rule (:func:`~rnnlab.observations.exercises.findings`,
    :func:`~rnnlab.observations.exercises.limitations`)."""
    figures_dir = Path(out_dir) / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    shown = Presentation()
    claimed: dict[str, tuple[list[str], list[str], list[str]]] = {}  # topic -> (figures, tables, texts)

    def part(keys: tuple[str, ...], draw: Callable[[], None]) -> None:
        """Run ``draw`` and give what it added to the topic ``keys[0]`` (the word importance figure
        and the attribution table to ``attribution``, the comparison's figure to ``gradient``)."""
        before = (len(shown.figures), len(shown.tables), len(shown.text_blocks))
        draw()
        figures = [f.path for f in shown.figures[before[0]:]]
        tables = [t.title for t in shown.tables[before[1]:]]
        texts = list(shown.text_blocks)[before[2]:]
        for key in keys:
            claimed[key] = ([], [], [])
        for path in figures:
            key = ("attribution" if path.endswith("word_importance.png") else
                   "gradient" if path.endswith("vanishing_gradient.png") else keys[0])
            claimed[key][0].append(path)
        for title in tables:
            claimed["attribution" if title.startswith("6. Word attribution") else keys[0]][1].append(title)
        claimed[keys[0]][2].extend(texts)

    part(("architectures",), lambda: present_architectures(metrics["architectures"], figures_dir, shown))
    part(("counting",), lambda: present_counting(metrics["counting"], shown))
    part(("forward_pass",), lambda: present_forward_pass(metrics["forward_pass"], shown))
    part(("toy",), lambda: present_toy(metrics["toy"], config, figures_dir, shown))
    part(("monotonic",), lambda: present_monotonic(metrics["monotonic"], config, figures_dir, shown))
    part(("sentiment", "attribution"), lambda: present_sentiment(metrics["sentiment"], config, figures_dir, shown))
    part(("cost", "gradient"), lambda: present_comparison(metrics["comparison"], config, figures_dir, shown))
    sentences = O.topic_sentences(metrics)
    shown.observations = [s for topic in sentences.values() for s in topic]
    shown.topics = [Topic(key, title, sentences.get(key, []), *claimed.get(key, ([], [], [])))
                    for key, title, _, _ in O.TOPICS]
    shown.findings = O.findings(metrics, config)
    shown.limitations = O.limitations(metrics, config)
    return shown


__all__ = [
    "NAME",
    "PROFILE_OVERRIDES",
    "TITLE",
    "Config",
    "build_config",
    "measure",
    "observations_from_metrics",
    "present",
]
