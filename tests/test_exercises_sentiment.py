"""Sentiment data, tokenizer, attribution and a tiny BiLSTM run (exercise 6)."""

import numpy as np
import pytest
import torch

from rnnlab.errors import DataError
from rnnlab.exercises import sentiment as S


def test_shipped_sentences_are_many_balanced_and_split():
    data = S.load_shipped_sentences()
    everything = data.train + data.test
    assert len(everything) >= 200
    texts = [e.text for e in everything]
    assert len(set(texts)) == len(texts)
    for split in (data.train, data.test):
        labels = [e.label for e in split]
        assert labels.count(0) == labels.count(1)
    assert len(data.test) == 52
    assert sum("negation" in e.tags for e in everything) >= 30
    assert sum("contrast" in e.tags for e in everything) >= 20
    assert len({e.domain for e in everything}) >= 5


def test_split_is_fixed_in_the_file():
    first = S.load_shipped_sentences()
    second = S.load_shipped_sentences()
    assert [e.text for e in first.test] == [e.text for e in second.test]


def test_bad_csv_is_one_clear_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,label,split,text\n0,great,train,Hello.\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected label 'positive' or 'negative' on line 2"):
        S.read_sentences_csv(path)
    path.write_text("id,text\n0,Hello.\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected columns"):
        S.read_sentences_csv(path)


@pytest.mark.parametrize("text,tokens", [
    ("I didn't like it.", ["i", "did", "n't", "like", "it"]),
    ("Can't fault it<br />Really!", ["ca", "n't", "fault", "it", "really"]),
    ("A one-sided, dull film", ["a", "one", "sided", "dull", "film"]),
    ("It's the cast’s best", ["it", "'s", "the", "cast", "'s", "best"]),
])
def test_tokenize_like_glove(text, tokens):
    assert S.tokenize(text) == tokens


def test_glove_lookup_finds_common_words():
    vectors, found = S.glove_lookup(["good", "n't", "zzzqqqxx"])
    assert found.tolist() == [True, True, False]
    assert vectors.shape == (3, 50) and np.isfinite(vectors).all()
    again, _ = S.glove_lookup(["zzzqqqxx"])
    np.testing.assert_array_equal(again[0], vectors[2])  # a fixed vector for an unknown word


def test_gradient_x_input_on_a_linear_model_equals_each_contribution():
    g = torch.Generator().manual_seed(0)
    E = torch.randn(7, 5, generator=g, dtype=torch.float64)  # 7 words, 5-d vectors
    w = torch.randn(5, generator=g, dtype=torch.float64)
    b = 0.3

    def score(x):  # s = sum_t w.x_t + b
        return (x @ w).sum() + b

    a = S.gradient_x_input(score, E)
    torch.testing.assert_close(a, E @ w)  # a_t = w.e_t, each word's contribution
    assert float(a.sum()) == pytest.approx(float(score(E)) - b)  # completeness for a linear model


def test_gradient_x_input_rejects_non_scalar_scores():
    with pytest.raises(Exception, match="expected score_fn to return a scalar"):
        S.gradient_x_input(lambda x: x.sum(dim=1), torch.ones(3, 2))


def test_integrated_gradients_on_a_linear_model_is_exact():
    g = torch.Generator().manual_seed(1)
    E = torch.randn(6, 4, generator=g, dtype=torch.float64)
    base = torch.randn(6, 4, generator=g, dtype=torch.float64)
    w = torch.randn(4, generator=g, dtype=torch.float64)

    def score(x):  # (K, T, E) -> (K,): s = sum_t w.x_t + 0.5
        return (x @ w).sum(dim=1) + 0.5

    ig = S.integrated_gradients(score, E, base, steps=3)
    torch.testing.assert_close(ig.scores, (E - base) @ w)  # IG_t = w.(x_t - x'_t)
    assert ig.score == pytest.approx(float(score(E[None])[0]))
    assert ig.baseline_score == pytest.approx(float(score(base[None])[0]))


def test_integrated_gradients_add_up_on_a_nonlinear_score_and_gradient_x_input_does_not():
    g = torch.Generator().manual_seed(2)
    E = torch.randn(5, 3, generator=g, dtype=torch.float64)
    W = torch.randn(3, 3, generator=g, dtype=torch.float64)

    def score(x):  # (K, T, E) -> (K,), s = sum_t sum_j tanh((x_t W)_j)^2: nonlinear, s(0) = 0
        return torch.tanh(x @ W).pow(2).sum(dim=(1, 2))

    ig = S.integrated_gradients(score, E, steps=64)
    assert ig.baseline_score == 0.0
    assert abs(float(ig.scores.sum()) - ig.score) < 1e-3 * abs(ig.score)
    gxi = S.gradient_x_input(lambda x: score(x[None])[0], E)
    assert abs(float(gxi.sum()) - ig.score) > 0.05 * abs(ig.score)
    coarse = S.integrated_gradients(score, E, steps=2)
    assert abs(float(coarse.scores.sum()) - ig.score) > abs(float(ig.scores.sum()) - ig.score)


def test_integrated_gradients_rejects_bad_shapes():
    with pytest.raises(Exception, match="expected inputs of shape"):
        S.integrated_gradients(lambda x: x.sum(dim=(1, 2)), torch.ones(2, 3, 4))
    with pytest.raises(Exception, match="expected a baseline of shape"):
        S.integrated_gradients(lambda x: x.sum(dim=(1, 2)), torch.ones(3, 2), torch.zeros(2, 2))
    with pytest.raises(Exception, match="expected batch_score_fn to return shape"):
        S.integrated_gradients(lambda x: x.sum(), torch.ones(3, 2))


def test_tiny_training_run_and_attribution():
    data = S.load_shipped_sentences()
    small = S.SentimentData(data.train[::8], data.test[::4], data.source, "subset")
    examples = S.pick_attribution_examples(small.test, 3)
    r = S.train_sentiment(small, hidden_size=4, epochs=2, batch_size=8, attribution_examples=examples, seed=0)
    assert 0.0 <= r.test_accuracy <= 1.0
    assert np.sum(r.confusion) == len(small.test)
    assert len(r.history["loss"]) == 2
    assert len(r.attributions) == 3
    for a, e in zip(r.attributions, examples):
        assert a.tokens == S.tokenize(e.text)
        assert len(a.scores) == len(a.tokens)
        assert 0.0 <= a.prob_positive <= 1.0
        assert len(a.ig_scores) == len(a.tokens) and a.ig_steps == S.IG_STEPS
        assert a.score_float64 == pytest.approx(a.score, abs=1e-5)  # the float64 copy is the same model
        difference = a.score_float64 - a.baseline_score
        assert abs(sum(a.ig_scores) - difference) <= 0.01 * abs(difference) + 1e-6  # completeness
    assert r.num_trainable < r.num_parameters  # GloVe rows frozen


def test_pick_attribution_examples_varies_kind_and_label():
    data = S.load_shipped_sentences()
    chosen = S.pick_attribution_examples(data.test, 6)
    assert len(chosen) == 6
    assert {e.label for e in chosen} == {0, 1}
    assert any("negation" in e.tags for e in chosen) and any("contrast" in e.tags for e in chosen)


def _fake_imdb(root):
    for split in ("train", "test"):
        for folder, words in (("pos", "a wonderful film"), ("neg", "a terrible film")):
            d = root / "aclImdb" / split / folder
            d.mkdir(parents=True)
            for i in range(3):
                (d / f"{i}_{7 if folder == 'pos' else 2}.txt").write_text(f"{words} {i}<br />", encoding="utf-8")
    return root


def test_imdb_reader_on_official_layout(tmp_path):
    root = _fake_imdb(tmp_path)
    assert S.find_imdb_dir(root) == root / "aclImdb"
    data = S.load_imdb(root, None)
    assert len(data.train) == len(data.test) == 6
    assert sorted(e.label for e in data.train) == [0, 0, 0, 1, 1, 1]
    assert all(("wonderful" in e.text) == (e.label == 1) for e in data.train)
    sub = S.load_imdb(root, 4)
    assert [e.label for e in sub.test].count(1) == 2


def test_imdb_missing_folder_is_one_line(tmp_path):
    with pytest.raises(DataError, match="expected the official aclImdb layout"):
        S.find_imdb_dir(tmp_path)
