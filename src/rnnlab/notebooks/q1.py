# %% [markdown]
# # Q1. RNN, LSTM and GRU from scratch
#
# Three recurrent cells written in plain NumPy, with backpropagation through time written by hand
# (`rnnlab.scratch`, no autograd), trained side by side on two toy tasks with the same budget
# (updates, batch size, hidden size, optimiser, learning rate, clipping) over several seeds:
#
# - **sine**: noisy sine waves of random period; at every step the model predicts the clean next value;
# - **text**: a character-level language model of English text, with sampled text.
#
# Then we look inside the backward pass: how much of the gradient of a loss on the last step reaches
# each earlier step, ||dL/dh_t||, and how that depends on the cell, on training and on the spectral
# radius of the recurrent weights.
#
# Each part has a short **live** cell that runs the package here, in seconds, then the saved result of
# `rnnlab run q1` (which took minutes), then the sentences computed from its numbers. No sentence
# about a result in this notebook is written by hand.

# %%
import inspect
from pathlib import Path

import numpy as np

from rnnlab.experiments import q1
from rnnlab.experiments.runner import load_or_run
from rnnlab.report.display import show_config, show_figure, show_tables, show_text
from rnnlab.results import section_dir

result = load_or_run("q1")
metrics = result.metrics
topics = {t.key: t for t in result.topics}


def say(key: str) -> None:
    """Print the computed sentences of one topic of the saved results."""
    for sentence in topics[key].observations if key in topics else []:
        print("-", sentence)


def show_topic_tables(key: str) -> None:
    """Show the saved tables of one topic."""
    import dataclasses

    wanted = set(topics[key].tables) if key in topics else set()
    show_tables(dataclasses.replace(result, tables=[t for t in result.tables if t.title in wanted]))


source = metrics["text_source"]
print(f"text: {source['description']}")
print(f"vocabulary {source['vocab_size']} characters; seeds {metrics['seeds']}")
print("limitations:", "; ".join(result.limitations) or "none")
print("\nKey findings (chosen by rule from the measurements):")
for finding in result.findings:
    print(f"- [{finding.topic}] {finding.text}")

# %% [markdown]
# ## 1. The engine, and the proof that its gradients are right
#
# Read the **reference path** first: `rnnlab.scratch.reference` writes each cell as the textbook
# equations, one per line, as a pure step `step(params, carry, x_t) -> (carry, h_t)` with a backward
# twin, and BPTT as a loop running `dcarry` from the last step to the first. The fast path the layers
# use, `rnnlab.scratch.functional`, is held equal to it by the tests; read it second.

# %%
from rnnlab.scratch import reference

engine_doc = Path(inspect.getfile(q1)).parents[3] / "docs" / "ENGINE.md"
if engine_doc.exists():
    print(f"More on the engine: {engine_doc}\n")
print(inspect.getsource(reference.lstm_step))

# %% [markdown]
# Live: a NumPy LSTM on a tiny batch (N = 2 sequences, T = 5 steps, D = 3 inputs, H = 4 hidden units)
# in float64. Forward returns every hidden state and a cache; backward takes the upstream gradients
# dL/dh_t and returns dL/dx, dL/d(h_0, c_0) and fills `layer.grads`, keyed like the parameters
# (PyTorch's names and layout). A hand loop over the reference step gives the same states.

# %%
from rnnlab.scratch import LSTM

N, T, D, H = 2, 5, 3, 4
rng = np.random.default_rng(0)
layer = LSTM(D, H, seed=0, dtype=np.float64)
x = rng.standard_normal((N, T, D))
state0 = (np.zeros((N, H)), np.zeros((N, H)))
hs, cache = layer.forward(x, state0)  # (N, T, H)
dhs = rng.standard_normal((N, T, H))  # a random upstream gradient dL/dh_t
dx, (dh0, dc0) = layer.backward(dhs, cache)
print("hs", hs.shape, "dx", dx.shape, "dh0", dh0.shape, "dc0", dc0.shape)
for name, g in layer.grads.items():
    print(f"d{name:<14} {g.shape!s:<8} (same shape as {name} {layer.params[name].shape})")

carry, loop = state0, []
for t in range(T):
    carry, h_t = reference.lstm_step(layer.params, carry, x[:, t])
    loop.append(h_t)
print(f"hand loop over reference.lstm_step vs layer.forward: max difference "
      f"{np.max(np.abs(np.stack(loop, 1) - hs)):.1e}")

# %% [markdown]
# Live: the gradient check. Every gradient BPTT returned is compared with centred finite differences
# of the scalar loss sum(h_t * G_t) (G random), entry by entry, in float64; then the same weights are
# copied into `torch.nn.LSTM` and its outputs and autograd gradients are compared with ours.

# %%
from rnnlab.scratch import gradcheck

print("worst relative error against finite differences:")
for name, err in gradcheck.check_layer(layer, N=N, T=T, seed=0).items():
    print(f"  {name:<14} {err:.1e}")
print("worst absolute difference from torch.nn.LSTM:")
for name, err in gradcheck.compare_with_torch(layer, N=N, T=T, seed=0).items():
    print(f"  {name:<14} {err:.1e}")

# %% [markdown]
# The run saved the same check for every cell and variant (RNN with tanh, LSTM, the GRU as PyTorch
# writes it, and the GRU of Cho et al. 2014, which torch.nn lacks and is compared with autograd of
# its torch transcription), with the tolerances it is judged by:

# %%
show_topic_tables("correctness")
say("correctness")

# %% [markdown]
# ## 2. Loss curves: who learns faster
#
# Live: one LSTM trained for two short epochs on a tiny sine task; each epoch emits a record (losses,
# gradient norm, time), the same records the run saved for every model and seed.

# %%
from rnnlab.data.toy import make_sine_data
from rnnlab.train.scratch_loop import SineTask, TrainSettings, train_model

tiny = SineTask(make_sine_data(32, 8, 20, seed=0))
settings = TrainSettings(hidden_size=8, epochs=2, batches_per_epoch=5, batch_size=8, lr=1e-2, clip=5.0)
_, history = train_model(tiny, "lstm", settings, seed=0)
for r in history.records:
    print(f"epoch {r.epoch}: validation MSE {r.val_loss:.4f}")

# %% [markdown]
# The saved curves. Solid: validation loss averaged over the seeds, with the range from the best to
# the worst seed shaded; dashed: training loss; dotted: the threshold used for "epochs/seconds to
# threshold". The sine panel uses a log axis. The text panel's y axis is fitted to part of the run,
# so the gaps between the trained models show (the early epochs leave it at the top):

# %%
print(f"text panel: the y axis covers the last {q1.TEXT_FOCUS_LAST:.0%} of the epochs")
show_figure(result, "loss_curves")
show_topic_tables("loss")
say("loss")

# %% [markdown]
# ## 3. Cost: parameters and time per epoch
#
# The same curves against training time. Whether the cell that needs the fewest epochs also gets
# there first in seconds depends on the cost of its step.

# %%
show_figure(result, "loss_vs_time")
say("cost")

# %% [markdown]
# ## 4. Gradient clipping
#
# Every update rescales the gradient when its global norm is above the clip norm; how often that
# happened, per model:

# %%
say("clipping")

# %% [markdown]
# ## 5. Sine predictions
#
# Held-out sequences: the clean target (black), the noisy input the model sees (grey dots) and each
# trained model's one-step-ahead prediction. Each model's MSE on each sequence:

# %%
show_figure(result, "sine_predictions")
for seq in metrics["sine_predictions"]["sequences"]:
    mse = ", ".join(f"{label} {value:.4g}" for label, value in seq["mse"].items())
    print(f"sequence {seq['index']} (period {seq['period']:.1f} steps): MSE {mse}")
say("sine")

# %% [markdown]
# ## 6. Sampled text
#
# Samples from the first seed's models early, half-way and at the end of training, then at a lower
# and a higher temperature (a lower temperature sharpens the distribution each next character is
# drawn from).

# %%
show_text(result)
say("text")

# %% [markdown]
# ## 7. Gradient flow through time
#
# Live: a loss on the **last** step only, and the hand-written BPTT returns the total gradient
# reaching every hidden state. Here for a fresh RNN and LSTM on the tiny sine task:

# %%
from rnnlab.analysis import gradflow
from rnnlab.scratch import mse as mse_loss
from rnnlab.train.scratch_loop import make_model

xv, yv = tiny.validation()
for cell in ("rnn", "lstm"):
    model = make_model(tiny, cell, settings, seed=0).astype(np.float64)
    norms = gradflow.grad_norms_last_step(model, xv.astype(np.float64), yv, mse_loss)
    print(f"{cell}: ||dL/dh_t|| at t = T {norms[-1]:.2e}, at t = 1 {norms[0]:.2e}")

# %% [markdown]
# The saved measurement on the text, for every cell and length. On a log axis a geometric decay is a
# straight line; its slope is the per-step factor in the legend. Dashed: freshly initialised
# weights; solid: after training on the text.

# %%
show_figure(result, "gradflow_init_vs_trained")
show_topic_tables("gradflow")
say("gradflow")

# %% [markdown]
# ## 8. Vanishing and exploding gradients
#
# On purpose: each gate block of the recurrent matrix W_hh is rescaled to a small spectral radius
# (top row) or to one above 1 (bottom row). How each cell responds, computed from the fitted factors
# (a fit with a poor R^2 is named as such, not quoted as a rate):

# %%
show_figure(result, "gradflow_vanishing_exploding")
say("vanishing")

# %% [markdown]
# ## 9. Jacobian products
#
# The Jacobian product dh_T/dh_t is what BPTT multiplies the gradient by between step T and step t;
# its spectral norm against the lag T - t shows the same regimes without any loss involved.

# %%
show_figure(result, "jacobian_norms")
say("jacobian")

# %% [markdown]
# ## How `--resume` works
#
# Every finished (task, cell, seed) run is saved under `q1/runs/` as its arrays (`.safetensors`) and
# a record (`.json`: the epoch records, the samples, the SHA-256 of the arrays). `rnnlab run q1
# --resume` first checks every saved run file (config, format, SHA-256, finite weights), then loads
# the finished runs instead of training them again and trains only the missing ones.

# %%
runs = section_dir(result.name) / q1.RUNS_DIR
files = sorted(p.name for p in runs.glob("*")) if runs.is_dir() else []
print(f"{runs}: {len(files)} files")
for name in files[:8]:
    print(" ", name)
if len(files) > 8:
    print(f"  ... and {len(files) - 8} more")
print(f"runs loaded instead of trained in this result: {metrics['timing'].get('reused_runs', 0)}")

# %% [markdown]
# ## Settings of this run

# %%
show_config(result)
