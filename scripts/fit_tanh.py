"""Fit the rational float32 tanh of rnnlab.scratch.kernels: tanh(x) ~= x P(x^2) / Q(x^2) on [0, 9].

TANH_P and TANH_Q in src/rnnlab/scratch/kernels.py come from this script (do not edit them by
hand; rerun this and paste what it prints).

The fit minimises the maximum relative error of x P(x^2) / Q(x^2) against tanh(x), with P of
degree 5 and Q of degree 4 in x^2 and Q's constant term 1. Since x P / Q - tanh(x) relative to
tanh(x) is P / Q - r relative to r, where r(x) = tanh(x) / x, it fits P / Q to r:

1. Sample: 20,000 Chebyshev-distributed points of (0, 9] (x <= 1e-6 dropped), fitted in the
   scaled variable u = (x / 9)^2 in (0, 1], which keeps the least-squares problem well
   conditioned (powers of x^2 up to x^10 would span 10 orders of magnitude).
2. Linearise: P(u) - r Q(u) = 0 is linear in the coefficients (unknowns p0..p5, q1..q4), solved
   by weighted least squares with weight 1 / (r |Q_prev(u)|) (Loeb: dividing by the previous
   iterate's |Q| turns the linear residual back into the true error P / Q - r; dividing by r
   makes it relative).
3. After the first LOEB_ONLY iterations, also multiply a Lawson weight per point by the point's
   |relative error| (normalised), which drives the least-squares fit towards the minimax one.
4. Keep the iterate with the smallest maximum relative error; convert its coefficients from
   powers of u to powers of x^2 (the coefficient of x^(2j) is p_j / 81^j).

It prints the coefficients as the constants of kernels.py, the maximum relative error of the fit,
and the maximum error in float32 ulps when evaluated the way the kernel does: in float64, x
clamped at +-9, the result rounded once to float32, over a dense grid of float32 values in
[-10, 10] plus small magnitudes. Deterministic: no random numbers.

Run: .venv/bin/python scripts/fit_tanh.py
"""

from __future__ import annotations

import numpy as np

X_MAX = 9.0  # the fit's interval is [0, X_MAX] (kernels.TANH_CLAMP)
P_DEGREE, Q_DEGREE = 5, 4  # in x^2
POINTS = 20_000
LOEB_ONLY = 10  # iterations of Loeb reweighting alone before the Lawson weights start
# 60 iterations in all is the run that gave kernels.py's constants. The error is flat near the
# optimum: running longer keeps lowering the maximum error a little (1.27744e-9 at 60 iterations,
# 1.27721e-9 at 1000) while the coefficients drift by up to ~2e-5 relative, so the constants are
# reproducible only with this count.
ITERATIONS = 60


def _samples() -> np.ndarray:
    """Chebyshev-distributed points of (0, X_MAX], x <= 1e-6 dropped, ascending."""
    k = np.arange(POINTS)
    x = X_MAX / 2 * (1.0 - np.cos(np.pi * (k + 0.5) / POINTS))
    return x[x > 1e-6]


def _poly(coef: np.ndarray, u: np.ndarray) -> np.ndarray:
    """sum_j coef[j] u^j by Horner's rule."""
    out = np.zeros_like(u)
    for c in coef[::-1]:
        out = out * u + c
    return out


def _fit_scaled(u: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(p, q, max relative error) of P(u) / Q(u) ~= r, coefficients in powers of u."""
    powers = u[:, None] ** np.arange(max(P_DEGREE, Q_DEGREE) + 1)  # (M, 6): 1, u, u^2, ...
    design = np.hstack([powers[:, : P_DEGREE + 1], -r[:, None] * powers[:, 1 : Q_DEGREE + 1]])
    q_prev = np.ones_like(u)
    lawson = np.full(u.shape, 1.0 / u.size)
    best = (None, None, np.inf)
    for iteration in range(ITERATIONS):
        w = np.sqrt(lawson) / (r * np.abs(q_prev))  # least squares squares the weights
        sol, *_ = np.linalg.lstsq(design * w[:, None], r * w, rcond=None)
        p, q = sol[: P_DEGREE + 1], np.concatenate([[1.0], sol[P_DEGREE + 1 :]])
        q_prev = _poly(q, u)
        err = (_poly(p, u) / q_prev - r) / r  # relative error of P / Q against r
        worst = float(np.max(np.abs(err)))
        if worst < best[2]:
            best = (p, q, worst)
        if iteration >= LOEB_ONLY:
            lawson = lawson * np.abs(err)
            lawson /= lawson.sum()
    return best


def fit() -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Fit tanh(x) ~= x P(x^2) / Q(x^2) on [0, X_MAX].

    Returns
    -------
    P : tuple of float
        Coefficients of P in powers of x^2 (constant first), P_DEGREE + 1 of them.
    Q : tuple of float
        Coefficients of Q in powers of x^2, Q[0] == 1.0.
    max_rel_error : float
        max |x P(x^2) / Q(x^2) - tanh(x)| / |tanh(x)| over the sample points.
    """
    x = _samples()
    u = (x / X_MAX) ** 2
    r = np.tanh(x) / x
    p, q, worst = _fit_scaled(u, r)
    scale = (X_MAX * X_MAX) ** -np.arange(max(P_DEGREE, Q_DEGREE) + 1)  # u^j = x^(2j) / 81^j
    P = tuple(float(c) for c in p * scale[: P_DEGREE + 1])
    Q = tuple(float(c) for c in q * scale[: Q_DEGREE + 1])
    return P, Q, worst


TANH_ONE = 0.5 * np.log(2.0**26 - 1.0)  # atanh(1 - 2^-25): from here up float32's tanh is 1


def tanh_f32(x: np.ndarray, P, Q) -> np.ndarray:
    """The fitted tanh evaluated as the kernel does: in float64, +-1 from TANH_ONE up, one rounding."""
    v = np.asarray(x, dtype=np.float64)
    u = np.clip(v, -TANH_ONE, TANH_ONE)
    z = u * u
    y = u * _poly(np.asarray(P), z) / _poly(np.asarray(Q), z)
    return np.where(v >= TANH_ONE, 1.0, np.where(v <= -TANH_ONE, -1.0, y)).astype(np.float32)


def float32_grid() -> np.ndarray:
    """Dense float32 values in [-10, 10] plus small magnitudes of both signs, and 0."""
    dense = np.linspace(-10.0, 10.0, 2_000_001).astype(np.float32)
    small = np.logspace(-38, -3, 20_001).astype(np.float32)
    return np.concatenate([dense, small, -small, np.float32([0.0])])


def max_ulp_error(P, Q) -> float:
    """Max |tanh_f32(x) - tanh(x)| in units of float32 spacing at the result, over float32_grid()."""
    x = float32_grid()
    return ulp_error(tanh_f32(x, P, Q), x)


def ulp_error(y: np.ndarray, x: np.ndarray) -> float:
    """Max |y - tanh(x)| over the values, in units of float32 spacing at y."""
    exact = np.tanh(x.astype(np.float64))
    return float(np.max(np.abs(y.astype(np.float64) - exact) / np.spacing(np.abs(y)).astype(np.float64)))


def _format(name: str, coefs) -> str:
    return f"{name} = (" + ", ".join(repr(c) for c in coefs) + ")"


def main() -> None:
    P, Q, worst = fit()
    print(_format("TANH_P", P))
    print(_format("TANH_Q", Q))
    print(f"max relative error of the fit on (0, {X_MAX:g}]: {worst:.3g}")
    print(f"max error as the kernel evaluates it (float32, +-1 from |x| = {TANH_ONE:.4f}): {max_ulp_error(P, Q):.3f} ulp")
    x = float32_grid()
    from rnnlab.scratch.kernels import (
        tanh_f32 as kernel_tanh,  # the compiled one, with kernels.py's constants
    )

    print(f"the compiled rnnlab.scratch.kernels.tanh_f32 on the same values: {ulp_error(kernel_tanh(x), x):.3f} ulp")
    print(f"for comparison, NumPy's own float32 tanh on the same values: {ulp_error(np.tanh(x), x):.3f} ulp")


if __name__ == "__main__":
    main()
