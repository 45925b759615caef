"""Weight statistics across epochs, per weight matrix and per gate block (pure NumPy).

Recurrent layers store their gates stacked in one matrix (torch layout): ``weight_ih_l0`` is
(G*H, D) and ``weight_hh_l0`` is (G*H, H) with the blocks, top to bottom,

- RNN:  one block, the tanh pre-activation (named ``"h"`` here),
- LSTM: input ``i``, forget ``f``, cell candidate ``g``, output ``o``,
- GRU:  reset ``r``, update ``z``, new/candidate ``n``.

:func:`split_gates` cuts a matrix into those blocks. Per block and epoch this module measures
the Frobenius norm ||W||_F, the spectral radius max |lambda_i(W_hh block)| of the square
recurrent blocks, the relative update ||W_e - W_{e-1}||_F / ||W_{e-1}||_F and the drift from
initialisation ||W_e - W_0||_F / ||W_0||_F (:func:`weight_evolution`). :func:`histogram` and
:func:`kde` give the distributions that the figures draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnnlab.cells import CELLS
from rnnlab.errors import ConfigError, DataError, ShapeError

# The gate blocks of the cells this analysis reads (torch's nn.RNN/LSTM/GRU), from the one
# table of cells (rnnlab.cells).
GATE_NAMES: dict[str, tuple[str, ...]] = {k: CELLS[k].gates for k in ("rnn", "lstm", "gru")}
MATRICES = ("weight_ih_l0", "weight_hh_l0")


def _cell(cell: str) -> str:
    key = str(cell).lower()
    if key not in GATE_NAMES:
        raise ConfigError(f"expected a cell in {tuple(GATE_NAMES)}, found {cell!r}")
    return key


def split_gates(weight: np.ndarray, cell: str) -> dict[str, np.ndarray]:
    """Cut a stacked weight matrix (G*H, X) or bias (G*H,) into its G gate blocks.

    Returns
    -------
    dict
        Gate name -> block (H, X) or (H,), in torch's order.

    Raises
    ------
    ShapeError
        When the first dimension is not a multiple of G.
    """
    gates = GATE_NAMES[_cell(cell)]
    weight = np.asarray(weight)
    if weight.ndim not in (1, 2) or weight.shape[0] % len(gates):
        raise ShapeError(
            f"expected a ({len(gates)}*H, X) matrix or ({len(gates)}*H,) bias for {cell}, found "
            f"shape {weight.shape}"
        )
    hidden = weight.shape[0] // len(gates)
    return {g: weight[k * hidden : (k + 1) * hidden] for k, g in enumerate(gates)}


def frobenius_norm(weight: np.ndarray) -> float:
    """||W||_F = sqrt(sum_ij W_ij^2)."""
    return float(np.sqrt(np.sum(np.square(np.asarray(weight, dtype=np.float64)))))


def spectral_radius(weight: np.ndarray) -> float:
    """rho(W) = max_i |lambda_i(W)| of a square matrix.

    Raises
    ------
    ShapeError
        When ``weight`` is not a square matrix.
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        raise ShapeError(
            f"expected a square matrix for the spectral radius, found shape {weight.shape}"
        )
    if weight.size == 0:
        return 0.0
    return float(np.max(np.abs(np.linalg.eigvals(weight))))


def relative_change(new: np.ndarray, old: np.ndarray) -> float:
    """||new - old||_F / ||old||_F (NaN when ``old`` is all zeros)."""
    new, old = np.asarray(new, dtype=np.float64), np.asarray(old, dtype=np.float64)
    if new.shape != old.shape:
        raise ShapeError(f"expected matrices of the same shape, found {new.shape} and {old.shape}")
    base = frobenius_norm(old)
    return frobenius_norm(new - old) / base if base > 0 else float("nan")


def check_finite(params: Mapping[str, Any], where: str) -> None:
    """Refuse NaN or infinite values in any array of ``params`` (name -> array).

    Raises
    ------
    DataError
        Naming ``where`` (e.g. ``"the weights of epoch 3"``), the parameter and the count.
    """
    for name, value in params.items():
        array = np.asarray(value)
        if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise DataError(
                f"expected finite values in {where}, found {bad} NaN or infinite value(s) in "
                f"{name!r}"
            )


def _layer_params(state: Mapping[str, Any], prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for name in MATRICES:
        key = prefix + name
        if key not in state:
            raise ShapeError(
                f"expected a parameter {key!r} in the weights, found {sorted(state)[:6]}"
            )
        out[name] = np.asarray(state[key], dtype=np.float64)
    return out


def weight_evolution(
    states: Sequence[Mapping[str, Any]], cell: str, prefix: str = "rnn."
) -> dict[str, Any]:
    """Norms, spectral radii and update sizes of every gate block, epoch by epoch.

    Parameters
    ----------
    states : sequence of mappings
        The weights of epochs 0..E (name -> array), e.g. checkpoints' state dicts.
    cell : {"rnn", "lstm", "gru"}
    prefix : str
        Prefix of the recurrent layer's parameter names (``"rnn."`` for RecurrentNet).

    Returns
    -------
    dict
        ``frobenius[matrix][gate]``, ``relative_update[matrix][gate]`` (NaN at epoch 0),
        ``drift[matrix][gate]`` (relative to epoch 0), ``mean``/``std`` ``[matrix][gate]``:
        lists over epochs; ``spectral_radius[gate]`` of the ``weight_hh_l0`` blocks;
        ``relative_update_all`` of all parameters together; ``gates`` and ``epochs``.

    Raises
    ------
    DataError
        When a weight of some epoch is NaN or infinite (no norm or eigenvalue of it means
        anything).
    """
    cell = _cell(cell)
    gates = GATE_NAMES[cell]
    if not states:
        raise ShapeError("expected the weights of at least one epoch, found none")
    blocks = [
        {m: split_gates(w, cell) for m, w in _layer_params(state, prefix).items()}
        for state in states
    ]
    out: dict[str, Any] = {
        "gates": list(gates),
        "epochs": list(range(len(states))),
        "frobenius": {m: {g: [] for g in gates} for m in MATRICES},
        "relative_update": {m: {g: [] for g in gates} for m in MATRICES},
        "drift": {m: {g: [] for g in gates} for m in MATRICES},
        "mean": {m: {g: [] for g in gates} for m in MATRICES},
        "std": {m: {g: [] for g in gates} for m in MATRICES},
        "spectral_radius": {g: [] for g in gates},
        "relative_update_all": [],
    }
    for e, state in enumerate(states):
        check_finite(state, f"the weights of epoch {e}")
    for e, per_matrix in enumerate(blocks):
        for m in MATRICES:
            for g in gates:
                w = per_matrix[m][g]
                out["frobenius"][m][g].append(frobenius_norm(w))
                out["mean"][m][g].append(float(w.mean()))
                out["std"][m][g].append(float(w.std()))
                out["relative_update"][m][g].append(
                    relative_change(w, blocks[e - 1][m][g]) if e else float("nan")
                )
                out["drift"][m][g].append(relative_change(w, blocks[0][m][g]))
        for g in gates:
            out["spectral_radius"][g].append(spectral_radius(per_matrix["weight_hh_l0"][g]))
        if e:
            if set(states[e]) != set(states[e - 1]):
                raise ShapeError(
                    f"expected the same parameters at epochs {e - 1} and {e}, found "
                    f"{sorted(set(states[e]) ^ set(states[e - 1]))} in only one"
                )
            names = sorted(states[e])  # one fixed order: files may list tensors in any order
            new = np.concatenate([np.ravel(np.asarray(states[e][k], np.float64)) for k in names])
            old = np.concatenate(
                [np.ravel(np.asarray(states[e - 1][k], np.float64)) for k in names]
            )
            out["relative_update_all"].append(relative_change(new, old))
        else:
            out["relative_update_all"].append(float("nan"))
    return out


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Density histogram of ``values`` on fixed bin ``edges`` (values outside are clipped in)."""
    values = np.clip(np.ravel(values), edges[0], edges[-1])
    counts, _ = np.histogram(values, bins=edges, density=True)
    return counts


def kde(
    values: np.ndarray,
    grid: np.ndarray,
    bandwidth: float | None = None,
    max_points: int = 4000,
    seed: int = 0,
) -> np.ndarray:
    """Gaussian kernel density estimate of ``values`` evaluated on ``grid``.

    p(x) = 1/(n b) sum_i phi((x - v_i) / b), with Silverman's bandwidth
    b = 0.9 min(std, IQR / 1.34) n^(-1/5) unless given. At most ``max_points`` values are used
    (a seeded random subset), which keeps large matrices cheap.
    """
    values = np.ravel(np.asarray(values, dtype=np.float64))
    grid = np.asarray(grid, dtype=np.float64)
    if values.size == 0:
        return np.zeros_like(grid)
    if values.size > max_points:
        values = np.random.default_rng(seed).choice(values, size=max_points, replace=False)
    if bandwidth is None:
        q75, q25 = np.percentile(values, [75, 25])
        spread = min(values.std(), (q75 - q25) / 1.34) or values.std() or 1e-3
        bandwidth = 0.9 * spread * values.size ** (-0.2)
    z = (grid[:, None] - values[None, :]) / bandwidth  # (grid, n)
    return np.exp(-0.5 * z**2).sum(axis=1) / (values.size * bandwidth * np.sqrt(2.0 * np.pi))


def symmetric_range(arrays: Sequence[np.ndarray], quantile: float = 0.999) -> float:
    """A common half-width for plotting weight distributions: the ``quantile`` of |w|."""
    values = np.concatenate([np.abs(np.ravel(a)) for a in arrays])
    return float(np.quantile(values, quantile)) if values.size else 1.0
