"""Input validation shared by the NumPy engine: clear errors, never silent broadcasting."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import ConfigError, ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_dtype(dtype) -> np.dtype:
    """Check that ``dtype`` is float32 or float64 and return it as a NumPy dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ConfigError(f"expected dtype float32 or float64, found {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise ConfigError(f"expected dtype float32 or float64, found {dt}")
    return dt


def check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ShapeError(f"expected finite values in {name}, found {bad} NaN or inf entries")


def check_array(name: str, a, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Return ``a`` as an array of ``dtype`` after checking its exact ``shape``.

    ``shape`` holds ints and ``None`` (any size, but not zero). Raises :class:`ShapeError` naming
    the expected and the found shape, and for NaN or inf values.
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise ShapeError(f"expected a real numeric array for {name}, found dtype {arr.dtype}")
    expected = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
    if arr.ndim != len(shape):
        raise ShapeError(
            f"expected {name} with {len(shape)} dimensions {expected}, found shape {arr.shape}"
        )
    for want, got in zip(shape, arr.shape):
        if (want is None and got == 0) or (want is not None and want != got):
            raise ShapeError(f"expected {name} of shape {expected}, found {arr.shape}")
    arr = arr.astype(dtype, copy=False)
    check_finite(name, arr)
    return arr


def check_sequence_input(x, input_size: int, dtype: np.dtype) -> np.ndarray:
    """Validate a batch-first input ``x`` of shape (B, T, D) with D == ``input_size``."""
    arr = np.asarray(x)
    if arr.ndim != 3:
        raise ShapeError(
            f"expected input x of shape (batch, time, {input_size}) with 3 dimensions, "
            f"found shape {arr.shape}"
        )
    if arr.shape[1] == 0:
        raise ShapeError(f"expected at least one time step in x, found shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ShapeError(f"expected a batch of at least one sequence in x, found shape {arr.shape}")
    if arr.shape[2] != input_size:
        raise ShapeError(
            f"expected input x with {input_size} features (batch, time, {input_size}), "
            f"found shape {arr.shape}"
        )
    return check_array("x", arr, (None, None, input_size), dtype)
