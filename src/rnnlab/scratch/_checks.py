"""Input validation shared by the NumPy engine: clear errors, never silent broadcasting."""

from __future__ import annotations

import numpy as np

from rnnlab.errors import ConfigError, DataError, ShapeError

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


def as_array(name: str, a) -> np.ndarray:
    """``np.asarray(a)``, with a one-line error for None and for ragged or mixed sequences."""
    if a is None:
        raise ShapeError(f"expected an array for {name}, found None")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError):
        raise ShapeError(
            f"expected a rectangular numeric array for {name}, found a ragged or mixed {type(a).__name__}"
        ) from None
    if arr.dtype == object:
        raise ShapeError(
            f"expected a rectangular numeric array for {name}, found a ragged or mixed {type(a).__name__}"
        )
    return arr


def cast(name: str, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``arr`` as ``dtype`` (no copy if it already is), after checking it is finite and fits.

    NaN and inf are reported as such; a finite value too large for ``dtype`` (1e40 as float32)
    is reported as out of range, never as the inf the cast would turn it into.
    """
    if arr.dtype.kind == "f":
        check_finite(name, arr)
        if arr.dtype.itemsize > dtype.itemsize and arr.size:
            limit = float(np.finfo(dtype).max)
            largest = float(np.max(np.abs(arr)))
            if largest > limit:
                raise DataError(
                    f"expected {name} within the range of {dtype} (|value| <= {limit:.3g}), found {largest:.3g}"
                )
        return arr.astype(dtype, copy=False)
    return arr.astype(dtype, copy=False)


def check_array(name: str, a, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Return ``a`` as an array of ``dtype`` after checking its exact ``shape``.

    ``shape`` holds ints and ``None`` (any size, but not zero). Raises :class:`ShapeError` naming
    the expected and the found shape, and for NaN or inf values; :class:`DataError` for values
    beyond ``dtype``'s range.
    """
    arr = as_array(name, a)
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
    return cast(name, arr, dtype)


def is_ids(x: np.ndarray) -> bool:
    """True for an integer array: token ids standing for one-hot rows."""
    return x.dtype.kind in "iu"


def check_ids(name: str, ids: np.ndarray, width: int) -> np.ndarray:
    """Check that integer ``ids`` (any shape) index one-hot rows of ``width``: 0 <= id < width."""
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= width:
            bad = low if low < 0 else high
            raise DataError(f"expected ids in [0, {width}) for {name} (one-hot rows of width {width}), found {bad}")
    return ids


def check_step_ids(x: np.ndarray, width: int) -> np.ndarray:
    """Check time-major ids ``x`` (T, N), as the functional and compiled paths take them: two
    dimensions, each id in [0, width)."""
    if x.ndim != 2:
        raise ShapeError(f"expected integer ids of shape (T, N), found shape {x.shape}")
    return check_ids("x", x, width)


def check_sequence_input(x, input_size: int, dtype: np.dtype) -> np.ndarray:
    """Validate a batch-first input ``x``: floats (B, T, D) with D == ``input_size``, or integer
    ids (B, T) in [0, D) standing for one-hot rows (returned as they are)."""
    arr = as_array("x", x)
    if arr.ndim == 2 and is_ids(arr):
        if 0 in arr.shape:
            raise ShapeError(f"expected at least one sequence and one time step in ids x, found shape {arr.shape}")
        return check_ids("x", arr, input_size)
    if arr.ndim != 3:
        raise ShapeError(
            f"expected input x of shape (batch, time, {input_size}) with 3 dimensions, or integer ids "
            f"(batch, time), found shape {arr.shape}"
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
