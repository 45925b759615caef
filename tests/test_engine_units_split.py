"""The LSTM's backward with its hidden units split between two threads (kernels.units_split:
narrow batches, wide layers; the threads meet at a spin barrier once per step): the reference's
numbers, the batch split's to float32 rounding, bitwise the same numbers on one thread or two,
and no hang when a thread fails."""

import itertools
import threading

import numpy as np
import pytest

from engine_helpers import as64, spy_on_lanes
from rnnlab.scratch import functional as F
from rnnlab.scratch import kernels as K
from rnnlab.scratch import reference as R
from rnnlab.threads import limit_engine_threads


def _problem(T, N, D, H, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    params = {name: rng.uniform(-k, k, shape).astype(dtype)
              for name, shape in ((R.W_IH, (4 * H, D)), (R.W_HH, (4 * H, H)), (R.B_IH, (4 * H,)), (R.B_HH, (4 * H,)))}
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)
    state0 = tuple((rng.standard_normal((N, H)) * 0.5).astype(dtype) for _ in range(2))
    dstate_T = tuple((rng.standard_normal((N, H)) * 0.5).astype(dtype) for _ in range(2))
    return params, x, state0, dhs, dstate_T


def _results(module, params, x, state0, dhs, dstate_T, truncate):
    hs, cache = module.lstm_forward(params, x, state0)
    result = module.lstm_backward(params, dhs, cache, dstate_T, truncate)
    return {"hs": hs, "dx": result.dx, "dh": result.dh, "dh0": result.dstate0[0], "dc0": result.dstate0[1],
            **result.grads}


@pytest.fixture
def units_everywhere(monkeypatch):
    """Every problem big enough to cut (THREAD_MIN_FLOPS 0) splits its units (any H >= 2, any
    batch narrower than 64 rows)."""
    monkeypatch.setattr(K, "THREAD_MIN_FLOPS", 0.0)
    monkeypatch.setattr(K, "UNITS_MIN_H", 2)
    monkeypatch.setattr(K, "UNITS_MAX_HALF", 32)


def test_units_split_rule():
    """Two halves of the units for a narrow batch and a wide layer above the work threshold;
    None (cut the batch) otherwise."""
    big = K.THREAD_MIN_FLOPS
    assert K.units_split(32, 512, big) == [(0, 256), (256, 512)]
    assert K.units_split(63, 300, big) == [(0, 150), (150, 300)]
    assert K.units_split(64, 512, big) is None  # halves of 32 rows: cut the batch
    assert K.units_split(32, 128, big) is None  # too narrow a layer
    assert K.units_split(32, 512, big / 2) is None  # too little work to cut


CASES = list(itertools.product([1, 5], [None, 1, 3], [(4, 7), (9, 6), (17, 6)]))


@pytest.mark.parametrize("T,truncate,shape", CASES)
def test_units_split_equals_reference_in_float64(T, truncate, shape, units_everywhere):
    """With the units split (H = 7: blocks of 3 and 4 units; H = 6: 3 and 3), the float64 results
    are the reference's to 1e-10, on two threads; N = 17 also has the forward's two batch blocks
    of unequal width (8 and 9 rows), which the units loop reads in turn."""
    N, H = shape
    assert K.units_split(N, H, K._flops(T, N, 3, H)) is not None
    assert len(K.split(N, K._flops(T, N, 3, H))) == (2 if N == 17 else 1)
    params, x, state0, dhs, dstate_T = _problem(T, N, 3, H, seed=T * 10 + H)
    with limit_engine_threads(2):
        fast = _results(K, params, x, state0, dhs, dstate_T, truncate)
    ref = _results(R, as64(params), as64(x), as64(state0), as64(dhs), as64(dstate_T), truncate)
    errors = {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}
    assert max(errors.values()) < 1e-10, errors


def test_units_split_bitwise_on_one_thread_or_two_and_threads_really_meet(units_everywhere, monkeypatch):
    """float32 through functional: limit_engine_threads(1) (both unit blocks in one call) and (2)
    (one block per thread, meeting once per step) give bitwise the same numbers, and the helper
    thread really ran a block."""
    parallel = spy_on_lanes(monkeypatch)
    meetings = []
    real_run = K._run_meeting

    def spy(blocks, work):
        meetings.append(blocks)
        real_run(blocks, work)

    monkeypatch.setattr(K, "_run_meeting", spy)
    params, x, state0, dhs, dstate_T = _problem(6, 20, 5, 16, dtype="float32", seed=3)
    with limit_engine_threads(1):
        inline = _results(F, params, x, state0, dhs, dstate_T, 4)
    parallel.clear()
    with limit_engine_threads(2):
        threaded = _results(F, params, x, state0, dhs, dstate_T, 4)
    assert meetings == [[(0, 8), (8, 16)]] * 2
    assert any(parallel), "the helper thread never ran a block"
    for k in inline:
        assert np.array_equal(threaded[k], inline[k]), k


def test_units_split_equals_batch_split_in_float32(units_everywhere, monkeypatch):
    """The units split only changes which thread computes what, and how BLAS's products are cut
    (all N columns at once instead of a batch block's): its float32 results equal the batch
    split's to float32 rounding. Not bitwise: OpenBLAS may take another kernel for 24 columns
    than for 12, and so sum in another order."""
    params, x, state0, dhs, dstate_T = _problem(5, 24, 6, 12, dtype="float32", seed=8)
    with limit_engine_threads(2):
        units = _results(K, params, x, state0, dhs, dstate_T, 2)
        monkeypatch.setattr(K, "UNITS_MIN_H", 10_000)
        batch = _results(K, params, x, state0, dhs, dstate_T, 2)
    for k in units:
        np.testing.assert_allclose(units[k], batch[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_a_failing_thread_does_not_leave_the_other_waiting(units_everywhere, monkeypatch):
    """If the helper's block raises before it reaches the barrier, the main thread stops waiting
    (the give-up flag) and the error is raised: no hang."""
    real_loop = K._lstm_backward_units

    calls = []

    def failing(*args):
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "rnnlab-engine-lane":
            raise RuntimeError("helper failed")
        return real_loop(*args)

    monkeypatch.setattr(K, "_lstm_backward_units", failing)
    params, x, state0, dhs, dstate_T = _problem(4, 10, 3, 8, seed=2)
    _, cache = K.lstm_forward(params, x, state0)
    outcome = []

    def run():
        try:
            with limit_engine_threads(2):
                K.lstm_backward(params, dhs, cache, dstate_T)
        except RuntimeError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=run, name="caller", daemon=True)  # a hang fails the test instead of the suite
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "lstm_backward hung after the helper thread failed"
    assert outcome == ["helper failed"]
    assert sorted(calls) == ["caller", "rnnlab-engine-lane"]  # the caller's block ran and gave up
