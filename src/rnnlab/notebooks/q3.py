# %% [markdown]
# # Q3. Visual question answering by fusing a CNN and an RNN, with no training
#
# A question about an image goes through two networks that never saw each other:
#
# - the **image** through ResNet18: a 512-d pooled feature vector and a 7x7 grid of 512-d
#   features. The weights are called ImageNet weights only when the file's SHA-256 starts with
#   `f37072fd` (torchvision's published prefix); any other file is "user-supplied, not verified
#   as ImageNet", and without a file the CNN is *untrained*. Every title and sentence says which;
# - the **question** through GloVe word vectors (50-d) and an *untrained* RNN, LSTM or GRU
#   encoder (same hidden size, same seeded initialisation scheme), whose final hidden state is the
#   question embedding.
#
# Nothing is trained. Each part below starts with a short live cell that runs the package's own
# code in a second or so (encode one question, compute a cosine by hand, rebuild the shared
# space from the cached image features); then come the saved figures of `rnnlab run q3` (the
# part that took longer), then the sentences computed from its numbers
# (`rnnlab.observations.q3`). No sentence here is written by hand about the results.

# %%
import json

import numpy as np

from rnnlab.analysis import fusion as fu
from rnnlab.analysis import geometry as geo
from rnnlab.data.glove import load_glove
from rnnlab.data.text import tokenize
from rnnlab.experiments import q3
from rnnlab.experiments.runner import load_or_run
from rnnlab.models.encoders import encode, make_encoder
from rnnlab.observations import q3 as rules
from rnnlab.report.display import show_figure, show_text
from rnnlab.results import section_dir

result = load_or_run("q3")
metrics, config = result.metrics, result.config
out_dir = section_dir("q3")
saved = q3.load_saved(out_dir)  # arrays.npz and inputs.json, written by measure
topics = {t.key: t for t in result.topics}
tables = {t.title: t for t in result.tables}
cells = list(metrics["encoders"])
seed0 = metrics["seeds"][0]


def say(sentences):
    """Show measured sentences as a bullet list."""
    from IPython.display import Markdown, display

    display(Markdown("\n".join(f"- {s}" for s in sentences) or "*(no sentences)*"))


def show_topic(key):
    """A topic of the section as the report shows it: its figures, tables and sentences."""
    import pandas as pd
    from IPython.display import Markdown, display

    topic = topics[key]
    for path in topic.figures:
        show_figure(result, path, out_dir)
    for title in topic.tables:
        table = tables[title]
        display(Markdown(f"**{table.title}**"))
        display(pd.DataFrame(table.rows, columns=table.columns))
    say(topic.observations)


# %% [markdown]
# ## Key findings of this run
#
# Chosen by rule from the measurements (`rnnlab.observations.q3.findings`): the retrieval
# verdict and what the image features are, then results against expectation, then the largest
# effect. Then what limits the results.

# %%
say([f"{f.text} *(topic: {topics[f.topic].title})*" for f in result.findings])
print("Limitations:", "; ".join(result.limitations) or "none")

# %% [markdown]
# ## 1. Data and CNN weights
#
# Live: a question becomes tokens, each token a 50-d GloVe vector (a word GloVe lacks gets a
# fixed seeded vector).

# %%
questions = saved.inputs["questions"]
example = saved.inputs["examples"][0]
text = questions[example]["text"]
glove = load_glove()
tokens = tokenize(text)
vectors = glove.lookup(tokens)  # (T, 50)
print(f"{text!r} -> {tokens} -> word vectors {vectors.shape}")
print("out of GloVe's vocabulary here:", [t for t in tokens if t not in glove] or "none")
show_text(result, "data")

# %% [markdown]
# The image features are computed once and kept in `feature_cache/<key>.npz`, one file per
# image, keyed by the image's pixels, the weights, the device and the library versions; a
# re-run reads them back. What this run's cache holds:

# %%
keys = saved.inputs.get("feature_cache_keys") or []
cache_files = [out_dir / q3.FEATURE_CACHE_DIR / f"{k}.npz" for k in keys]
present = [p for p in cache_files if p.is_file()]
print(f"{len(present)} of {metrics['dataset']['n_images']} images have their features in "
      f"{out_dir / q3.FEATURE_CACHE_DIR}")
cached = []
for p in present:
    with np.load(p, allow_pickle=False) as entry:
        cached.append({name: entry[name] for name in ("pooled", "grid", "probs")})
if cached:
    print("one entry:", {name: a.shape for name, a in cached[0].items()})

# %%
show_topic("data")

# %% [markdown]
# ## 2. Hidden-state trajectories
#
# Live: the untrained LSTM encoder of this run's first seed reads the question above word by
# word. Its hidden states, projected on the two principal components fitted on the saved states
# of all questions (the basis of the PCA figure), are the path the figure draws.

# %%
cell = "LSTM" if "LSTM" in cells else cells[0]
encoder = make_encoder(cell, glove.dim, metrics["hidden_size"], seed=seed0, init=config["init"])
states = encode(encoder, [vectors]).states[0]  # (T, H)
basis = geo.pca(np.concatenate(saved.states(cell)), 2)
for word, (pc1, pc2) in zip(tokens, basis.transform(states)):
    print(f"{word:>12s}  PC1 {pc1:+.3f}  PC2 {pc2:+.3f}")
print(f"largest difference from the saved states of this question: "
      f"{np.abs(states - saved.states(cell)[example]).max():.1e}")

# %% [markdown]
# How to read the figures: the PCA plot draws each example question as a path, one point per
# word, arrows in word order. t-SNE keeps neighbourhoods rather than distances (its axes have
# no units); colour is the word position. The norm plot shows how large the state gets as
# words arrive.

# %%
show_topic("trajectories")

# %% [markdown]
# ## 3. Similarity heatmaps
#
# Live: the cosine between two question embeddings (final hidden states), by hand from the
# saved arrays, and the same number from `rnnlab.analysis.geometry`.

# %%
final = saved.arrays[f"final_{cell}"]  # (Q, H)
i, j = 0, len(final) - 1
u, v = final[i].astype(np.float64), final[j].astype(np.float64)
by_hand = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
print(f"{questions[i]['text']!r} vs {questions[j]['text']!r} ({cell}): "
      f"cos = {by_hand:.4f} by hand, {geo.cosine_matrix(final)[i, j]:.4f} by geometry")

# %% [markdown]
# How to read the heatmaps: within a question, a bright block around the diagonal means the
# state changes slowly from word to word, a sharp diagonal that each word overwrites it. Across
# questions (grouped by image), bright blocks on the diagonal would mean that questions about
# the same image look alike.

# %%
show_topic("similarity")

# %% [markdown]
# ## 4. Encoder comparison
#
# Live: shuffle the words of the question and encode it again; how far the final state moves,
# against the mean distance between two unrelated questions, is the word-order sensitivity.

# %%
shuffled = geo.shuffle_words(tokens, np.random.default_rng(0))
moved = encode(encoder, [glove.lookup(shuffled)]).final[0]
shift = 1 - geo.cosine_matrix(np.stack([states[-1], moved]))[0, 1]
unrelated = metrics["encoders"][cell]["question_distance"]["mean"]
print(f"{' '.join(shuffled)!r}: 1 - cos to the original = {shift:.3f}; between unrelated "
      f"questions ({cell}, mean over seeds): {unrelated:.3f}")

# %%
show_topic("encoders")

# %% [markdown]
# ## 5. Fusion and retrieval against chance
#
# How image features and question embeddings are brought into one space (no training):

# %%
show_text(result, "fusion map")

# %% [markdown]
# Live: rebuild the shared space of the first seed from the cached image features and the
# saved question embeddings, and compare its image-question similarities with the saved ones.

# %%
if len(cached) == len(keys) == metrics["dataset"]["n_images"]:
    pooled = np.stack([c["pooled"] for c in cached])  # (M, 512)
    grids = np.stack([c["grid"] for c in cached])  # (M, 7, 7, 512)
    space = fu.build_shared_space(final, pooled, config["shared_dim"], seed=seed0, grids=grids)
    sim = fu.fusion_similarity(space, pooled, final)  # (M, Q)
    print(f"shared space: {space.dim} dimensions; largest difference from the saved "
          f"similarities: {np.abs(sim - saved.arrays[f'sim_{cell}']).max():.1e}")
    ranks = geo.true_image_ranks(sim, saved.arrays["true_index"])
    print(f"{cell}, seed {seed0}: mean rank of the own image {ranks.mean():.2f} of {len(pooled)}")
else:
    pooled = None
    print("the feature cache of this run is incomplete (older results): nothing to rebuild")

# %% [markdown]
# How to read the figures: if fusion worked, the boxed cells (each question's own image) would
# stand out in their column of the heatmap, and the own image's bar would be the longest. The
# retrieval plot puts the mean rank of the own image against chance (dashed); a pooled
# permutation test over all seeds decides whether a rank is better than chance, and a p-value
# of 0.05 or more means "not distinguishable from chance with this many questions", not
# "random".

# %%
show_topic("fusion")
for name, r in metrics["fusion"]["encoders"].items():
    print(f"{name}: mean rank {r['mean_rank']['mean']:.2f} (chance {r['chance_mean_rank']:.2f}), "
          f"pooled permutation p = {r['pooled_p_value']:.3f}")

# %% [markdown]
# ## 6. Image dominance and centring
#
# Live: ReLU features are all positive, so two images' raw features point roughly the same
# way. The mean pairwise cosine of the cached features before and after subtracting the mean
# feature, by hand, against the saved numbers:

# %%
if pooled is not None:
    for centred in (False, True):
        x = pooled.astype(np.float64)
        x = x - x.mean(axis=0) if centred else x
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        c = unit @ unit.T
        mean_cos = c[~np.eye(len(c), dtype=bool)].mean()
        key = "feature_cosine_mean_centred" if centred else "feature_cosine_mean"
        print(f"{'after' if centred else 'before'} centring: {mean_cos:.4f} "
              f"(saved {metrics['cnn'][key]:.4f})")
dominance = metrics["fusion"].get("image_dominance")
if dominance:
    print(json.dumps({c: round(d["rank_agreement"]["mean"], 3)
                      for c, d in dominance["encoders"].items()}),
          f"rank agreement; above {rules.IMAGE_DECIDES} the image decides the ranking")

# %%
show_topic("dominance")

# %% [markdown]
# ## 7. Region similarity
#
# Live: the question against each cell of the 7x7 feature grid of its image, in the same
# shared space; then what these weights allow the map to say.

# %%
region = saved.inputs["region_examples"]
if pooled is not None and region:
    q = region[0]
    grid = grids[saved.arrays["true_index"][q]]  # (7, 7, 512)
    live = fu.region_similarity(space, grid, final[q])  # (7, 7)
    row, col = np.unravel_index(live.argmax(), live.shape)
    diff = np.abs(live - saved.arrays[f"region_{cell}"][0]).max()
    print(f"{questions[q]['text']!r} ({cell}): strongest cell row {row}, column {col}; "
          f"largest difference from the saved map {diff:.1e}")
status = rules.weights_status(metrics["cnn"])
print(f"weights status: {status}; the map shows "
      + ("where the question 'looks'" if status == "imagenet-verified"
         else "the network's spatial bias only (no verified ImageNet weights)"))

# %%
show_topic("region")
