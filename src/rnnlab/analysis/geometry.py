"""Geometry of hidden states and of image-question similarities (pure NumPy, plus t-SNE).

Names: N points, H dimensions, T steps (words), Q questions, M images.

Hidden-state dynamics of one encoder over one question with states ``h_1 .. h_T`` (T, H):

- trajectory length ``L = sum_t ||h_t - h_{t-1}||`` (t = 2..T; from the first word's state);
- consecutive cosine ``mean_t cos(h_t, h_{t+1})``: near 1 = each word nudges the state, near 0 =
  each word replaces it;
- norm growth ``||h_T|| / ||h_1||``;
- over all states of all questions: the variance explained by two principal components and the
  participation ratio ``PR = (sum_i l_i)^2 / sum_i l_i^2`` of the covariance eigenvalues ``l_i``
  (the effective number of dimensions used; between 1 and H);
- sensitivity to a perturbation: ``1 - cos(e, e')`` between a question's final state ``e`` and
  the final state ``e'`` of a perturbed question (its words shuffled, or one word changed),
  divided by the mean ``1 - cos`` between the final states of two different questions, so that
  1.0 means "the perturbed question is as far as an unrelated question".

Retrieval: for each question, the rank of the image it was written about among all M images by
cosine similarity (1 = best). Chance: mean rank ``(M + 1) / 2``, top-1 rate ``1 / M``. A one-sided
permutation test (true images shuffled among the questions) says whether the mean rank is better
than chance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ShapeError

PUNCTUATION = frozenset("?!.,;:-'\"()")
EPS = 1e-12


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(f"expected {name} of shape (N, H), found {x.shape}")
    return x


# --------------------------------------------------------------------------------------------
# Basic measures
# --------------------------------------------------------------------------------------------


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (N, H) with every row of ``b`` (M, H) -> (N, M).

    Zero rows have cosine 0 with everything.
    """
    a = _as_2d(a, "a")
    b = a if b is None else _as_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ShapeError(f"expected rows of the same length, found {a.shape[1]} and {b.shape[1]}")
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), EPS)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), EPS)
    return an @ bn.T  # cos(a_i, b_j) = a_i . b_j / (|a_i| |b_j|)


def trajectory_length(states: np.ndarray) -> float:
    """``sum_{t=2..T} ||h_t - h_{t-1}||`` of one trajectory ``states`` (T, H); 0 for T = 1."""
    states = _as_2d(states, "states")
    return float(np.linalg.norm(np.diff(states, axis=0), axis=1).sum())


def consecutive_cosine(states: np.ndarray) -> float:
    """``mean_t cos(h_t, h_{t+1})`` of one trajectory (T, H); NaN for T = 1."""
    states = _as_2d(states, "states")
    if len(states) < 2:
        return float("nan")
    a, b = states[:-1], states[1:]
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), EPS)
    return float(cos.mean())


def norm_growth(states: np.ndarray) -> float:
    """``||h_T|| / ||h_1||`` of one trajectory (T, H)."""
    states = _as_2d(states, "states")
    return float(np.linalg.norm(states[-1]) / max(np.linalg.norm(states[0]), EPS))


def norm_profile(trajectories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``||h_t||`` at each position t over trajectories.

    Returns
    -------
    mean, std : (T_max,) arrays
    count : (T_max,) int array
        How many trajectories reach position t.
    """
    if len(trajectories) == 0:
        raise ShapeError("expected at least one trajectory, found none")
    T = max(len(s) for s in trajectories)
    norms = np.full((len(trajectories), T), np.nan)
    for i, s in enumerate(trajectories):
        norms[i, : len(s)] = np.linalg.norm(_as_2d(s, "states"), axis=1)
    count = np.sum(~np.isnan(norms), axis=0)
    return np.nanmean(norms, axis=0), np.nanstd(norms, axis=0), count


def covariance_eigenvalues(points: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending) of the covariance of ``points`` (N, H)."""
    x = _as_2d(points, "points")
    x = x - x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    return s**2 / max(len(x) - 1, 1)  # l_i = s_i^2 / (N - 1)


def variance_explained(
    points: np.ndarray, k: int = 2, eigenvalues: np.ndarray | None = None
) -> float:
    """Fraction of the total variance of ``points`` (N, H) captured by the top ``k`` PCs.

    ``eigenvalues`` (from :func:`covariance_eigenvalues`) may be given to avoid recomputing.
    """
    lam = covariance_eigenvalues(points) if eigenvalues is None else np.asarray(eigenvalues)
    total = lam.sum()
    return float(lam[:k].sum() / total) if total > 0 else float("nan")


def participation_ratio(points: np.ndarray, eigenvalues: np.ndarray | None = None) -> float:
    """``(sum_i l_i)^2 / sum_i l_i^2`` of the covariance eigenvalues of ``points`` (N, H)."""
    lam = covariance_eigenvalues(points) if eigenvalues is None else np.asarray(eigenvalues)
    denom = (lam**2).sum()
    return float(lam.sum() ** 2 / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class PCAResult:
    """A PCA basis fitted on some points.

    Attributes
    ----------
    mean : (H,)
    components : (k, H)
        Orthonormal rows, the principal directions (sign fixed: largest entry positive).
    explained : (k,)
        Fraction of the variance along each component.
    """

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def transform(self, points: np.ndarray) -> np.ndarray:
        """Coordinates of ``points`` (N, H) in the basis -> (N, k)."""
        return (_as_2d(points, "points") - self.mean) @ self.components.T


def pca(points: np.ndarray, k: int = 2) -> PCAResult:
    """Principal components of ``points`` (N, H) by SVD of the centred data."""
    x = _as_2d(points, "points")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(k, vt.shape[0])
    comps = vt[:k].copy()
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]  # deterministic sign
    total = (s**2).sum()
    explained = (s[:k] ** 2) / total if total > 0 else np.full(k, np.nan)
    return PCAResult(mean=mean, components=comps, explained=explained)


def tsne_perplexity(n_points: int, target: float = 30.0) -> float:
    """A t-SNE perplexity that fits ``n_points``: ``clip((N - 1) / 3, 2, target)``.

    scikit-learn requires perplexity < N; a third of the points keeps each point's
    neighbourhood well inside the set.
    """
    if n_points < 4:
        raise ShapeError(f"expected at least 4 points for t-SNE, found {n_points}")
    return float(np.clip((n_points - 1) / 3.0, 2.0, target))


def tsne(
    points: np.ndarray, seed: int = 0, perplexity: float | None = None, max_iter: int = 750
) -> np.ndarray:
    """2-D t-SNE of ``points`` (N, H) with a fixed seed (PCA initialisation) -> (N, 2).

    ``perplexity`` None uses :func:`tsne_perplexity`; ``max_iter`` >= 250 (scikit-learn's floor).
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = _as_2d(points, "points")
    perp = tsne_perplexity(len(x)) if perplexity is None else float(perplexity)
    model = TSNE(
        n_components=2,
        perplexity=perp,
        init="pca",
        learning_rate="auto",
        random_state=seed,
        max_iter=max(250, int(max_iter)),
    )
    with threadpool_limits(limits=1):  # small inputs: threads only add contention
        return model.fit_transform(x.astype(np.float32)).astype(np.float64)


# --------------------------------------------------------------------------------------------
# Perturbations
# --------------------------------------------------------------------------------------------


def is_word(token: str) -> bool:
    """True unless ``token`` is only punctuation."""
    return any(ch not in PUNCTUATION for ch in token)


def shuffle_words(tokens: Sequence[str], rng: np.random.Generator, tries: int = 20) -> list[str]:
    """The same tokens with the words in another order; punctuation stays in place.

    Returns the tokens unchanged when fewer than two distinct words exist.
    """
    tokens = list(tokens)
    positions = [i for i, t in enumerate(tokens) if is_word(t)]
    words = [tokens[i] for i in positions]
    if len(set(words)) < 2:
        return tokens
    for _ in range(tries):
        order = rng.permutation(len(words))
        shuffled = [words[j] for j in order]
        if shuffled != words:
            break
    out = list(tokens)
    for i, w in zip(positions, shuffled):
        out[i] = w
    return out


def change_one_word(
    tokens: Sequence[str], vocabulary: Sequence[str], rng: np.random.Generator
) -> tuple[list[str], int]:
    """Replace one randomly chosen word by a different word drawn from ``vocabulary``.

    Returns
    -------
    tokens : list of str
    position : int
        Which token changed (-1 when there is no word to change).
    """
    tokens = list(tokens)
    positions = [i for i, t in enumerate(tokens) if is_word(t)]
    if not positions:
        return tokens, -1
    pos = int(positions[rng.integers(len(positions))])
    choices = [w for w in vocabulary if w != tokens[pos]]
    if not choices:
        return tokens, -1
    tokens[pos] = choices[int(rng.integers(len(choices)))]
    return tokens, pos


def paired_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - cos(a_i, b_i)`` for each row pair of ``a`` and ``b`` (N, H) -> (N,)."""
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    if a.shape != b.shape:
        raise ShapeError(f"expected two arrays of the same shape, found {a.shape} and {b.shape}")
    num = (a * b).sum(1)
    den = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), EPS)
    return 1.0 - num / den


def mean_pairwise_distance(points: np.ndarray) -> float:
    """Mean ``1 - cos`` over all pairs of distinct rows of ``points`` (N, H), N >= 2."""
    points = _as_2d(points, "points")
    n = len(points)
    if n < 2:
        raise ShapeError(f"expected at least 2 points, found {n}")
    cos = cosine_matrix(points)
    off = cos[~np.eye(n, dtype=bool)]
    return float(np.mean(1.0 - off))


def sensitivity(original: np.ndarray, perturbed: np.ndarray, baseline: float) -> float:
    """Mean ``1 - cos`` between original and perturbed final states, divided by ``baseline``.

    ``baseline`` is :func:`mean_pairwise_distance` of the originals: 1.0 means a perturbed
    question lands as far away as an unrelated question; 0 means it does not move.
    """
    d = paired_distance(original, perturbed)
    return float(d.mean() / baseline) if baseline > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# Retrieval: rank of the true image
# --------------------------------------------------------------------------------------------


def true_image_ranks(similarity: np.ndarray, true_index: Sequence[int]) -> np.ndarray:
    """Rank (1 = most similar) of each question's own image among all images.

    Parameters
    ----------
    similarity : (M, Q) array
        Similarity of image m with question q.
    true_index : (Q,) ints
        Row of the image each question was written about.

    Returns
    -------
    (Q,) float array
        ``1 + #{better images} + #{tied images} / 2`` (ties share the average rank).
    """
    sim = np.asarray(similarity, dtype=np.float64)
    true_index = np.asarray(true_index, dtype=int)
    if sim.ndim != 2 or sim.shape[1] != len(true_index):
        raise ShapeError(f"expected similarity of shape (M, {len(true_index)}), found {sim.shape}")
    if len(true_index) and (true_index.min() < 0 or true_index.max() >= sim.shape[0]):
        raise ShapeError(f"expected true indices in [0, {sim.shape[0]}), found {true_index}")
    cols = np.arange(sim.shape[1])
    true = sim[true_index, cols]  # (Q,)
    better = (sim > true[None, :]).sum(0)
    tied = (sim == true[None, :]).sum(0) - 1
    return 1.0 + better + tied / 2.0


@dataclass(frozen=True)
class RetrievalSummary:
    """How well similarities pick the right image, against chance.

    Attributes
    ----------
    mean_rank, median_rank, top1, top5 : float
        Measured (top-k: fraction of questions whose image ranks within k).
    chance_mean_rank, chance_top1, chance_top5 : float
        Their values for random similarities: (M + 1) / 2, 1 / M, min(5, M) / M.
    p_value : float
        One-sided permutation p-value of the mean rank being this low by chance.
    n_images, n_questions : int
    """

    mean_rank: float
    median_rank: float
    top1: float
    top5: float
    chance_mean_rank: float
    chance_top1: float
    chance_top5: float
    p_value: float
    n_images: int
    n_questions: int

    @property
    def at_chance(self) -> bool:
        """True when the permutation test does not reject chance at the 5 % level."""
        return not self.p_value < 0.05


def rank_matrix(similarity: np.ndarray) -> np.ndarray:
    """Rank of every image for every question, ``(M, Q)``: 1 = most similar, ties averaged.

    ``rank_matrix(sim)[true_index, arange(Q)]`` equals :func:`true_image_ranks`; computing it
    once makes each permutation of a test O(Q) instead of O(M Q).
    """
    from scipy.stats import rankdata

    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ShapeError(f"expected similarity of shape (M, Q), found {sim.shape}")
    return rankdata(-sim, method="average", axis=0)


def retrieval_summary(
    similarity: np.ndarray,
    true_index: Sequence[int],
    rng: np.random.Generator,
    n_permutations: int = 1000,
) -> RetrievalSummary:
    """Rank statistics of the true images and a permutation test against chance.

    The null distribution shuffles which image each question belongs to (keeping how many
    questions each image has) and recomputes the mean rank.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    true_index = np.asarray(true_index, dtype=int)
    ranks = true_image_ranks(sim, true_index)
    M = sim.shape[0]
    observed = ranks.mean()
    R = rank_matrix(sim)  # (M, Q)
    cols = np.arange(sim.shape[1])
    null = np.array([R[rng.permutation(true_index), cols].mean() for _ in range(n_permutations)])
    p = (1.0 + np.sum(null <= observed + 1e-12)) / (1.0 + n_permutations)
    return RetrievalSummary(
        mean_rank=float(observed),
        median_rank=float(np.median(ranks)),
        top1=float(np.mean(ranks <= 1.0)),
        top5=float(np.mean(ranks <= 5.0)),
        chance_mean_rank=(M + 1) / 2.0,
        chance_top1=1.0 / M,
        chance_top5=min(5, M) / M,
        p_value=float(p),
        n_images=int(M),
        n_questions=len(true_index),
    )


def pooled_p_value(
    similarities: Sequence[np.ndarray],
    true_index: Sequence[int],
    rng: np.random.Generator,
    n_permutations: int = 1000,
) -> float:
    """One-sided permutation p-value of the mean rank averaged over several similarity matrices.

    Used to pool seeds: each permutation of the true images is applied to every matrix (S of
    them, each (M, Q)), and the mean rank over all of them is compared with the observed one.
    Testing the seeds together avoids reading the 5 % of seeds that pass by luck as a result.
    """
    if len(similarities) == 0:
        raise ShapeError("expected at least one similarity matrix, found none")
    true_index = np.asarray(true_index, dtype=int)
    R = np.mean([rank_matrix(s) for s in similarities], axis=0)  # (M, Q): mean rank over seeds
    cols = np.arange(R.shape[1])
    observed = R[true_index, cols].mean()
    hits = sum(
        R[rng.permutation(true_index), cols].mean() <= observed + 1e-12
        for _ in range(n_permutations)
    )
    return float((1.0 + hits) / (1.0 + n_permutations))


# --------------------------------------------------------------------------------------------
# Grounded reference: images in word space through ImageNet labels
# --------------------------------------------------------------------------------------------


def label_vectors(
    categories: Sequence[str],
    embed: Callable[[str], np.ndarray],
) -> np.ndarray:
    """One word vector per ImageNet category: the mean vector of its words -> (C, D).

    ``embed(name)`` returns the (T, D) vectors of a category name's tokens (punctuation
    excluded by the caller).
    """
    rows = []
    for name in categories:
        vecs = np.asarray(embed(name), dtype=np.float64)
        if vecs.ndim != 2 or len(vecs) == 0:
            raise ShapeError(f"expected (T >= 1, D) vectors for label {name!r}, found {vecs.shape}")
        rows.append(vecs.mean(axis=0))
    return np.stack(rows)


def images_in_word_space(probs: np.ndarray, label_vecs: np.ndarray) -> np.ndarray:
    """Each image as the probability-weighted mean of its label vectors.

    ``w_m = sum_c p(c | image m) v_c``: (M, C) @ (C, D) -> (M, D).
    """
    probs = _as_2d(probs, "probs")
    label_vecs = _as_2d(label_vecs, "label_vecs")
    if probs.shape[1] != label_vecs.shape[0]:
        raise ShapeError(
            f"expected probabilities over {label_vecs.shape[0]} labels, found {probs.shape[1]}"
        )
    return probs @ label_vecs


def centre(points: np.ndarray) -> np.ndarray:
    """``points`` minus their mean row (N, H)."""
    points = _as_2d(points, "points")
    return points - points.mean(axis=0)
