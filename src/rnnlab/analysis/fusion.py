"""A training-free shared space for question embeddings and image features (pure NumPy).

The map, stated once and used everywhere (figures, report, metrics)::

    q~ = q - mean over questions      centre each modality over the set (no labels used)
    u  = P_q q~ / ||P_q q~||          P_q (K, H):   random orthonormal rows, seeded
    v~ = v - mean over images
    w  = P_v v~ / ||P_v v~||          P_v (K, 512): random orthonormal rows, seeded
    similarity(image m, question j) = cos(w_m, u_j) = w_m . u_j

with K = min(shared_dim, H, 512). Each projection keeps the geometry of its own modality
(orthonormal rows: a rotation when K equals the input size, a Johnson-Lindenstrauss-style random
subspace otherwise), and nothing is fitted to image-question pairs. Centring removes each
modality's common direction, which would otherwise dominate every cosine (ReLU image features
are all positive). So the similarities measure only whether two *independently* built geometries
happen to agree: without training, any ranking of the right image above chance would be a
coincidence of the seeds, and the permutation test in :mod:`rnnlab.analysis.geometry` says
whether it is.

The 7x7 grid of a ResNet18 feature map goes through the same image map (cell by cell, centred
with the mean grid cell), giving one similarity per image region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ShapeError

EPS = 1e-12


def random_orthonormal_rows(k: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A (k, d) matrix with orthonormal rows (k <= d), uniformly random (Haar) by QR.

    Raises
    ------
    ShapeError
        When k > d or either is not positive.
    """
    if not 1 <= k <= d:
        raise ShapeError(f"expected 1 <= k <= d for orthonormal rows, found k={k}, d={d}")
    g = rng.standard_normal((d, k))
    q, r = np.linalg.qr(g)  # q (d, k) orthonormal columns
    q *= np.sign(np.diag(r))[None, :]  # sign fix makes the distribution uniform
    return q.T  # (k, d)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


@dataclass(frozen=True)
class SharedSpace:
    """The seeded, training-free shared space (see the module docstring).

    Attributes
    ----------
    question_proj : (K, H)
    image_proj : (K, F)
    question_mean : (H,)
    image_mean : (F,)
    grid_mean : (F,) or None
        Mean grid cell, for region similarities.
    """

    question_proj: np.ndarray
    image_proj: np.ndarray
    question_mean: np.ndarray
    image_mean: np.ndarray
    grid_mean: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.question_proj.shape[0])

    def questions(self, q: np.ndarray) -> np.ndarray:
        """Question embeddings (Q, H) -> unit vectors in the shared space (Q, K)."""
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.question_proj.shape[1]:
            raise ShapeError(
                f"expected questions of shape (Q, {self.question_proj.shape[1]}), found {q.shape}"
            )
        return _normalise_rows((q - self.question_mean) @ self.question_proj.T)

    def images(self, v: np.ndarray) -> np.ndarray:
        """Image features (M, F) -> unit vectors in the shared space (M, K)."""
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != self.image_proj.shape[1]:
            raise ShapeError(
                f"expected image features of shape (M, {self.image_proj.shape[1]}), found {v.shape}"
            )
        return _normalise_rows((v - self.image_mean) @ self.image_proj.T)

    def grid(self, grid: np.ndarray) -> np.ndarray:
        """A feature grid (G1, G2, F) -> unit vectors per cell (G1, G2, K)."""
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim != 3 or grid.shape[2] != self.image_proj.shape[1]:
            raise ShapeError(
                f"expected a grid of shape (G1, G2, {self.image_proj.shape[1]}), found {grid.shape}"
            )
        mean = self.grid_mean if self.grid_mean is not None else self.image_mean
        return _normalise_rows((grid - mean) @ self.image_proj.T)


def build_shared_space(
    question_embeddings: np.ndarray,
    image_features: np.ndarray,
    dim: int,
    seed: int,
    grids: np.ndarray | None = None,
) -> SharedSpace:
    """The shared space for a set of questions (Q, H) and images (M, F).

    Parameters
    ----------
    dim : int
        Requested K; capped at min(H, F).
    seed : int
        Seed of both projections (questions first, then images).
    grids : (M, G1, G2, F), optional
        Feature grids, whose mean cell centres the region similarities.
    """
    q = np.asarray(question_embeddings, dtype=np.float64)
    v = np.asarray(image_features, dtype=np.float64)
    if q.ndim != 2 or v.ndim != 2:
        raise ShapeError(f"expected (Q, H) and (M, F) arrays, found {q.shape} and {v.shape}")
    if dim < 1:
        raise ShapeError(f"expected a positive shared dimension, found {dim}")
    k = min(dim, q.shape[1], v.shape[1])
    rng = np.random.default_rng(seed)
    question_proj = random_orthonormal_rows(k, q.shape[1], rng)
    image_proj = random_orthonormal_rows(k, v.shape[1], rng)
    grid_mean = None
    if grids is not None:
        grids = np.asarray(grids, dtype=np.float64)
        grid_mean = grids.reshape(-1, grids.shape[-1]).mean(axis=0)
    return SharedSpace(question_proj, image_proj, q.mean(axis=0), v.mean(axis=0), grid_mean)


def fusion_similarity(space: SharedSpace, images: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """Cosine similarity of every image with every question in the shared space -> (M, Q)."""
    return space.images(images) @ space.questions(questions).T  # cos(w_m, u_j)


def region_similarity(space: SharedSpace, grid: np.ndarray, question: np.ndarray) -> np.ndarray:
    """Cosine of each grid cell of one image with one question -> (G1, G2)."""
    u = space.questions(np.asarray(question, dtype=np.float64)[None, :])[0]  # (K,)
    return space.grid(grid) @ u


def mean_pairwise_cosine(features: np.ndarray, centred: bool = False) -> float:
    """Mean cosine over all pairs of distinct rows of ``features`` (M, F), M >= 2.

    With ``centred``, the mean row (the mean feature over the M images) is subtracted first:
    ``v~_m = v_m - mean_m' v_m'``. ReLU features are all positive, so raw cosines are high for
    any two images; the centred cosine says how alike the images are beyond that common part.
    """
    v = np.asarray(features, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 2:
        raise ShapeError(f"expected (M, F) features of at least 2 images, found {v.shape}")
    if centred:
        v = v - v.mean(axis=0)
    u = _normalise_rows(v)
    cos = u @ u.T  # (M, M)
    return float(cos[~np.eye(len(v), dtype=bool)].mean())


def image_dominance(similarity: np.ndarray) -> dict[str, float]:
    """How much of each question's ranking of the images the image alone decides.

    For question q, its ranking of the M images (``similarity[:, q]``) is compared with the
    ranking by the mean similarity over the *other* questions (leave-one-out, so that q does not
    agree with itself): ``a_q = mean_{j != q} similarity[:, j]``.

    Returns
    -------
    dict
        ``rank_agreement``: mean over questions of Spearman's correlation between the two
        rankings (1: every question orders the images the same way, whatever it asks; about 0:
        the question decides); ``top_image_share``: fraction of questions whose most similar
        image is the one the other questions rank first (about 1 / M when the question
        decides); ``chance_top_image_share``: 1 / M.

    Parameters
    ----------
    similarity : (M, Q) array, M >= 2 images, Q >= 2 questions
    """
    from scipy.stats import rankdata

    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] < 2 or sim.shape[1] < 2:
        raise ShapeError(f"expected (M, Q) similarities with M, Q >= 2, found {sim.shape}")
    M, Q = sim.shape
    others = (sim.sum(axis=1, keepdims=True) - sim) / (Q - 1)  # (M, Q): a_q in column q
    r_own = rankdata(-sim, axis=0)  # (M, Q)
    r_others = rankdata(-others, axis=0)  # (M, Q)
    a = r_own - r_own.mean(axis=0)
    b = r_others - r_others.mean(axis=0)
    denom = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))  # (Q,)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (a * b).sum(axis=0) / denom, np.nan)  # Spearman per question
    same_top = sim.argmax(axis=0) == others.argmax(axis=0)  # (Q,)
    return {
        "rank_agreement": float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan"),
        "top_image_share": float(same_top.mean()),
        "chance_top_image_share": 1.0 / M,
    }
