"""Q3 measurements on hand-made inputs with known answers, and observations from numbers."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.analysis import fusion as fu
from rnnlab.analysis import geometry as geo
from rnnlab.errors import ShapeError
from rnnlab.experiments import q3


def test_trajectory_measures_of_a_straight_walk():
    states = np.array([[1.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    assert geo.trajectory_length(states) == pytest.approx(3.0)
    assert geo.consecutive_cosine(states) == pytest.approx(1.0)
    assert geo.norm_growth(states) == pytest.approx(4.0)
    assert geo.trajectory_length(states[:1]) == 0.0
    assert np.isnan(geo.consecutive_cosine(states[:1]))
    turn = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert geo.consecutive_cosine(turn) == pytest.approx(0.0)
    assert geo.trajectory_length(turn) == pytest.approx(2 * np.sqrt(2))


def test_norm_profile_over_ragged_trajectories():
    mean, std, count = geo.norm_profile(
        [np.array([[3.0, 4.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])]
    )
    np.testing.assert_allclose(mean, [3.0, 1.0])
    np.testing.assert_allclose(std, [2.0, 0.0])
    np.testing.assert_array_equal(count, [2, 1])


def test_variance_explained_and_participation_ratio():
    rng = np.random.default_rng(0)
    line = np.outer(rng.standard_normal(200), [1.0, 2.0, -1.0, 0.5])  # one direction only
    assert geo.variance_explained(line, 1) == pytest.approx(1.0)
    assert geo.participation_ratio(line) == pytest.approx(1.0)
    square = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]])  # two equal directions
    assert geo.participation_ratio(square) == pytest.approx(2.0)
    assert geo.variance_explained(square, 1) == pytest.approx(0.5)
    assert geo.variance_explained(square, 2) == pytest.approx(1.0)


def test_pca_recovers_the_main_axis():
    x = np.array([[-2.0, 0.0, 0.1], [2.0, 0.0, -0.1], [0.0, 0.5, 0.0], [0.0, -0.5, 0.0]])
    res = geo.pca(x, 2)
    np.testing.assert_allclose(np.abs(res.components[0]), [1, 0, 0], atol=0.05)
    assert res.explained[0] > 0.9
    np.testing.assert_allclose(res.transform(x)[:, 0], [-2, 2, 0, 0], atol=0.05)


def test_tsne_perplexity_adapts_to_the_number_of_points():
    assert geo.tsne_perplexity(10) == pytest.approx(3.0)
    assert geo.tsne_perplexity(1000) == 30.0
    assert geo.tsne_perplexity(5) == 2.0
    with pytest.raises(ShapeError):
        geo.tsne_perplexity(3)


def test_tsne_is_seeded():
    x = np.random.default_rng(0).standard_normal((20, 5))
    np.testing.assert_allclose(geo.tsne(x, seed=1, max_iter=250), geo.tsne(x, seed=1, max_iter=250))


def test_cosine_matrix_and_paired_distance():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(geo.cosine_matrix(a), [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(geo.paired_distance(a[:2], -a[:2]), [2.0, 2.0])
    assert geo.mean_pairwise_distance(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)
    with pytest.raises(ShapeError):
        geo.cosine_matrix(np.zeros((2, 3)), np.zeros((2, 4)))


def test_sensitivity_is_relative_to_unrelated_questions():
    original = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert geo.sensitivity(original, original, baseline=1.0) == pytest.approx(0.0)
    perturbed = np.array([[0.0, 1.0], [1.0, 0.0]])  # as far as the other question
    assert geo.sensitivity(
        original, perturbed, geo.mean_pairwise_distance(original)
    ) == pytest.approx(1.0)


def test_shuffle_keeps_punctuation_and_words():
    rng = np.random.default_rng(0)
    tokens = ["what", "color", "is", "the", "cat", "?"]
    out = geo.shuffle_words(tokens, rng)
    assert out[-1] == "?" and sorted(out) == sorted(tokens) and out != tokens
    assert geo.shuffle_words(["yes", "?"], rng) == ["yes", "?"]


def test_change_one_word():
    rng = np.random.default_rng(0)
    out, pos = geo.change_one_word(["is", "it", "red", "?"], ["blue", "red"], rng)
    assert pos in (0, 1, 2) and out[3] == "?" and out[pos] in ("blue", "red")
    assert sum(a != b for a, b in zip(out, ["is", "it", "red", "?"])) == 1
    assert geo.change_one_word(["?"], ["a"], rng) == (["?"], -1)


def test_true_image_ranks_with_ties():
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.1, 0.9, 0.5]])  # (M=3, Q=3)
    np.testing.assert_allclose(geo.true_image_ranks(sim, [0, 1, 2]), [1.0, 2.0, 2.0])
    np.testing.assert_allclose(geo.true_image_ranks(sim, [1, 0, 0]), [2.0, 3.0, 2.0])
    with pytest.raises(ShapeError):
        geo.true_image_ranks(sim, [0, 1])


def test_rank_matrix_agrees_with_true_image_ranks():
    rng = np.random.default_rng(3)
    sim = rng.integers(0, 3, size=(5, 7)).astype(float)  # many ties
    truth = rng.integers(0, 5, size=7)
    R = geo.rank_matrix(sim)
    np.testing.assert_allclose(R[truth, np.arange(7)], geo.true_image_ranks(sim, truth))


def test_retrieval_summary_perfect_and_chance_levels():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 3)
    perfect = np.eye(4)[:, truth]  # each question most similar to its own image
    s = geo.retrieval_summary(perfect, truth, rng, n_permutations=200)
    assert s.mean_rank == 1.0 and s.top1 == 1.0 and not s.at_chance
    assert s.chance_mean_rank == 2.5 and s.chance_top1 == 0.25 and s.chance_top5 == 1.0
    flat = np.zeros((4, 12))  # no information: every image ties
    s = geo.retrieval_summary(flat, truth, rng, n_permutations=200)
    assert s.mean_rank == pytest.approx(2.5) and s.at_chance
    assert geo.pooled_p_value([perfect, perfect], truth, rng, 200) < 0.05
    assert geo.pooled_p_value([flat], truth, rng, 200) == 1.0


def test_grounded_word_space():
    probs = np.array([[1.0, 0.0], [0.25, 0.75]])
    labels = np.array([[1.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(geo.images_in_word_space(probs, labels), [[1, 0], [0.25, 3]])
    vecs = geo.label_vectors(["a b", "c"], lambda name: np.ones((len(name.split()), 2)))
    np.testing.assert_allclose(vecs, np.ones((2, 2)))
    with pytest.raises(ShapeError):
        geo.images_in_word_space(probs, np.zeros((3, 2)))


def test_grounded_similarity_finds_matching_words():
    table = {"cat": [1.0, 0, 0], "rocket": [0, 1.0, 0], "what": [0, 0, 1.0]}

    class Vectors:  # a 3-word GloVe stand-in
        def lookup(self, tokens):
            return np.array([table.get(t, [0.0, 0, 0]) for t in tokens])

    probs = np.array([[0.9, 0.1], [0.1, 0.9]])  # image 0 looks like a cat, image 1 a rocket
    sim = q3.grounded_similarity(
        probs, [["what", "cat", "?"], ["what", "rocket", "?"]], Vectors(), ["cat", "rocket"]
    )
    assert sim.shape == (2, 2)
    np.testing.assert_array_equal(geo.true_image_ranks(sim, [0, 1]), [1.0, 1.0])


def test_random_orthonormal_rows():
    p = fu.random_orthonormal_rows(3, 7, np.random.default_rng(0))
    np.testing.assert_allclose(p @ p.T, np.eye(3), atol=1e-12)
    with pytest.raises(ShapeError):
        fu.random_orthonormal_rows(8, 7, np.random.default_rng(0))


def test_shared_space_is_seeded_and_keeps_question_geometry():
    rng = np.random.default_rng(1)
    q, v = rng.standard_normal((6, 5)), rng.standard_normal((4, 9))
    a = fu.build_shared_space(q, v, dim=5, seed=3)
    b = fu.build_shared_space(q, v, dim=5, seed=3)
    np.testing.assert_array_equal(fu.fusion_similarity(a, v, q), fu.fusion_similarity(b, v, q))
    assert a.dim == 5
    sim = fu.fusion_similarity(a, v, q)
    assert sim.shape == (4, 6) and np.all(np.abs(sim) <= 1 + 1e-12)
    u = a.questions(q)  # K = H: a rotation of the centred questions keeps their cosines
    np.testing.assert_allclose(u @ u.T, geo.cosine_matrix(q - q.mean(0)), atol=1e-12)
    assert fu.build_shared_space(q, v, dim=64, seed=0).dim == 5  # capped at min(H, F)
    grid = rng.standard_normal((7, 7, 9))
    region = fu.region_similarity(a, grid, q[0])
    assert region.shape == (7, 7)
    with pytest.raises(ShapeError):
        a.images(np.zeros((2, 3)))
