# %% [markdown]
# # Introductory exercises
#
# Seven short exercises before the three main questions: which architecture fits which task,
# how many parameters a recurrent layer has, a forward pass by hand, two small classifiers, a
# bidirectional LSTM sentiment model with word attribution, and RNN / LSTM / GRU / BiLSTM side by
# side. Every number below was computed by `rnnlab run exercises` (or by this notebook when no
# saved run matches); the code lives in `rnnlab.exercises`.

# %%
from rnnlab.experiments.runner import load_or_run
from rnnlab.observations.exercises import (
    comparison_observations,
    counting_observations,
    forward_pass_observations,
    monotonic_observations,
    sentiment_observations,
    toy_observations,
)
from rnnlab.report.display import show_figure, show_text

result = load_or_run("exercises")
tables = {t.title.split(".")[0]: t for t in result.tables}


def show_table(number):
    """Show table ``number`` (the part it belongs to) as a DataFrame."""
    import pandas as pd
    from IPython.display import Markdown, display

    table = tables[str(number)]
    display(Markdown(f"**{table.title}**"))
    display(pd.DataFrame(table.rows, columns=table.columns))


def say(sentences):
    """Show measured sentences as a bullet list."""
    from IPython.display import Markdown, display

    display(Markdown("\n".join(f"- {s}" for s in sentences)))


# %% [markdown]
# ## 1. Name the architecture
#
# Sentiment analysis reads a whole sequence and gives one label (many-to-one); music generation
# starts from one token and produces a sequence (one-to-many); named-entity tagging gives one tag
# per word (many-to-many, aligned); machine translation reads a sentence and writes another of a
# different length (encoder-decoder). Each pattern below was built as a tiny PyTorch model and run
# on dummy input: the output shapes in the table are what came out, not what was expected.

# %%
show_table(1)
show_figure(result, "architectures")

# %% [markdown]
# ## 2. Counting parameters with shared weights
#
# A recurrent layer applies the same W_xh, W_hh and b at every step, so the sequence length never
# enters the count. PyTorch stores two bias vectors per block (b_ih and b_hh); the textbook formula
# has one. The table checks the general counter against PyTorch's own count.

# %%
from rnnlab.exercises.counting import count_parameters, torch_parameter_count

print(count_parameters("lstm", 4, 3).formula, "| PyTorch:", torch_parameter_count("lstm", 4, 3))

# %%
show_text(result, "2. parameter counting")
show_table(2)
say(counting_observations(result.metrics["counting"]))

# %% [markdown]
# ## 3. A forward pass by hand
#
# h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) on the exercise's numbers, once with a plain Python loop
# (what you would write on paper) and once with the NumPy engine `rnnlab.scratch.RNN`. The engine
# has PyTorch's two biases, so b goes into `bias_ih` and `bias_hh` is zero.
# `rnnlab exercises forward-pass` prints the same in a terminal.

# %%
show_text(result, "3. manual forward pass")
say(forward_pass_observations(result.metrics["forward_pass"]))

# %% [markdown]
# ## 4. A many-to-one RNN in NumPy, trained by hand-written BPTT
#
# Four sequences of three 2-D points, labels 1, 0, 1, 0. The RNN reads each sequence, a linear
# readout of the last hidden state gives two scores, and softmax + argmax the class. The gradient
# comes from the engine's own backward pass through time, no autograd. The table and the figure
# show the loss per update and P(class 1) of each sequence before and after training.

# %%
show_text(result, "4. toy classifier: predictions before and after training")
show_figure(result, "toy_classifier")
say(toy_observations(result.metrics["toy"]))

# %% [markdown]
# ## 5. Increasing or decreasing?
#
# A PyTorch RNN reads four numbers in [0, 1) and says whether they were sorted up or down. It is
# trained on length 4 only; the right panel also tests it on lengths it never saw. A model that
# learnt the rule "each value is larger than the last" would stay accurate; look at the dots
# (one per seed) to see whether it did.

# %%
show_figure(result, "increasing_decreasing")
say(monotonic_observations(result.metrics["monotonic"]))

# %% [markdown]
# ## 6. A bidirectional LSTM for sentiment, and which words matter
#
# Two stacked bidirectional LSTM layers over GloVe word vectors, trained on the labelled review
# sentences that ship with rnnlab (or IMDb with `--imdb-dir`). The held-out accuracy is compared
# with chance and with a model that ignores word order (logistic regression on the average word
# vector). The coloured sentences show gradient x input: how much each word's vector pushed the
# score towards positive (blue) or negative (red). For a linear model the word scores add up
# exactly to the score; the last sentence below measures how far they are from adding up here.

# %%
show_text(result, "6. sentiment data")
show_table(6)
show_figure(result, "sentiment")
show_figure(result, "word_importance")
say(sentiment_observations(result.metrics["sentiment"]))

# %% [markdown]
# ## 7. RNN, LSTM, GRU and BiLSTM side by side
#
# Same input and hidden sizes for all four. Parameters and multiply-adds follow from the number of
# weight blocks; the time per step was measured on this machine. The last columns and the figure
# show the vanishing gradient: how much of the gradient of a summary read after the last step
# reaches the weakest input, for each sequence length in the table (note the log scale). The
# dashed line is an LSTM whose forget gate starts open.

# %%
show_table(7)
show_figure(result, "vanishing_gradient")
say(comparison_observations(result.metrics["comparison"]))

# %% [markdown]
# ## Settings of this run

# %%
from rnnlab.report.display import show_config

show_config(result)
print("seconds per part:", result.metrics["timings_s"])
