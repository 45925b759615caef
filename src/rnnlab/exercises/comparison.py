"""RNN, LSTM, GRU and BiLSTM side by side at the same input and hidden sizes.

For each model: parameters (:func:`~rnnlab.exercises.counting.count_parameters`, checked against
PyTorch), weight blocks and gates, multiply-adds per step, the forward time per step measured on
this machine, and how much gradient reaches early inputs as the sequence grows.

The gradient measurement (:func:`input_gradient_profile`): an untrained layer (PyTorch's default
initialisation, float64) reads T random inputs x_t ~ N(0, 1); the sequence summary r is h_T for
the unidirectional models and [h_T^f ; h_1^b] for the BiLSTM (what a many-to-one classifier
reads); a fixed random readout gives the scalar s = v.r. Autograd gives ||ds/dx_t|| for every t.
The "reach" of a model at length T is min_t ||ds/dx_t|| / max_t ||ds/dx_t||: close to 1 when
every input still influences the summary, tiny when early inputs' gradients have vanished. For
the unidirectional models the minimum is at t = 1; for the BiLSTM it is in the middle, the point
farthest from both ends it reads from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError
from rnnlab.exercises.counting import CELL_BLOCKS, CELL_GATES, count_parameters, macs_per_step

#: name -> (cell, bidirectional)
MODELS: dict[str, tuple[str, bool]] = {
    "RNN": ("rnn", False),
    "LSTM": ("lstm", False),
    "GRU": ("gru", False),
    "BiLSTM": ("lstm", True),
}


def make_torch_layer(name: str, input_size: int, hidden_size: int):
    """``torch.nn.RNN/LSTM/GRU`` (batch first, one layer) for a model name of :data:`MODELS`."""
    import torch

    if name not in MODELS:
        raise ConfigError(f"expected a model among {list(MODELS)}, found {name!r}")
    cell, bidirectional = MODELS[name]
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    return module(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)


def _summary(name: str, out, hidden_size: int):
    """r (B, H) or (B, 2H): what a many-to-one classifier reads from the outputs (B, T, dirs*H)."""
    import torch

    if MODELS[name][1]:
        return torch.cat([out[:, -1, :hidden_size], out[:, 0, hidden_size:]], dim=1)  # [h_T^f ; h_1^b]
    return out[:, -1]  # h_T


def input_gradient_profile(name: str, input_size: int, hidden_size: int, steps: int, *,
                           batch: int = 8, seed: int = 0, forget_bias: float | None = None) -> np.ndarray:
    """Mean over a batch of ||ds/dx_t|| for t = 1..T (see the module docstring).

    ``forget_bias`` (LSTM models only): set the forget-gate biases so that b_if + b_hf equals it.

    Returns
    -------
    ndarray, (T,)
    """
    import torch

    torch.manual_seed(seed)
    layer = make_torch_layer(name, input_size, hidden_size).double()
    if forget_bias is not None:
        if MODELS[name][0] != "lstm":
            raise ConfigError(f"expected an LSTM model for forget_bias, found {name!r}")
        H = hidden_size
        with torch.no_grad():
            for pname, p in layer.named_parameters():
                if pname.startswith("bias_"):  # gate order i, f, g, o: f is rows H..2H
                    p[H:2 * H] = forget_bias / 2  # b_if + b_hf = forget_bias
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, steps, input_size, generator=g, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)  # (B, T, dirs*H)
    r = _summary(name, out, hidden_size)
    v = torch.randn(r.shape[1], generator=g, dtype=torch.float64)
    s = (r @ (v / v.norm())).sum()  # s = v.r, summed over the batch (each sequence separately)
    (dx,) = torch.autograd.grad(s, x)  # (B, T, D)
    return dx.norm(dim=2).mean(dim=0).numpy()


def time_forward_per_step(names: list[str], input_size: int, hidden_size: int, *, steps: int = 100,
                          batch: int = 32, repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """Forward time per step of each model, in seconds: the fastest of ``repeats`` passes / steps.

    One forward pass over (batch, steps, D), float32, no autograd, CPU, one PyTorch thread (tiny
    layers do not gain from more, and shared cores make multi-thread timings noisy). The models
    take turns in every repeat so that a busy moment of the machine hits them all alike, and the
    minimum is the time least disturbed by other work.
    """
    import torch

    from rnnlab.threads import limit_threads

    torch.manual_seed(seed)
    layers = {name: make_torch_layer(name, input_size, hidden_size) for name in names}
    x = torch.randn(batch, steps, input_size)
    best = {name: float("inf") for name in names}
    with limit_threads(1), torch.no_grad():
        for layer in layers.values():
            layer(x)  # warm-up
        for _ in range(repeats):
            for name, layer in layers.items():
                start = time.perf_counter()
                layer(x)
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: t / steps for name, t in best.items()}


@dataclass
class ComparisonRow:
    """One model of the comparison table."""

    model: str
    parameters: int
    parameters_torch: int
    blocks: int
    gates: str
    macs_per_step: int
    time_per_step_us: float
    reach: dict[int, float]  # T -> min/max gradient ratio, mean over seeds
    reach_spread: dict[int, float]  # T -> std over seeds
    first_last: dict[int, float]  # T -> ||ds/dx_1|| / ||ds/dx_T||, mean over seeds
    weakest_position: dict[int, int]  # T -> 1-based t of the smallest gradient (seed-mean profile)


@dataclass
class ComparisonResult:
    rows: list[ComparisonRow]
    profiles: dict[str, np.ndarray]  # model -> seed-mean ||ds/dx_t|| at the longest length
    lengths: tuple[int, ...]
    input_size: int
    hidden_size: int
    torch_threads: int  # threads used for the timings
    forget_bias: float  # the extra LSTM variant: forget-gate bias b_if + b_hf set to this value
    forget_bias_reach: dict[int, float]  # T -> reach of that LSTM variant, mean over seeds
    forget_bias_profile: np.ndarray  # its seed-mean profile at the longest length


def compare_models(*, input_size: int = 32, hidden_size: int = 64, lengths: tuple[int, ...] = (10, 50, 100),
                   seeds: tuple[int, ...] = (0, 1, 2), batch: int = 8, timing_steps: int = 100,
                   timing_batch: int = 32, timing_repeats: int = 5, forget_bias: float = 3.0) -> ComparisonResult:
    """Build the comparison of :data:`MODELS` (see the module docstring).

    Besides the four models, the reach of an LSTM whose forget gate starts open (bias
    ``forget_bias``, so f = sigmoid(...) is near 1) is measured: the LSTM's path through its cell
    state c_t = f * c_{t-1} + ... carries gradient only as far as f stays close to 1.
    """
    from rnnlab.exercises.counting import torch_parameter_count
    from rnnlab.threads import limit_threads

    if not lengths or min(lengths) < 2:
        raise ConfigError(f"expected sequence lengths >= 2, found {lengths}")
    times = time_forward_per_step(list(MODELS), input_size, hidden_size, steps=timing_steps,
                                  batch=timing_batch, repeats=timing_repeats)
    rows, profiles = [], {}
    for name, (cell, bidirectional) in MODELS.items():
        count = count_parameters(cell, input_size, hidden_size, bidirectional=bidirectional)
        reach, spread, first_last, weakest = {}, {}, {}, {}
        for T in lengths:
            with limit_threads(1):
                per_seed = np.array([input_gradient_profile(name, input_size, hidden_size, T,
                                                            batch=batch, seed=s) for s in seeds])  # (S, T)
            ratios = per_seed.min(axis=1) / per_seed.max(axis=1)
            reach[T], spread[T] = float(ratios.mean()), float(ratios.std())
            first_last[T] = float(np.mean(per_seed[:, 0] / per_seed[:, -1]))
            mean_profile = per_seed.mean(axis=0)
            weakest[T] = int(np.argmin(mean_profile)) + 1
            if T == max(lengths):
                profiles[name] = mean_profile
        rows.append(ComparisonRow(
            model=name,
            parameters=count.total,
            parameters_torch=torch_parameter_count(cell, input_size, hidden_size, bidirectional=bidirectional),
            blocks=CELL_BLOCKS[cell] * (2 if bidirectional else 1),
            gates=CELL_GATES[cell] + (", both directions" if bidirectional else ""),
            macs_per_step=macs_per_step(cell, input_size, hidden_size, bidirectional=bidirectional),
            time_per_step_us=1e6 * times[name],
            reach=reach, reach_spread=spread, first_last=first_last, weakest_position=weakest,
        ))
    forget = {}
    for T in lengths:
        with limit_threads(1):
            per_seed = np.array([input_gradient_profile("LSTM", input_size, hidden_size, T, batch=batch,
                                                        seed=s, forget_bias=forget_bias) for s in seeds])
        forget[T] = float(np.mean(per_seed.min(axis=1) / per_seed.max(axis=1)))
        if T == max(lengths):
            forget_profile = per_seed.mean(axis=0)
    return ComparisonResult(rows, profiles, tuple(lengths), input_size, hidden_size, 1,
                            forget_bias, forget, forget_profile)
