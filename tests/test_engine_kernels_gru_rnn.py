"""The compiled GRU (PyTorch's variant) and vanilla RNN loops (scratch.kernels) compute exactly the
reference path's mathematics (scratch.reference): in float64 to rounding, with the batch in one
block or two; in float32, through scratch.functional, to float32's precision. One thread or two
give bitwise the same numbers, NaN propagates, hs is read-only, and the float32 layers run them."""

import itertools

import numpy as np
import pytest

from engine_helpers import as64, spy_on_lanes
from rnnlab.scratch import GRU, RNN
from rnnlab.scratch import functional as F
from rnnlab.scratch import kernels as K
from rnnlab.scratch import reference as R
from rnnlab.threads import limit_engine_threads

GATES = {"gru": 3, "rnn": 1}
# (cell, option): the GRU's variant, the RNN's nonlinearity. The kernels run the GRU in torch's variant only.
CELLS = [("gru", "torch"), ("rnn", "tanh"), ("rnn", "relu")]
CELL_IDS = ["gru", "rnn-tanh", "rnn-relu"]


def _problem(cell, T, N, D, H, dtype="float64", seed=0, random_state=True):
    """Parameters (torch's layout, U(-1/sqrt(H), 1/sqrt(H))), x, h0, dhs and dh_T."""
    rng = np.random.default_rng(seed)
    G, k = GATES[cell], 1.0 / np.sqrt(H)
    params = {
        R.W_IH: rng.uniform(-k, k, (G * H, D)), R.W_HH: rng.uniform(-k, k, (G * H, H)),
        R.B_IH: rng.uniform(-k, k, G * H), R.B_HH: rng.uniform(-k, k, G * H),
    }
    params = {name: p.astype(dtype) for name, p in params.items()}
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    h0 = (rng.standard_normal((N, H)) * 0.5).astype(dtype) if random_state else np.zeros((N, H), dtype)
    dh_T = (rng.standard_normal((N, H)) * 0.5).astype(dtype)
    return params, x, h0, dhs, dh_T


def _forward(module, cell, option, params, x, h0):
    fn = getattr(module, cell + "_forward")
    if module is K and cell == "gru":  # the kernels' GRU has no variant argument (torch's only)
        assert option == "torch"
        return fn(params, x, h0)
    return fn(params, x, h0, option)


def _results(module, cell, option, params, x, h0, dhs, dh_T, truncate):
    """Every output of one forward and backward pass, by name, and the forward's cache."""
    hs, cache = _forward(module, cell, option, params, x, h0)
    result = getattr(module, cell + "_backward")(params, dhs, cache, dh_T, truncate)
    return {"hs": hs, "dx": result.dx, "dh": result.dh, "dh0": result.dstate0, **result.grads}, cache


def _reference(cell, option, params, x, h0, dhs, dh_T, truncate):
    """The reference path's outputs in float64 (from float64 copies of the inputs)."""
    out, _ = _results(R, cell, option, as64(params), as64(x), as64(h0), as64(dhs), as64(dh_T), truncate)
    return out


def _max_errors(fast, ref):
    assert fast.keys() == ref.keys()
    assert set(R.PARAM_NAMES) <= ref.keys()
    for k in ref:
        assert fast[k].shape == ref[k].shape, k
    return {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}


# --------------------------------------------------------------------------------------------
# float64: the kernels called directly equal the reference
# --------------------------------------------------------------------------------------------

H64, D64 = 5, 3
# (N, forced, blocks): N = 3 stays one block even when forced (< 2 MIN_BLOCK rows); 17 rows are
# one block at the real threshold and two (8 + 9) when THREAD_MIN_FLOPS is forced to 0.
BATCHES = [(3, True, 1), (17, False, 1), (17, True, 2)]
CASES_64 = [
    (cell, option, N, forced, blocks, T, truncate, random_state, with_dh_T)
    for (cell, option), (N, forced, blocks), T, truncate, random_state, with_dh_T
    in itertools.product(CELLS, BATCHES, [1, 6], [None, 1, 3], [False, True], [False, True])
]


@pytest.mark.parametrize("cell,option,N,forced,blocks,T,truncate,random_state,with_dh_T", CASES_64)
def test_kernels_equal_reference_in_float64(cell, option, N, forced, blocks, T, truncate, random_state, with_dh_T,
                                            monkeypatch):
    """kernels.gru_forward/gru_backward and rnn_forward/rnn_backward (tanh and relu) called
    directly in float64 give the reference's hs, dx, dL/dh_0, all four parameter gradients and
    the total dL/dh_t to 1e-10 (max abs), with the batch in one block or two, T = 1 or 6, for
    every truncation, zero or random h0, and with or without a final-state gradient dh_T."""
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    assert len(K.split(N, K._flops(T, N, D64, H64, GATES[cell]))) == blocks
    params, x, h0, dhs, dh_T = _problem(cell, T, N, D64, H64, seed=10 * T + N, random_state=random_state)
    dh_T = dh_T if with_dh_T else None
    fast, cache = _results(K, cell, option, params, x, h0, dhs, dh_T, truncate)
    assert isinstance(cache, K.GRURowsCache if cell == "gru" else K.RNNRowsCache)
    ref = _reference(cell, option, params, x, h0, dhs, dh_T, truncate)
    for k in ref:
        assert fast[k].dtype == np.float64, k
    errors = _max_errors(fast, ref)
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("T,N,H", [(1, 17, 2), (6, 17, 2), (1, 17, 17), (6, 17, 17), (3, 17, 22), (3, 16, 65)])
@pytest.mark.parametrize("truncate", [None, 2])
def test_split_with_small_and_wide_hidden_layers(cell, option, T, N, H, truncate, monkeypatch):
    """With the work forced into two blocks, the steps and the gate rows after the loop are cut
    independently (the GRU's rows in three blocks: r and z on both sides, n on the input side,
    W_hn h + b_hn on the recurrent side): H = 2 (no gate-row block is cut; T = 6 cuts the steps,
    T = 1 does not) and H = 17 (every gate-row block cut: 34 + 17 + 17 GRU rows, 17 RNN rows).
    H = 22 (66 GRU rows) and H = 65 (65 RNN rows) need more than one GEMM_ROWS-row BLAS call per
    recurrent product. Every output still equals the reference to 1e-10 in float64."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    assert len(K.split(N, K._flops(T, N, 3, H, GATES[cell]))) == 2
    params, x, h0, dhs, dh_T = _problem(cell, T, N, 3, H, seed=100 + T + H)
    fast, _ = _results(K, cell, option, params, x, h0, dhs, dh_T, truncate)
    ref = _reference(cell, option, params, x, h0, dhs, dh_T, truncate)
    errors = _max_errors(fast, ref)
    assert max(errors.values()) < 1e-10, errors


# --------------------------------------------------------------------------------------------
# float32 through scratch.functional
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("N,forced", [(5, False), (17, True)])
@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("random_state", [False, True])
def test_float32_through_functional_close_to_reference(cell, option, N, forced, truncate, random_state, monkeypatch):
    """functional.gru_forward/gru_backward (torch's variant) and rnn_forward/rnn_backward run the
    kernels for float32 (the caches are kernels.GRURowsCache / kernels.RNNRowsCache), in one block
    or two, and agree with the reference computed in float64 from the same float32 inputs to
    float32 precision (rtol 1e-4, atol 1e-5); every output is float32."""
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    assert F.uses_kernels(np.float32) and not F.uses_kernels(np.float64)
    params, x, h0, dhs, dh_T = _problem(cell, 7, N, 4, 6, dtype="float32", seed=4 + N, random_state=random_state)
    fast, cache = _results(F, cell, option, params, x, h0, dhs, dh_T, truncate)
    assert isinstance(cache, K.GRURowsCache if cell == "gru" else K.RNNRowsCache)
    ref = _reference(cell, option, params, x, h0, dhs, dh_T, truncate)
    assert fast.keys() == ref.keys()
    for k in ref:
        assert fast[k].dtype == np.float32, k
        np.testing.assert_allclose(fast[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("truncate", [None, 2])
def test_float32_cho_gru_stays_on_numpy_and_matches_reference(truncate):
    """The Cho GRU in float32 does not run the kernels: functional.gru_forward returns a
    functional.GRUCache, and the results agree with the reference's Cho GRU in float64 from the
    same float32 inputs to float32 precision (rtol 1e-4, atol 1e-5)."""
    params, x, h0, dhs, dh_T = _problem("gru", 7, 5, 4, 6, dtype="float32", seed=11)
    fast, cache = _results(F, "gru", "cho", params, x, h0, dhs, dh_T, truncate)
    assert isinstance(cache, F.GRUCache) and not isinstance(cache, K.GRURowsCache)
    assert cache.variant == "cho"
    ref = _reference("gru", "cho", params, x, h0, dhs, dh_T, truncate)
    assert fast.keys() == ref.keys()
    for k in ref:
        assert fast[k].dtype == np.float32, k
        np.testing.assert_allclose(fast[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


# --------------------------------------------------------------------------------------------
# One thread or two
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
def test_one_thread_or_two_bitwise_identical(cell, option, monkeypatch):
    """With the work forced into two blocks (N = 32: rows 0-15 and 16-31; steps and gate rows in
    halves after the loop), limit_engine_threads(1) and limit_engine_threads(2) give bitwise the
    same float32 forward and backward results through scratch.functional, and the second block
    really runs on the helper thread in the latter."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    T, N, D, H = 5, 32, 4, 17
    assert K.split(N, K._flops(T, N, D, H, GATES[cell])) == [(0, 16), (16, 32)]
    parallel = spy_on_lanes(monkeypatch)
    params, x, h0, dhs, dh_T = _problem(cell, T, N, D, H, dtype="float32", seed=5)
    with limit_engine_threads(1):
        inline, cache = _results(F, cell, option, params, x, h0, dhs, dh_T, 2)
    assert isinstance(cache, K.GRURowsCache if cell == "gru" else K.RNNRowsCache)
    assert parallel and not any(parallel)
    parallel.clear()
    with limit_engine_threads(2):
        threaded, _ = _results(F, cell, option, params, x, h0, dhs, dh_T, 2)
    assert any(parallel), "the helper thread never ran a block"
    assert inline.keys() == threaded.keys()
    for k in inline:
        assert threaded[k].dtype == np.float32, k
        assert np.array_equal(threaded[k], inline[k]), k


# --------------------------------------------------------------------------------------------
# NaN, read-only hs, final state
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_input_is_not_swallowed(cell, option, dtype):
    """A NaN in x at step 2 of batch row 0 makes that row's h_2..h_T NaN (every unit; for the
    relu RNN too: max(NaN, 0) is NaN, not 0) and leaves the other rows and the earlier steps
    finite."""
    params, x, h0, _, _ = _problem(cell, 5, 3, 4, 6, dtype=dtype, seed=6)
    x[2, 0, 1] = np.nan
    hs, _ = _forward(K, cell, option, params, x, h0)
    assert np.all(np.isnan(hs[2:, 0]))
    assert np.all(np.isfinite(hs[:2])) and np.all(np.isfinite(hs[:, 1:]))


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hs_read_only_and_final_state_is_a_copy(cell, option, dtype):
    """The returned hs is part of the cache, hence read-only (writing raises ValueError);
    cache.final_state() is h_T as a new array, equal to hs[-1] and to the reference's last carry
    (1e-12 in float64, float32 precision in float32)."""
    params, x, h0, _, _ = _problem(cell, 4, 3, 2, 5, dtype=dtype, seed=7)
    hs, cache = _forward(K, cell, option, params, x, h0)
    assert hs.dtype == np.dtype(dtype) and hs.shape == (4, 3, 5)
    assert not hs.flags.writeable
    with pytest.raises(ValueError):
        hs[0, 0, 0] = 1.0
    h_T = cache.final_state()
    assert h_T.dtype == np.dtype(dtype) and h_T.shape == (3, 5)
    np.testing.assert_array_equal(h_T, hs[-1])
    ref_hs, ref_cache = _forward(R, cell, option, as64(params), as64(x), as64(h0))
    tol = {"rtol": 0, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}
    np.testing.assert_allclose(hs, ref_hs, **tol)
    np.testing.assert_allclose(h_T, ref_cache.carries[-1], **tol)
    assert h_T.flags.writeable and not np.shares_memory(h_T, hs)
    h_T[:] = 0.0  # a copy: the cache and hs are untouched
    assert not np.array_equal(cache.final_state(), h_T)
    np.testing.assert_array_equal(cache.final_state(), hs[-1])


# --------------------------------------------------------------------------------------------
# The float32 layers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
def test_float32_layer_forward_backward(cell, option):
    """rnnlab.scratch.GRU and RNN (tanh, relu) in float32 run the kernels: forward then backward
    work, everything stays float32 and finite, and the final state equals the reference's
    (float64, same weights and inputs) to float32 precision."""
    N, T, D, H = 3, 5, 4, 6
    if cell == "gru":
        layer = GRU(D, H, seed=0, dtype=np.float32)
    else:
        layer = RNN(D, H, seed=0, dtype=np.float32, nonlinearity=option)
    x = np.random.default_rng(8).standard_normal((N, T, D)).astype(np.float32)
    hs, cache = layer.forward(x)
    assert isinstance(cache.cell, K.GRURowsCache if cell == "gru" else K.RNNRowsCache)
    assert hs.shape == (N, T, H) and hs.dtype == np.float32 and np.all(np.isfinite(hs))
    dx, dh0 = layer.backward(np.ones_like(hs), cache)
    assert dx.shape == x.shape and dx.dtype == np.float32 and np.all(np.isfinite(dx))
    assert dh0.shape == (N, H) and dh0.dtype == np.float32 and np.all(np.isfinite(dh0))
    assert layer.grads.keys() == set(R.PARAM_NAMES)
    for name, g in layer.grads.items():
        assert g.dtype == np.float32 and g.shape == layer.params[name].shape and np.all(np.isfinite(g)), name
    _, ref_cache = _forward(R, cell, option, as64(layer.params), x.transpose(1, 0, 2).astype(np.float64),
                            np.zeros((N, H)))
    assert cache.final_state.dtype == np.float32
    np.testing.assert_allclose(cache.final_state, ref_cache.carries[-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell,option", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("N,forced", [(5, False), (17, True)])
def test_one_product_over_all_steps_equals_reference(cell, option, N, forced, monkeypatch):
    """With W_ih x_t computed as one product over all steps (the path of wide inputs and narrow
    batches, forced here at D = 3), the kernels give the reference's numbers to 1e-10 in float64."""
    monkeypatch.setattr(K, "PROJECT_WIDE_D", 1)
    if forced:
        monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    params, x, h0, dhs, dh_T = _problem(cell, 4, N, D64, H64, seed=31 + N)
    fast, _ = _results(K, cell, option, params, x, h0, dhs, dh_T, 2)
    errors = _max_errors(fast, _reference(cell, option, params, x, h0, dhs, dh_T, 2))
    assert max(errors.values()) < 1e-10, errors
