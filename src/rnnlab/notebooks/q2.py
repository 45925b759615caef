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
# with the training history in JSON. The training took minutes and comes from the run
# (`load_or_run`); the short cells between the topics redo one small piece of it live, in
# seconds. Every sentence about the results below is computed from the measured numbers
# (`rnnlab.observations.q2`); none is written by hand.

# %%
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from rnnlab.analysis.weights import spectral_radius, split_gates
from rnnlab.experiments.runner import load_or_run
from rnnlab.observations import q2 as rules
from rnnlab.report.display import show_figure, show_text
from rnnlab.results import section_dir
from rnnlab.train import checkpoints as ckpt

result = load_or_run("q2")
metrics, config = result.metrics, result.config
out_dir = section_dir("q2")
topics = {t.key: t for t in result.topics}
tables = {t.title: t for t in result.tables}
shown = []  # the figures shown so far, to check at the end that every one was


def say(sentences):
    """Show measured sentences as a bullet list."""
    display(Markdown("\n".join(f"- {s}" for s in sentences) or "*(no sentences)*"))


def show_topic(key):
    """A topic as the report shows it: its sentences, figures (in order) and tables."""
    topic = topics[key]
    display(Markdown(f"### {topic.title}"))
    say(topic.observations)
    for path in topic.figures:
        show_figure(result, path, out_dir)
        shown.append(path)
    for title in topic.tables:
        display(Markdown(f"**{title}**"))
        display(pd.DataFrame(tables[title].rows, columns=tables[title].columns))


# %% [markdown]
# ## Key findings of this run
#
# Chosen by rule from the measurements (`rnnlab.observations.q2.findings`): each task's headline,
# then results against expectation, then the largest effects; then what limits the results.

# %%
say([f"{f.text} *(topic: {topics[f.topic].title})*" for f in result.findings])
print("Limitations:", "; ".join(result.limitations) or "none")

# %% [markdown]
# ## 1. Data and baselines
#
# Live: the three models are built exactly as the run built them (same seed, same sizes). A
# recurrent layer stacks G gate blocks (RNN 1, GRU 3, LSTM 4) in `weight_ih_l0` (G*H, D) and
# `weight_hh_l0` (G*H, H), so its parameter count is G * (H*D + H*H + 2H); the counter agrees.

# %%
from rnnlab.cells import CELLS
from rnnlab.models.recurrent import RecurrentNet, count_parameters

images = metrics["images"]
H, D = images["settings"]["hidden_size"], images["inputs_per_step"]
for cell in ("rnn", "lstm", "gru"):
    torch.manual_seed(config["seed"])
    model = RecurrentNet(cell, D, H, images["n_classes"])
    G = CELLS[cell].blocks
    recurrent = sum(p.numel() for n, p in model.named_parameters() if n.startswith("rnn."))
    print(f"{CELLS[cell].label}: G={G}, G*(H*D + H*H + 2H) = {G * (H * D + H * H + 2 * H)}, "
          f"recurrent layer {recurrent}, whole model {count_parameters(model)} "
          f"(saved: {images['models'][CELLS[cell].label]['summary']['n_params']})")

# %%
show_topic("data")
show_text(result, "data")

# %% [markdown]
# ## 2. Training curves and convergence

# %%
show_topic("training")

# %% [markdown]
# ## 3. Stability
#
# Live: the loss-spike rule (`rnnlab.analysis.training.loss_spikes`) run again on the saved
# per-step losses of each image model gives the spikes the run recorded.

# %%
from rnnlab.analysis.training import loss_spikes

print("rule:", rules.spike_rule(type("C", (), config)))
for name, m in images["models"].items():
    again = loss_spikes(m["steps"]["loss"], config["spike_window"], config["spike_factor"],
                        config["spike_min_rise"])
    print(f"{name}: {len(again)} spikes recomputed, {m['summary']['loss_spikes']} saved")

# %%
show_topic("stability")

# %% [markdown]
# ## 4. Weight distributions per gate block
#
# Live: open one saved epoch. `rnnlab.train.checkpoints.load_weights` checks the SHA-256
# recorded when the file was written and that every weight is finite before returning the
# tensors; split `weight_hh_l0` into its gate blocks (LSTM: i, f, g, o) and print each block's
# standard deviation at initialisation and at the last epoch next to the saved numbers.

# %%
lstm = images["models"]["LSTM"]
folder = out_dir / lstm["checkpoints"]
last = len(lstm["curves"]["test_loss"]) - 1
blocks = {e: split_gates(ckpt.load_weights(ckpt.weights_path(folder, e))["rnn.weight_hh_l0"]
                         .numpy(), "lstm") for e in (0, last)}
for gate in blocks[0]:
    saved = lstm["weights"]["std"]["weight_hh_l0"][gate]
    print(f"{gate}: sd {blocks[0][gate].std():.4f} -> {blocks[last][gate].std():.4f} "
          f"(saved {saved[0]:.4f} -> {saved[-1]:.4f}); shape {blocks[0][gate].shape}")

# %%
show_topic("distributions")

# %% [markdown]
# ## 5. Norms, spectral radius and update sizes
#
# Live: the spectral radius of a recurrent gate block is its largest |eigenvalue|; below 1,
# repeated multiplication by the block shrinks a signal over time steps, above 1 it can grow.
# Computed here by hand with `numpy.linalg.eigvals` from the checkpoint opened above, next to
# the saved metric (and `rnnlab.analysis.weights.spectral_radius`).

# %%
for e in (0, last):
    for gate, block in blocks[e].items():
        by_hand = np.abs(np.linalg.eigvals(block.astype(np.float64))).max()
        saved = lstm["weights"]["spectral_radius"][gate][e]
        print(f"epoch {e}, LSTM {gate}: by hand {by_hand:.4f}, rnnlab "
              f"{spectral_radius(block):.4f}, saved {saved:.4f}")

# %%
show_topic("dynamics")

# %% [markdown]
# ## 6. Gate saturation on held-out inputs
#
# The gates were recomputed from each epoch's saved weights on held-out inputs. A sigmoid gate
# below 0.1 is shut, above 0.9 fully open (Karpathy, Johnson and Fei-Fei 2015); a tanh
# activation with |a| > 0.95 passes almost no gradient. Live: the rule that picks the
# saturation finding, applied to the saved numbers.

# %%
found = rules.largest_saturation_change(images)
if found:
    name, gate, kind, v0, v1 = found
    print(f"largest change on {images['label']}: {name} {gate} {kind} {v0:.3f} -> {v1:.3f} "
          f"({100 * abs(v1 - v0):.1f} points; a finding of its own from "
          f"{100 * rules.SATURATION_CHANGE:.0f} points)")

# %%
show_topic("saturation")

# %% [markdown]
# ## 7. Time-series forecasts against naive baselines
#
# Live: the persistence forecast and the models' errors recomputed from the saved test
# forecasts (`series_forecast.npz`), next to the saved mean absolute errors.

# %%
series = metrics["series"]
with np.load(out_dir / "series_forecast.npz", allow_pickle=False) as saved_forecasts:
    truth = saved_forecasts["truth"]
    for key in ["baseline_persistence", *(f"model_{n}" for n in series["models"])]:
        mae = np.abs(saved_forecasts[key] - truth).mean()
        name = key.split("_", 1)[1]
        ref = (series["baselines"]["persistence"]["mae"] if name == "persistence"
               else series["models"][name]["summary"]["test_mae_units"])
        print(f"{name}: MAE {mae:.3f} {series['unit']} (saved {ref:.3f})")

# %%
show_topic("forecasts")

# %% [markdown]
# ## 8. IMDb sentiment
#
# Run with `rnnlab run q2 --imdb-dir PATH/aclImdb`; otherwise this topic says why it was not.

# %%
show_topic("imdb")

# %% [markdown]
# ## The checkpoints
#
# Every epoch's weights are in `<out>/q2/checkpoints/<task>/<MODEL>/epoch_NNN.safetensors`, each
# with its SHA-256 beside it, plus `history.json` and the optimiser and RNG state of the last
# epoch, so `rnnlab run q2 --resume` continues an interrupted run to the same result. Read them
# with `rnnlab.train.checkpoints.load_weights`, which verifies the hash and finite values.

# %%
show_text(result, "checkpoints")
missing = [f.path for f in result.figures if f.path not in shown]
print("every figure shown in order:", shown == [f.path for f in result.figures], missing or "")
