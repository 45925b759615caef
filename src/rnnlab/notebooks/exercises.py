# %% [markdown]
# # Introductory exercises
#
# Seven short exercises before the three main questions: which architecture fits which task,
# how many parameters a recurrent layer has, a forward pass by hand, two small classifiers, a
# bidirectional LSTM sentiment model with word attribution, and RNN / LSTM / GRU / BiLSTM side by
# side. Each part starts with a short live cell that runs the package's own code in a second or
# two; then come the saved results of `rnnlab run exercises` (the part that took longer), then
# the sentences computed from those numbers (`rnnlab.observations.exercises`). The code lives in
# `rnnlab.exercises`.

# %%
import numpy as np
import torch

from rnnlab.experiments.runner import load_or_run
from rnnlab.report.display import show_figure, show_text

result = load_or_run("exercises")
topics = {t.key: t for t in result.topics}
tables = {t.title: t for t in result.tables}


def say(sentences):
    """Show measured sentences as a bullet list."""
    from IPython.display import Markdown, display

    display(Markdown("\n".join(f"- {s}" for s in sentences) or "*(no sentences)*"))


def show_topic(key, *, figures=True):
    """A topic of the section as the report shows it: its tables, figures and sentences."""
    import pandas as pd
    from IPython.display import Markdown, display

    topic = topics[key]
    for title in topic.tables:
        table = tables[title]
        display(Markdown(f"**{table.title}**"))
        display(pd.DataFrame(table.rows, columns=table.columns))
    if figures:
        for path in topic.figures:
            show_figure(result, path)
    say(topic.observations)


# %% [markdown]
# ## Key findings of this run
#
# Chosen by rule from the measurements (`rnnlab.observations.exercises.findings`): a failed check
# or goal first, then a result against expectation, then the largest effect. Then what limits
# the results.

# %%
say([f"{f.text} *(part: {topics[f.topic].title})*" for f in result.findings])
print("Limitations:", "; ".join(result.limitations) or "none")

# %% [markdown]
# ## 1. Name the architecture
#
# Sentiment analysis reads a whole sequence and gives one label (many-to-one); music generation
# starts from one token and produces a sequence (one-to-many); named-entity tagging gives one tag
# per word (many-to-many, aligned); machine translation reads a sentence and writes another of a
# different length (encoder-decoder). Live: build the five tiny PyTorch models and run them on
# dummy input; the shapes printed are what came out.

# %%
from rnnlab.exercises.architectures import demonstrate_architectures

for demo in demonstrate_architectures(seed=0):
    print(f"{demo.architecture:32s} {tuple(demo.input_shape)!s:10s} -> {tuple(demo.output_shape)}")

# %%
show_topic("architectures")

# %% [markdown]
# ## 2. Counting parameters with shared weights
#
# A recurrent layer applies the same W_xh, W_hh and b at every step, so the sequence length never
# enters the count. PyTorch stores two bias vectors per block (b_ih and b_hh); the textbook formula
# has one. Live: a small `torch.nn.RNN`, its parameters counted by PyTorch after runs on two
# lengths, against the package's counter.

# %%
from rnnlab.exercises.counting import count_parameters

D, H = result.config["count_input"], result.config["count_hidden"]
for cell, module in (("rnn", torch.nn.RNN(D, H)), ("lstm", torch.nn.LSTM(D, H)), ("gru", torch.nn.GRU(D, H))):
    with torch.no_grad():
        for T in (1, 10):
            module(torch.zeros(T, 1, D))  # (T, N, D): the length changes nothing stored
    torch_count = sum(p.numel() for p in module.parameters())
    ours = count_parameters(cell, D, H)
    print(f"{cell.upper():4s} PyTorch {torch_count:4d} | counter {ours.total:4d} = {ours.formula} | "
          f"one bias vector: {count_parameters(cell, D, H, biases=1).total}")

# %%
show_text(result, "2. parameter counting")
show_topic("counting")

# %% [markdown]
# ## 3. A forward pass by hand
#
# h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) on the exercise's numbers. Live: once with a plain Python
# loop (what you would write on paper) and once with the NumPy engine `rnnlab.scratch.RNN`. The
# engine has PyTorch's two biases, so b goes into `bias_ih_l0` and `bias_hh_l0` is zero.
# `rnnlab exercises forward-pass` prints the same in a terminal.

# %%
from rnnlab.exercises.forward_pass import EXERCISE, forward_engine, forward_loop

loop = forward_loop(EXERCISE)
engine = forward_engine(EXERCISE)  # (T, H)
for t, (a, h, h_eng) in enumerate(zip(loop.pre_activations, loop.hidden_states, engine), start=1):
    print(f"t = {t}: a_t = {np.round(a, 6)}  h_t (loop) = {np.round(h, 8)}  h_t (engine) = {np.round(h_eng, 8)}")
print("largest loop/engine difference:", np.max(np.abs(np.array(loop.hidden_states) - engine)))

# %%
show_text(result, "3. manual forward pass")
show_topic("forward_pass")

# %% [markdown]
# ## 4. A many-to-one RNN in NumPy, trained by hand-written BPTT
#
# Four sequences of three 2-D points, labels 1, 0, 1, 0. The RNN reads each sequence, a linear
# readout of the last hidden state gives two scores, and softmax + argmax the class. The gradient
# comes from the engine's own backward pass through time, no autograd. Live: the same training
# with the run's settings (it takes well under a second).

# %%
from rnnlab.exercises.toy_classifier import train_toy_classifier

cfg = result.config
_, toy = train_toy_classifier(hidden_size=cfg["toy_hidden"], epochs=cfg["toy_epochs"], lr=cfg["toy_lr"],
                              seed=cfg["seed"])
print("P(class 1) before:", np.round(toy.probs_before[:, 1], 3), "accuracy", toy.accuracy_before)
print("P(class 1) after: ", np.round(toy.probs_after[:, 1], 3), "accuracy", toy.accuracy_after)
print("same as the saved run:", np.allclose(toy.probs_after[:, 1], result.metrics["toy"]["prob_after"]))

# %%
show_text(result, "4. toy classifier: predictions before and after training")
show_topic("toy")

# %% [markdown]
# ## 5. Increasing or decreasing?
#
# A PyTorch RNN reads four numbers in [0, 1) and says whether they were sorted up or down. It is
# trained on length 4 only; the right panel of the figure also tests it on lengths it never saw.
# A model that learnt the rule "each value is larger than the last" would stay accurate there.
# Live: what the data looks like, at the training length and at a longer one.

# %%
from rnnlab.exercises.monotonic import make_monotonic_data

rng = np.random.default_rng(0)
for T in (result.metrics["monotonic"]["train_length"], max(result.metrics["monotonic"]["lengths"])):
    x, y = make_monotonic_data(4, T, rng)
    for seq, label in zip(x[..., 0], y):
        print(f"T = {T:2d} {'increasing' if label else 'decreasing'}: {np.round(seq, 2)}")

# %%
show_topic("monotonic")

# %% [markdown]
# ## 6. A bidirectional LSTM for sentiment
#
# Two stacked bidirectional LSTM layers over GloVe word vectors, trained on the labelled review
# sentences that ship with rnnlab (or IMDb with `--imdb-dir`). The held-out accuracy is compared
# with chance and with a model that ignores word order (logistic regression on the average word
# vector).

# %%
show_text(result, "6. sentiment data")
show_topic("sentiment")

# %% [markdown]
# ## 6b. Which words matter
#
# Two attributions of the score s = z_pos - z_neg to the words. Gradient x input multiplies each
# word vector by the gradient at that point: a_t = sum_k (ds/de_tk) e_tk. Integrated gradients
# averages the gradient along the straight path from a baseline x' (all-zero embeddings) to the
# text: IG_t = sum_k (e_tk - x'_tk) * mean of ds/de_tk on the path. Completeness: the IG scores sum
# to s(x) - s(x'); gradient x input does so only when s is linear.
#
# Live: both methods (the package's own functions) on a tiny nonlinear score of three 2-D
# "word vectors", s(x) = sum_t tanh(w . x_t + c) + 0.5 (v . x_1)(v . x_3), each sum printed
# against s(x) - s(x').

# %%
from rnnlab.exercises.sentiment import gradient_x_input, integrated_gradients
from rnnlab.experiments.exercises import completeness_error

w = torch.tensor([1.5, -0.7], dtype=torch.float64)
v = torch.tensor([0.8, 0.6], dtype=torch.float64)
c = 0.3


def batch_score(x):  # (K, T, 2) -> (K,)
    return torch.tanh(x @ w + c).sum(dim=-1) + 0.5 * (x[:, 0] @ v) * (x[:, 2] @ v)


words = torch.tensor([[1.0, 0.5], [-0.8, 1.2], [0.6, -1.0]], dtype=torch.float64)  # (T, 2)
gxi = gradient_x_input(lambda x: batch_score(x[None])[0], words)
ig = integrated_gradients(batch_score, words, steps=64)
difference = ig.score - ig.baseline_score
print(f"s(x) = {ig.score:+.6f}, s(x') = {ig.baseline_score:+.6f}, s(x) - s(x') = {difference:+.6f}")
for name, scores in (("gradient x input", gxi), ("integrated gradients", ig.scores)):
    total = scores.sum().item()
    print(f"{name:20s}: {np.round(scores.numpy(), 4)}  sum {total:+.6f}, off by "
          f"{100 * completeness_error(total, difference):.3g}% of s(x) - s(x')")

# %% [markdown]
# The same two methods on held-out texts of the trained BiLSTM (upper row of each text: gradient
# x input; lower row: integrated gradients), the table of their sums against s(x) - s(x'), and
# the sentences.

# %%
show_topic("attribution")

# %% [markdown]
# ## 7. RNN, LSTM, GRU and BiLSTM side by side
#
# Same input and hidden sizes for all four. Parameters and multiply-adds follow from the number of
# weight blocks G; the time per step was measured during the run.

# %%
show_topic("cost")

# %% [markdown]
# ## 7b. The vanishing gradient
#
# How much of the gradient of a summary read after the last step reaches each input x_t. Live: an
# untrained `torch.nn.RNN` and `torch.nn.LSTM` (PyTorch's default initialisation) on one random
# sequence, s a fixed random readout of h_T, and the ratio of the weakest ||ds/dx_t|| to the
# strongest. The saved run averages this over seeds and lengths (figure below).

# %%
gen = torch.Generator().manual_seed(0)
Dc, Hc, T = result.metrics["comparison"]["input_size"], result.metrics["comparison"]["hidden_size"], 50
x = torch.randn(1, T, Dc, generator=gen, dtype=torch.float64)
readout = torch.randn(Hc, generator=gen, dtype=torch.float64)
for name, cls in (("RNN", torch.nn.RNN), ("LSTM", torch.nn.LSTM)):
    torch.manual_seed(0)
    layer = cls(Dc, Hc, batch_first=True).double()
    xs = x.clone().requires_grad_(True)
    out, _ = layer(xs)
    (grad,) = torch.autograd.grad(out[0, -1] @ readout, xs)
    norms = grad[0].norm(dim=-1)  # (T,) ||ds/dx_t||
    print(f"{name:4s} T = {T}: ||ds/dx_1|| = {norms[0]:.1e}, ||ds/dx_T|| = {norms[-1]:.1e}, "
          f"weakest/strongest = {(norms.min() / norms.max()).item():.1e}")

# %%
show_topic("gradient")

# %% [markdown]
# ## Settings of this run

# %%
from rnnlab.report.display import show_config

show_config(result)
print("seconds per part:", result.metrics["timings_s"])
