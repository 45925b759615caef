"""The compiled LSTM loops (scratch.kernels) compute exactly the reference path's mathematics
(scratch.reference), in float64 to rounding and in float32 to float32's precision; one thread or
two give bitwise the same numbers; their float32 tanh is within 1 ulp of the exact tanh; and
kernels.py's tanh constants are what scripts/fit_tanh.py fits."""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import as64, spy_on_lanes
from rnnlab.scratch import LSTM
from rnnlab.scratch import functional as F
from rnnlab.scratch import kernels as K
from rnnlab.scratch import reference as R
from rnnlab.threads import limit_engine_threads

ROOT = Path(__file__).resolve().parents[1]


def _problem(T, N, D, H, dtype="float64", seed=0, random_state=True):
    """Parameters (torch's layout, U(-1/sqrt(H), 1/sqrt(H))), x, (h0, c0), dhs, (dh_T, dc_T)."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    params = {
        R.W_IH: rng.uniform(-k, k, (4 * H, D)), R.W_HH: rng.uniform(-k, k, (4 * H, H)),
        R.B_IH: rng.uniform(-k, k, 4 * H), R.B_HH: rng.uniform(-k, k, 4 * H),
    }
    params = {name: p.astype(dtype) for name, p in params.items()}
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)

    def state():
        return (rng.standard_normal((N, H)) * 0.5).astype(dtype) if random_state else np.zeros((N, H), dtype)

    state0 = (state(), state())
    dstate_T = ((rng.standard_normal((N, H)) * 0.5).astype(dtype), (rng.standard_normal((N, H)) * 0.5).astype(dtype))
    return params, x, state0, dhs, dstate_T


def _results(module, params, x, state0, dhs, dstate_T, truncate):
    """Every output of one forward and backward pass, by name."""
    hs, cache = module.lstm_forward(params, x, state0)
    result = module.lstm_backward(params, dhs, cache, dstate_T, truncate)
    return {"hs": hs, "dx": result.dx, "dh": result.dh, "dh0": result.dstate0[0], "dc0": result.dstate0[1],
            **result.grads}, cache


def _reference(params, x, state0, dhs, dstate_T, truncate):
    """The reference path's outputs in float64 (from float64 copies of the inputs)."""
    out, _ = _results(R, as64(params), as64(x), as64(state0), as64(dhs), as64(dstate_T), truncate)
    return out


H64, D64 = 5, 3
# (N, forced, blocks): N = 3 stays one block even when forced (< 2 MIN_BLOCK rows); 17 rows are
# one block at the real threshold and two (8 + 9) when THREAD_MIN_FLOPS is forced to 0.
BATCHES = [(3, True, 1), (17, False, 1), (17, True, 2)]
DSTATES = ["none", "dh_T", "dc_T", "both"]
CASES_64 = [
    (N, forced, blocks, T, truncate, random_state, dstate)
    for (N, forced, blocks), T, truncate, random_state, dstate
    in itertools.product(BATCHES, [1, 6], [None, 1, 3], [False, True], DSTATES)
]


def _dstate(choice, dstate_T):
    dh_T, dc_T = dstate_T
    return {"none": None, "dh_T": (dh_T, None), "dc_T": (None, dc_T), "both": (dh_T, dc_T)}[choice]


@pytest.mark.parametrize("N,forced,blocks,T,truncate,random_state,dstate", CASES_64)
def test_kernels_equal_reference_in_float64(N, forced, blocks, T, truncate, random_state, dstate, monkeypatch):
    """kernels.lstm_forward/lstm_backward called directly in float64 give the reference's hs, dx,
    (dh0, dc0), every gradient and the total dL/dh_t to 1e-10, with the batch in one block or
    two, for every truncation, zero or random initial state and final-state gradient."""
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    assert len(K.split(N, K._flops(T, N, D64, H64))) == blocks
    params, x, state0, dhs, dstate_T = _problem(T, N, D64, H64, seed=10 * T + N, random_state=random_state)
    dstate_T = _dstate(dstate, dstate_T)
    fast, cache = _results(K, params, x, state0, dhs, dstate_T, truncate)
    assert isinstance(cache, K.LSTMRowsCache)
    ref = _reference(params, x, state0, dhs, dstate_T, truncate)
    assert fast.keys() == ref.keys()
    for k in ref:
        assert fast[k].dtype == np.float64 and fast[k].shape == ref[k].shape, k
    errors = {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("T,H", [(1, 5), (6, 2)])
def test_step_sums_when_steps_and_gate_rows_split_differently(T, H, monkeypatch):
    """With the work cut in two, the steps and the gate rows can split differently: T = 1 with
    H = 5 (the steps stay whole, the 20 gate rows are cut) and T = 6 with H = 2 (the steps are
    cut, the 8 gate rows are not). Every gradient row is still computed, once."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    params, x, state0, dhs, _ = _problem(T, 4, 3, H, seed=3)
    fast, _ = _results(K, params, x, state0, dhs, None, None)
    ref = _reference(params, x, state0, dhs, None, None)
    for k in ref:
        np.testing.assert_allclose(fast[k], ref[k], rtol=0, atol=1e-10, err_msg=k)


def test_kernels_equal_reference_with_a_wider_hidden_layer(monkeypatch):
    """H = 25 (100 gate rows, more than one BLAS call's worth in the forward loop) and N = 17 in
    two blocks: still the reference's numbers to 1e-10 in float64."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    assert 4 * 25 > K.GEMM_ROWS
    params, x, state0, dhs, dstate_T = _problem(4, 17, 3, 25, seed=9)
    fast, _ = _results(K, params, x, state0, dhs, dstate_T, 2)
    ref = _reference(params, x, state0, dhs, dstate_T, 2)
    errors = {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("random_state", [False, True])
def test_float32_through_functional_close_to_reference(truncate, random_state):
    """functional.lstm_forward/lstm_backward run the kernels for float32 (the cache is a
    kernels.LSTMRowsCache) and agree with the reference computed in float64 from the same float32
    inputs to float32 precision (rtol 1e-4, atol 1e-5)."""
    assert F.uses_kernels(np.float32) and not F.uses_kernels(np.float64)
    params, x, state0, dhs, dstate_T = _problem(7, 5, 4, 6, dtype="float32", seed=4, random_state=random_state)
    fast, cache = _results(F, params, x, state0, dhs, dstate_T, truncate)
    assert isinstance(cache, K.LSTMRowsCache)
    ref = _reference(params, x, state0, dhs, dstate_T, truncate)
    for k in ref:
        assert fast[k].dtype == np.float32, k
        np.testing.assert_allclose(fast[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_one_thread_or_two_bitwise_identical(monkeypatch):
    """With the work forced into two blocks (N = 32: rows 0-15 and 16-31; steps and gate rows in
    halves after the loop), limit_engine_threads(1) and limit_engine_threads(2) give bitwise the
    same float32 forward and backward results, and the second block really runs on the helper
    thread in the latter."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    T, N, D, H = 5, 32, 4, 6
    assert K.split(N, K._flops(T, N, D, H)) == [(0, 16), (16, 32)]
    parallel = spy_on_lanes(monkeypatch)
    params, x, state0, dhs, dstate_T = _problem(T, N, D, H, dtype="float32", seed=5)
    with limit_engine_threads(1):
        inline, _ = _results(F, params, x, state0, dhs, dstate_T, 2)
    assert parallel and not any(parallel)
    parallel.clear()
    with limit_engine_threads(2):
        threaded, _ = _results(F, params, x, state0, dhs, dstate_T, 2)
    assert any(parallel), "the helper thread never ran a block"
    for k in inline:
        assert np.array_equal(threaded[k], inline[k]), k


def _float32_grid():
    """Every float32 of a dense grid of [-10, 10], small magnitudes of both signs, 0 and -0."""
    small = np.logspace(-38, -3, 20_001).astype(np.float32)
    return np.concatenate([np.linspace(-10.0, 10.0, 2_000_001).astype(np.float32), small, -small,
                           np.float32([0.0, -0.0])])


def test_tanh_f32_within_one_ulp():
    """kernels.tanh_f32 is within 1 ulp (the float32 spacing at its result) of the exact tanh
    (np.tanh in float64) on every point of the grid, never exceeds 1 in magnitude, is odd, and
    keeps the sign of zero.

    For comparison (not asserted): NumPy's own float32 np.tanh is within 1.36 ulp on this grid
    (worst near x = -0.502; NumPy 2.4.6); kernels.tanh_f32 within 0.93 ulp."""
    x = _float32_grid()
    y = K.tanh_f32(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    exact = np.tanh(x.astype(np.float64))
    ulps = np.abs(y.astype(np.float64) - exact) / np.spacing(np.abs(y)).astype(np.float64)
    worst = int(np.argmax(ulps))
    assert ulps[worst] <= 1.0, (float(x[worst]), float(y[worst]), float(exact[worst]), float(ulps[worst]))
    assert np.all(np.abs(y) <= 1.0)
    assert np.array_equal(K.tanh_f32(-x), -y)
    assert np.array_equal(np.signbit(y), np.signbit(x))  # tanh(-0.0) is -0.0


def test_tanh_f32_nan_and_infinities():
    """NaN stays NaN (the clamp's comparisons are false for NaN), and the infinities give a
    value within 1 ulp of +-1."""
    y = K.tanh_f32(np.float32([np.nan, -np.nan, np.inf, -np.inf]))
    assert np.all(np.isnan(y[:2]))
    np.testing.assert_allclose(y[2:], [1.0, -1.0], rtol=0, atol=float(np.spacing(np.float32(1))))


def test_tanh_f32_saturates_to_exactly_one():
    """+inf and -inf give exactly +1 and -1, as does every |x| from 9.02 up (float32's tanh
    rounds to 1 there: 1 - tanh(x) < 2^-25 for x > 13 ln 2)."""
    x = np.float32([9.02, 10.0, 100.0, np.inf])
    assert np.array_equal(np.tanh(x.astype(np.float64)).astype(np.float32), np.ones(4, np.float32))
    np.testing.assert_array_equal(K.tanh_f32(x), np.ones(4, np.float32))
    np.testing.assert_array_equal(K.tanh_f32(-x), -np.ones(4, np.float32))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_input_is_not_swallowed(dtype):
    """A NaN in x at step 2 of batch row 0 makes that row's h_2..h_T NaN (every unit) and leaves
    the other rows and the earlier steps finite."""
    params, x, state0, _, _ = _problem(5, 3, 4, 6, dtype=dtype, seed=6)
    x[2, 0, 1] = np.nan
    hs, _ = K.lstm_forward(params, x, state0)
    assert np.all(np.isnan(hs[2:, 0]))
    assert np.all(np.isfinite(hs[:2])) and np.all(np.isfinite(hs[:, 1:]))


def test_hs_read_only_and_final_state_equals_reference():
    """The returned hs is part of the cache, hence read-only; cache.final_state() is (h_T, c_T)
    as new arrays, equal to the reference's last carry."""
    params, x, state0, _, _ = _problem(4, 3, 2, 5, seed=7)
    hs, cache = K.lstm_forward(params, x, state0)
    assert not hs.flags.writeable
    with pytest.raises(ValueError):
        hs[0, 0, 0] = 1.0
    h_T, c_T = cache.final_state()
    ref_hs, ref_cache = R.lstm_forward(params, x, state0)
    ref_h_T, ref_c_T = ref_cache.carries[-1]
    np.testing.assert_allclose(hs, ref_hs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_T, ref_h_T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_T, ref_c_T, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(h_T, hs[-1])
    h_T[:] = 0.0  # a copy: the cache is untouched
    assert not np.array_equal(cache.final_state()[0], h_T)


def test_float32_layer_forward_backward():
    """rnnlab.scratch.LSTM in float32 runs the kernels: forward then backward work, everything
    stays float32 and finite, and the final state equals the reference's (float64, same weights
    and inputs) to float32 precision."""
    N, T, D, H = 3, 5, 4, 6
    layer = LSTM(D, H, seed=0, dtype=np.float32)
    x = np.random.default_rng(8).standard_normal((N, T, D)).astype(np.float32)
    hs, cache = layer.forward(x)
    assert isinstance(cache.cell, K.LSTMRowsCache)
    assert hs.shape == (N, T, H) and hs.dtype == np.float32
    dx, (dh0, dc0) = layer.backward(np.ones_like(hs), cache)
    assert dx.shape == x.shape and dx.dtype == np.float32 and np.all(np.isfinite(dx))
    assert dh0.dtype == dc0.dtype == np.float32 and dh0.shape == dc0.shape == (N, H)
    for name, g in layer.grads.items():
        assert g.dtype == np.float32 and np.all(np.isfinite(g)), name
    zeros = np.zeros((N, H))
    _, ref_cache = R.lstm_forward(as64(layer.params), x.transpose(1, 0, 2).astype(np.float64), (zeros, zeros))
    for got, want in zip(cache.final_state, ref_cache.carries[-1]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_fit_tanh_reproduces_kernel_constants():
    """scripts/fit_tanh.py's fit() gives kernels.TANH_P and TANH_Q to 1e-6 relative, with a
    maximum relative error of about 1.28e-9."""
    spec = importlib.util.spec_from_file_location("fit_tanh", ROOT / "scripts" / "fit_tanh.py")
    fit_tanh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_tanh)
    P, Q, max_rel_error = fit_tanh.fit()
    assert fit_tanh.X_MAX == K.TANH_CLAMP
    assert len(P) == len(K.TANH_P) and len(Q) == len(K.TANH_Q) and Q[0] == 1.0
    np.testing.assert_allclose(P, K.TANH_P, rtol=1e-6, atol=0)
    np.testing.assert_allclose(Q, K.TANH_Q, rtol=1e-6, atol=0)
    assert 1.2e-9 < max_rel_error < 1.35e-9



PROJECTIONS = {  # the constants that force each way of computing W_ih x_t at D = 3
    "in the loop": {"PROJECT_IN_LOOP_D": 32, "PROJECT_WIDE_D": 10**9},
    "per block, all steps first": {"PROJECT_IN_LOOP_D": 0, "PROJECT_WIDE_D": 10**9},
    "one product over all steps": {"PROJECT_IN_LOOP_D": 0, "PROJECT_WIDE_D": 1},
}


@pytest.mark.parametrize("path", list(PROJECTIONS))
@pytest.mark.parametrize("N,forced", [(5, False), (17, True)])
def test_every_input_projection_path_equals_reference(path, N, forced, monkeypatch):
    """The LSTM computes W_ih x_t inside its loop (narrow inputs), per batch block before the loop,
    or as one product over all steps laid out per block after (wide inputs, narrow batches): each
    path, forced by its constants, gives the reference's numbers to 1e-10 in float64, in one
    batch block or two."""
    for name, value in PROJECTIONS[path].items():
        monkeypatch.setattr(K, name, value)
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    params, x, state0, dhs, dstate_T = _problem(4, N, D64, H64, seed=21 + N)
    fast, _ = _results(K, params, x, state0, dhs, dstate_T, 2)
    ref = _reference(params, x, state0, dhs, dstate_T, 2)
    errors = {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}
    assert max(errors.values()) < 1e-10, errors
