# %% [markdown]
# # Q2. RNN, LSTM and GRU on real data: watching the weights
#
# Three PyTorch models that differ only in their recurrent cell (vanilla RNN, LSTM, GRU) are
# trained with the same hidden size, optimiser (Adam), learning-rate schedule (cosine), gradient
# clipping and seed on real data:
#
# - **Sequential MNIST**: each 28 x 28 digit is read one row of pixels per time step (28 steps of
#   28 inputs) and classified from the last hidden state;
# - **a time series**: by default tomorrow's maximum temperature in Seattle from a window of past
#   days, compared with two naive forecasts (persistence: tomorrow = today; the seasonal mean);
# - **IMDb reviews** when an `aclImdb/` folder was given with `--imdb-dir`.
#
# After every epoch (and before training, "epoch 0") the weights were saved as safetensors files
# with the training history in JSON. Everything below is computed from those files: how the weight
# distributions drift, how the norms and spectral radii of the recurrent matrices change, how large
# each epoch's update is, and how often the gates saturate on held-out inputs.

# %%
import pandas as pd

from rnnlab.experiments.runner import load_or_run
from rnnlab.report.display import show_figure, show_observations, show_text

result = load_or_run("q2")
metrics = result.metrics
tables = {t.title: pd.DataFrame(t.rows, columns=t.columns) for t in result.tables}
show_text(result, "data")


def show_table(prefix: str, needle: str) -> None:
    """Display the tables whose title starts with ``prefix`` and contains ``needle``."""
    for title, frame in tables.items():
        if title.startswith(prefix) and needle in title:
            print(title)
            display(frame)  # noqa: F821 (IPython's display)


images = metrics["images"]["label"]
series = metrics["series"]["label"]

# %% [markdown]
# ## Sequential MNIST: does it learn, and how fast?
#
# Top left: loss on the training set (dashed) and the test set (solid) per epoch, epoch 0 being the
# untrained model. Top right: accuracy. Bottom: the gradient norm before clipping (mean and maximum
# per epoch, the dotted line is the clipping threshold) and the share of steps where clipping acted.
# A test loss that turns upward while the training loss keeps falling is overfitting; the
# sentences at the end say whether that happened in this run.

# %%
show_figure(result, "images_training")
show_table(images, "results")

# %% [markdown]
# Every optimiser step: the loss and the gradient norm before clipping. Crosses mark loss spikes.
# How often clipping acted and how many spikes each model had in this run:

# %%
show_figure(result, "images_steps")
for name, m in metrics["images"]["models"].items():
    s = m["summary"]
    print(
        f"{name}: clipped {100 * s['clipped_steps'] / max(s['total_steps'], 1):.1f}% of "
        f"{s['total_steps']} steps, {s['loss_spikes']} loss spikes, largest gradient norm "
        f"{s['max_grad_norm']:.2f}"
    )

# %% [markdown]
# ## How the weight distributions evolve
#
# The recurrent matrix W_hh (and the input matrix W_ih) of an LSTM stacks four blocks, one per gate
# (input i, forget f, cell candidate g, output o); a GRU stacks three (reset r, update z, new n).
# Each block gets its own curve. PyTorch initialises every weight uniformly in
# [-1/sqrt(H), 1/sqrt(H)], so epoch 0 is a flat box; watch which blocks spread out and grow tails.

# %%
show_figure(result, "images_histograms")

# %% [markdown]
# The same distributions as smooth densities, one curve per epoch (dark = early, yellow = late),
# one panel per gate block.

# %%
show_figure(result, "images_kde_hh")
show_figure(result, "images_kde_ih")

# %% [markdown]
# A ridgeline stacks the densities of all weights of a matrix from epoch 0 (bottom) upwards, so the
# drift of the whole distribution is visible at a glance.

# %%
show_figure(result, "images_ridgeline")

# %% [markdown]
# ## Norms, spectral radius and update sizes
#
# The Frobenius norm measures the overall size of a gate block. The spectral radius (largest
# |eigenvalue|) of a recurrent block governs whether repeated multiplication by it shrinks (< 1) or
# grows (> 1) a signal over time steps; for the vanilla RNN it is directly tied to vanishing and
# exploding gradients. The relative update ||W_e - W_(e-1)|| / ||W_(e-1)|| shows how much each
# epoch changes the weights; the learning rate decays along a cosine, and the printout below says
# whether the updates shrank with it in this run.

# %%
show_figure(result, "images_norms")
show_figure(result, "images_spectral_radius")
show_figure(result, "images_updates")
show_table(images, "last epoch")
for name, m in metrics["images"]["models"].items():
    upd = m["weights"]["relative_update_all"]
    if len(upd) > 2:
        trend = "shrank" if upd[-1] < upd[1] else "did not shrink"
        print(f"{name}: relative update {upd[1]:.3f} (epoch 1) -> {upd[-1]:.4f} (last): {trend}")

# %% [markdown]
# ## Saturation on held-out digits
#
# The gates were recomputed from each epoch's saved weights on held-out test digits (not from the
# training batches). A sigmoid gate activation below 0.1 is "left-saturated" (the gate is shut),
# above 0.9 "right-saturated" (fully open), as measured by Karpathy, Johnson and Fei-Fei (2015).
# For the vanilla RNN (and the tanh candidates of LSTM and GRU) we count |tanh| > 0.95: units
# pinned near +-1 pass almost no gradient.

# %%
show_figure(result, "images_saturation")
show_figure(result, "images_unit_saturation")

# %% [markdown]
# ## The time series
#
# By default the next day's maximum temperature in Seattle; the error is in the series' own unit
# on the test period, which the models never saw: training windows end before it and the inputs
# are standardised with training-period statistics only. Two naive forecasts set the bar:
# persistence (the last value carried forward) and a seasonal (or window) mean; which is the
# harder one on this series is printed below.

# %%
show_figure(result, "series_forecast")
show_figure(result, "series_errors")
show_table(series, "test error")
task = metrics["series"]
base, unit = task["baselines"], task["unit"]
pers, seas = base["persistence"]["mae"], base["seasonal"]["mae"]
harder = "persistence" if pers < seas else task["seasonal_name"]
print(
    f"test MAE: persistence {pers:.2f} {unit}, {task['seasonal_name']} {seas:.2f} {unit}; "
    f"the harder baseline here is {harder}"
)

# %%
show_figure(result, "series_training")
show_figure(result, "series_histograms")
show_figure(result, "series_ridgeline")
show_figure(result, "series_spectral_radius")
show_figure(result, "series_updates")
show_figure(result, "series_saturation")

# %% [markdown]
# ## IMDb
#
# Shown when the run had an `aclImdb/` folder (`rnnlab run q2 --imdb-dir PATH/aclImdb`).

# %%
if "models" in metrics.get("imdb", {}):
    for stem in ("training", "histograms", "spectral_radius", "saturation"):
        show_figure(result, f"imdb_{stem}")
    show_table(metrics["imdb"]["label"], "results")
else:
    print("IMDb not run:", metrics["imdb"]["skipped"])

# %% [markdown]
# ## What the numbers say
#
# These sentences are generated from the measured numbers above (convergence, stability, drift,
# spectral radius, saturation, baselines); rerun with another seed or profile and they change.

# %%
show_observations(result)

# %% [markdown]
# ## The checkpoints
#
# Every epoch's weights are in `results/q2/checkpoints/<task>/<MODEL>/epoch_NNN.safetensors`, with
# `history.json` (settings and per-epoch records) and the optimiser and RNG state of the last epoch,
# so `rnnlab run q2 --resume` continues an interrupted run to the same result.
# `safetensors.torch.load_file(path)` reads a file back without unpickling anything.

# %%
show_text(result, "checkpoints")
