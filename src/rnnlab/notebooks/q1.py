# %% [markdown]
# # Q1. RNN, LSTM and GRU from scratch
#
# Three recurrent cells written in plain NumPy, with backpropagation through time written by hand
# (`rnnlab.scratch`, no autograd), trained side by side on two toy tasks with the same budget
# (updates, batch size, hidden size, optimiser, learning rate, clipping) over several seeds:
#
# - **sine**: noisy sine waves of random period; at every step the model predicts the clean next value;
# - **text**: a character-level language model of real English text, with sampled text.
#
# Then we look inside the backward pass: how much of the gradient of a loss on the last step reaches
# each earlier step, ||dL/dh_t||, and how that depends on the cell, on training and on the spectral
# radius of the recurrent weights.
#
# Every number and sentence below is read from the results that `rnnlab run q1` wrote.

# %%
from rnnlab.experiments.runner import load_or_run
from rnnlab.observations.q1 import (
    TASK_TITLES,
    cost_observations,
    gradflow_observations,
    speed_observation,
)
from rnnlab.report.display import (
    show_config,
    show_figure,
    show_observations,
    show_tables,
    show_text,
)

result = load_or_run("q1")
metrics = result.metrics
source = metrics["text_source"]
print(f"text: {source['description']}")
print(f"vocabulary {source['vocab_size']} characters; seeds {metrics['seeds']}")

# %% [markdown]
# ## Loss curves
#
# The solid line is the validation loss averaged over the seeds, the shaded band the range from the
# best to the worst seed, the dashed line the training loss. The sine panel uses a log axis. The dotted
# horizontal line is the threshold used for "epochs/seconds to threshold" in the table.

# %%
show_figure(result, "loss_curves")

# %% [markdown]
# The same curves against training time. Whether the cell that needs the fewest epochs also gets there
# first in seconds depends on the cost of its step; this run's answer, computed from its numbers (a
# lead within the seed-to-seed spread is said to be one):

# %%
show_figure(result, "loss_vs_time")
for task_name, task in metrics["tasks"].items():
    print(speed_observation(TASK_TITLES[task_name], task))
    print(*cost_observations(TASK_TITLES[task_name], task, result.config[f"{task_name}_hidden"]))

# %% [markdown]
# ## The numbers behind the comparison
#
# Per task: final validation loss (mean ± standard deviation over seeds), epochs and seconds to the
# threshold, the cost of an epoch, the parameter count, and the measured factor by which the gradient
# shrinks per step back in time in the trained models.

# %%
show_tables(result)

# %% [markdown]
# ## Sampled text
#
# Samples from the first seed's models early, half-way and at the end of training (temperature 0.8),
# then at a lower and a higher temperature (a lower temperature sharpens the distribution the next
# character is drawn from).

# %%
show_text(result)

# %% [markdown]
# ## Gradient flow through time
#
# A loss is put on the **last** step only and the hand-written BPTT returns the total gradient reaching
# every hidden state. On a log axis a geometric decay is a straight line; its slope is the per-step
# factor in the legend. Dashed: freshly initialised weights; solid: after training on the text.

# %%
show_figure(result, "gradflow_init_vs_trained")

# %% [markdown]
# Vanishing and exploding on purpose: each gate block of the recurrent matrix W_hh is rescaled to a small
# spectral radius (top row) or to one above 1 (bottom row). How each cell responds, computed from the
# fitted factors (a fit with a poor R^2 is named as such, not quoted as a rate):

# %%
show_figure(result, "gradflow_vanishing_exploding")
for sentence in gradflow_observations(metrics["gradflow"]):
    if sentence.startswith("Every W_hh"):
        print(sentence)

# %% [markdown]
# The Jacobian product dh_T/dh_t is what BPTT multiplies the gradient by between step T and step t; its
# spectral norm against the lag T - t shows the same regimes without any loss involved.

# %%
show_figure(result, "jacobian_norms")

# %% [markdown]
# ## What the numbers say
#
# These sentences are generated from the measured numbers (rankings, gaps against the seed-to-seed
# spread, fitted decay factors); a gap within the spread is reported as such.

# %%
show_observations(result)

# %% [markdown]
# ## Settings of this run

# %%
show_config(result)
