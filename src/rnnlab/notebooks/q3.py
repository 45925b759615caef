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
# Nothing is trained. We look at what the untrained encoders do to a sentence (their
# hidden-state dynamics), then fuse the two modalities in a shared space built by a seeded,
# training-free map and measure whether a question picks out its own image better than chance.
#
# Every number and sentence below is read from the results that `rnnlab run q3` wrote.

# %%
from rnnlab.experiments.runner import load_or_run
from rnnlab.report.display import show_figure, show_observations, show_tables, show_text

result = load_or_run("q3")
metrics = result.metrics
show_text(result, "data")
print("weights status:", metrics["cnn"]["weights_status"])

# %% [markdown]
# ## The data
#
# The default run uses the small set that ships with rnnlab: real photographs bundled with
# scikit-image, with questions and answers written in the VQA v2 format. `--vqa-dir` and
# `--cocoqa-dir` read the official VQA v2 and COCO-QA files instead. With weights from a file,
# the classifier's top label under each image is a quick sanity check of the CNN.

# %%
show_figure(result, "images")

# %% [markdown]
# ## Hidden-state dynamics
#
# Each question is a path through the encoder's hidden space, one point per word. The PCA plot
# uses one basis per encoder, fitted on the states of all questions; arrows follow word order.
# Look at how far each word moves the state and whether the path wanders or settles.

# %%
show_figure(result, "pca_trajectories")

# %% [markdown]
# t-SNE keeps neighbourhoods rather than distances (its axes have no units). Colour is the word
# position: clusters of one colour would mean the state mostly encodes *where* in the question
# we are. Questions that start with the same words share their first states exactly (the
# encoders are deterministic), whatever the figure shows.

# %%
show_figure(result, "tsne")

# %% [markdown]
# Within one question: how similar is the state after word s to the state after word t? A
# bright band along the diagonal means the state changes slowly (it remembers); a sharp diagonal
# means each word overwrites the state.

# %%
show_figure(result, "word_similarity")

# %% [markdown]
# Across questions: the final states (question embeddings), grouped by the image each question
# is about. Bright blocks on the diagonal would mean questions about the same image look alike.

# %%
show_figure(result, "question_similarity")

# %% [markdown]
# How large the state gets as words arrive:

# %%
show_figure(result, "norm_growth")

# %% [markdown]
# ## The numbers behind the encoder comparison
#
# Each measure is the mean and standard deviation over several initialisation seeds; a
# difference counts only when it is larger than that spread. Word-order and one-word-change
# sensitivity are scaled by the distance between two unrelated questions (1 = as far as an
# unrelated question).

# %%
show_figure(result, "encoder_metrics")
show_tables(result)

# %% [markdown]
# ## Fusion in a shared space
#
# How image features and question embeddings are brought into one space (no training):

# %%
show_text(result, "fusion map")

# %% [markdown]
# Cosine similarity of every image with every question. If fusion worked, the boxed cells (each
# question's own image) would stand out in their column; whether they do is measured below.

# %%
show_figure(result, "fusion_heatmap")

# %%
show_figure(result, "fusion_bars")

# %% [markdown]
# The same question against the 7x7 grid of image regions:

# %%
show_figure(result, "region_similarity")

# %% [markdown]
# The rank of each question's own image among all images, against chance (dashed line). A
# permutation test over all seeds says whether a rank is better than chance; a p-value above
# 0.05 means "not distinguishable from chance with this many questions", not "random".

# %%
show_figure(result, "retrieval")
if metrics.get("grounded"):
    show_figure(result, "grounded_heatmap")
for cell, r in metrics["fusion"]["encoders"].items():
    print(f"{cell}: mean rank {r['mean_rank']['mean']:.2f} (chance {r['chance_mean_rank']:.2f}), "
          f"pooled permutation p = {r['pooled_p_value']:.3f}")

# %% [markdown]
# ## What the numbers say
#
# These sentences are computed from the measured numbers above.

# %%
show_observations(result)
